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
from yaml.events import CollectionEndEvent, CollectionStartEvent
from yaml.nodes import MappingNode, Node, SequenceNode

#: Largest file accepted (bytes): a 1000-model file is ~60 KB.
MAX_BYTES = 5 * 1024 * 1024
#: Largest document after alias expansion, in nodes (scalars, lists, mappings).
MAX_NODES = 500_000
#: Deepest nesting of lists and mappings (libyaml's composer recurses in C: bound it first).
MAX_DEPTH = 64


class YamlLoadError(ValueError):
    """The text is not a YAML document we accept; the message names the line."""


def _where(mark: Any, source: str) -> str:
    return f"{source}: line {mark.line + 1}, column {mark.column + 1}" if mark is not None else source


_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when available: ~10x faster


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """SafeLoader that rejects duplicate keys and unknown tags (the size check is `_expanded_size`)."""

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


def _check_depth(text: str, limit: int) -> None:
    """Refuse deep nesting from the event stream (iterative), before anything recursive runs."""
    depth = 0
    for event in yaml.parse(text, Loader=_Base):
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > limit:
                raise yaml.composer.ComposerError(
                    None, None, f"the document is nested more than {limit} levels deep", event.start_mark
                )
        elif isinstance(event, CollectionEndEvent):
            depth -= 1


def _expanded_size(root: Node, limit: int) -> None:
    """Count the document's values as if every alias were copied; refuse above `limit` or on a cycle.

    Aliases share one node object, so the graph is small even for a bomb; memoizing
    per node keeps this linear in the text while the count is the expanded size.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise yaml.composer.ComposerError(None, None, "a recursive alias is not allowed", node.start_mark)
        in_progress.add(key)
        if isinstance(node, SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        in_progress.discard(key)
        if total > limit:
            raise yaml.composer.ComposerError(
                None, None, f"the document expands to more than {limit} values (too many aliases)", node.start_mark
            )
        sizes[key] = total
        return total

    size(root)


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
    loader = None
    try:
        _check_depth(text, MAX_DEPTH)
        loader = _StrictLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, MAX_NODES)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlLoadError(f"{_where(exc.problem_mark, source)}: {problem}") from None
    except yaml.YAMLError as exc:  # e.g. a ReaderError (control characters): its text spans lines
        raise YamlLoadError(f"{source}: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise YamlLoadError(f"{source}: the document is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
