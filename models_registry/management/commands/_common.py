"""What every command of this app shares: one JSON document on stdout, progress on stderr, exit codes."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand


def write_json(command: BaseCommand, document: Any) -> None:
    """Exactly one JSON document on stdout (progress and warnings go to stderr)."""
    command.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str))


def progress(command: BaseCommand, message: str) -> None:
    """A progress line on stderr, only when stderr is a terminal (scripts get clean output)."""
    if command.stderr.isatty():
        command.stderr.write(message)


def warn(command: BaseCommand, message: str) -> None:
    command.stderr.write(command.style.WARNING(f"warning: {message}"))
