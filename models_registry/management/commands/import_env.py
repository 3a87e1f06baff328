"""`manage.py import_env [--dry-run]`: seed from MODELS (or OPENAI_MODELS/ANTHROPIC_MODELS) and DEFAULT_MODEL."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from models_registry.env_import import EnvImportError, import_env
from models_registry.management.commands._common import warn
from providers.exceptions import ConfigError


class Command(BaseCommand):
    help = "Create providers and models named by MODELS (or the legacy lists) and set DEFAULT_MODEL."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Print the changes; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = import_env(dry_run=options["dry_run"])
        except EnvImportError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        except ConfigError as exc:
            raise CommandError(exc.message) from None
        for warning in report.warnings:
            warn(self, warning)
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
        for line in report.lines():
            self.stdout.write(line)
