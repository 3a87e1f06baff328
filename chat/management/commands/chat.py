"""`manage.py chat [-m MODEL] [--system S] [--no-stream] PROMPT`: one prompt through the gateway's dispatcher.

The answer streams to stdout as it arrives (shown reasoning goes to stderr, so
stdout is the answer alone); a failure is one line on stderr and exit status 1.
The request is logged like any other (source `python`).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat import request_log, service
from chat.errors import ChatError


class Command(BaseCommand):
    help = "Send one prompt to a model (default: the default model) and print the answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt", nargs="+", help="The prompt (several words are joined with spaces).")
        parser.add_argument("-m", "--model", help="provider/model, a model id or an alias (default: the default one).")
        parser.add_argument("--system", help="A system prompt.")
        parser.add_argument("--no-stream", action="store_true", help="Wait for the whole answer, then print it.")

    def handle(self, *args: Any, **options: Any) -> None:
        prompt = " ".join(options["prompt"])
        request = {"prompt": prompt, "model": options["model"], "system": options["system"]}
        try:
            if options["no_stream"]:
                self._print_answer(service.complete(**request))
            else:
                self._print_stream(service.stream(**request))
        except ChatError as exc:
            raise CommandError(f"{exc.info.message} ({exc.info.category}, HTTP {exc.info.status_code})") from None
        finally:
            request_log.flush()

    def _print_answer(self, answer: dict[str, Any]) -> None:
        message = answer["choices"][0]["message"]
        if message.get("reasoning_content"):
            self.stderr.write(message["reasoning_content"])
        self.stdout.write(message.get("content") or "")
        for call in message.get("tool_calls") or ():
            self.stdout.write(f"[tool call] {call['function']['name']}({call['function']['arguments']})")

    def _print_stream(self, chunks: Any) -> None:
        wrote_any = False
        calls: dict[int, tuple[str, str]] = {}
        for chunk in chunks:
            for choice in chunk["choices"]:
                delta = choice["delta"]
                if delta.get("reasoning_content"):
                    self.stderr.write(delta["reasoning_content"], ending="")
                    self.stderr.flush()
                if delta.get("content"):
                    self.stdout.write(delta["content"], ending="")
                    self.stdout.flush()
                    wrote_any = True
                for call in delta.get("tool_calls") or ():
                    function = call.get("function") or {}
                    name, arguments = calls.get(call["index"], ("", ""))
                    calls[call["index"]] = (
                        name + (function.get("name") or ""),
                        arguments + (function.get("arguments") or ""),
                    )
        if wrote_any:
            self.stdout.write("")
        for name, arguments in calls.values():
            self.stdout.write(f"[tool call] {name}({arguments})")
        sys.stdout.flush()
