"""`manage.py export_providers [FILE | -] [--include-keys]` (SPEC §8): no key unless asked."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from models_registry.yaml_io import ExportError, export_providers


class Command(BaseCommand):
    help = "Export providers and models as a YAML providers file (to FILE, or stdout with - or nothing)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", nargs="?", default="-", help="Where to write (default: - for stdout).")
        parser.add_argument(
            "--include-keys", action="store_true", help="Write the providers' API keys in plain text (careful)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = export_providers(include_keys=options["include_keys"])
        except ExportError as exc:
            raise CommandError(str(exc)) from None
        name = options["file"]
        if name == "-":
            self.stdout.write(text, ending="")
            return
        try:
            # Owner-only when the file holds keys.
            mode = 0o600 if options["include_keys"] else 0o644
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            if options["include_keys"]:
                os.fchmod(fd, mode)  # an existing file keeps its mode otherwise
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise CommandError(f"{name}: cannot write the file: {exc.strerror}") from None
        self.stderr.write(f"Exported the configuration to {name}" + (" (with keys)" if options["include_keys"] else ""))
