"""A strict, bounded YAML loader for files operators hand us.

`yaml.safe_load` semantics (no Python tags, no object construction), plus:
duplicate keys are an error (PyYAML silently keeps the last one), the document is
bounded in bytes and in *expanded* size, so an alias bomb ("billion laughs") is
refused while it is being composed, before anything walks it; errors carry the
line number.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

#: Largest file accepted (bytes): a 1000-model file is ~60 KB.
MAX_BYTES = 5 * 1024 * 1024
#: Largest document after alias expansion, in nodes (scalars, lists, mappings).
MAX_NODES = 500_000


class YamlLoadError(ValueError):
    """The text is not a YAML document we accept; the message names the line."""


def _where(mark: Any, source: str) -> str:
    return f"{source}: line {mark.line + 1}, column {mark.column + 1}" if mark is not None else source


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that counts the expanded size of the document and rejects duplicate keys."""

    max_nodes = MAX_NODES

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        is_alias = self.check_event(AliasEvent)
        node = super().compose_node(parent, index)
        weight = getattr(node, "_md_weight", None)
        if weight is None:
            if is_alias:
                # The anchored node is still being composed: the alias points into itself.
                raise yaml.composer.ComposerError(
                    None, None, "a recursive alias is not allowed", getattr(node, "start_mark", None)
                )
            if isinstance(node, SequenceNode):
                weight = 1 + sum(child._md_weight for child in node.value)
            elif isinstance(node, MappingNode):
                weight = 1 + sum(k._md_weight + v._md_weight for k, v in node.value)
            else:
                weight = 1
            node._md_weight = weight
        self._md_total = getattr(self, "_md_total", 0) + (weight if is_alias else 1)
        if weight > self.max_nodes or self._md_total > self.max_nodes:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the document expands to more than {self.max_nodes} values (too many aliases)",
                node.start_mark,
            )
        return node

    def construct_mapping(self, node: Node, deep: bool = False) -> dict:
        if isinstance(node, MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    raise ConstructorError(
                        None, None, "a mapping key must be a plain value", key_node.start_mark
                    ) from None
                if first is not None:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first defined on line {first.line + 1})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    def construct_undefined(self, node: Node) -> Any:
        raise ConstructorError(None, None, f"the tag {node.tag!r} is not allowed", node.start_mark)


_StrictLoader.add_constructor(None, _StrictLoader.construct_undefined)


def load_yaml(text: str | bytes, *, source: str = "<yaml>", max_bytes: int = MAX_BYTES) -> Any:
    """Parse one YAML document strictly; raise YamlLoadError naming the line on any problem."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > max_bytes:
        raise YamlLoadError(f"{source}: the file is {size} bytes, more than the {max_bytes} accepted")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlLoadError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlLoadError(f"{_where(exc.problem_mark, source)}: {problem}") from None
    except yaml.YAMLError as exc:
        raise YamlLoadError(f"{source}: {exc}") from None
    finally:
        loader.dispose()
