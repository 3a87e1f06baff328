"""`manage.py import_providers FILE [--dry-run] [--allow-missing-keys]` (SPEC §8): all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from models_registry.management.commands._common import warn
from models_registry.yaml_io import DocumentErrors, YamlLoadError, import_providers
from models_registry.yaml_io.loader import MAX_BYTES


class Command(BaseCommand):
    help = "Import providers and models from a YAML file (- reads stdin); one transaction, idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="The providers file (YAML), or - for standard input.")
        parser.add_argument("--dry-run", action="store_true", help="Print the changes; write nothing.")
        parser.add_argument(
            "--allow-missing-keys",
            action="store_true",
            help="Import providers whose ${VAR} key reference is unset (keeping any stored key).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["file"]
        if name == "-":
            text = sys.stdin.buffer.read(MAX_BYTES + 1)
            source = "<stdin>"
        else:
            path = Path(name)
            try:
                with path.open("rb") as handle:
                    text = handle.read(MAX_BYTES + 1)  # a larger file is refused by the loader
            except OSError as exc:
                raise CommandError(f"{name}: cannot read the file: {exc.strerror}") from None
            source = path.name
        try:
            report = import_providers(
                text, source=source, dry_run=options["dry_run"], allow_missing_keys=options["allow_missing_keys"]
            )
        except YamlLoadError as exc:
            raise CommandError(str(exc)) from None
        except DocumentErrors as exc:
            count = len(exc.errors)
            raise CommandError(
                f"{source}: {count} problem{'s' if count > 1 else ''}, nothing was imported: {'; '.join(exc.errors)}"
            ) from None
        for warning in report.warnings:
            warn(self, warning)
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
        for line in report.lines():
            self.stdout.write(line)
