"""`manage.py seed_demo [--force]`: demo providers and models for a fresh install (SPEC §9).

Idempotent: it only adds rows, and only to a configuration without providers
(unless `--force`), so `make run` can run it every time.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from providers.demo import seed_demo
from providers.exceptions import ConfigError


class Command(BaseCommand):
    help = "Add demo providers (OpenAI, Anthropic, Ollama, Echo) and models, with echo/echo-1 as the default."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Also when providers exist: add the demo providers that are missing (existing rows are kept).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = seed_demo(force=options["force"])
        except (ValidationError, ConfigError) as exc:
            raise CommandError(f"Demo data not added: {'; '.join(getattr(exc, 'messages', [str(exc)]))}") from exc
        for note in report.notes:
            self.stderr.write(f"Note: {note}")
        if report.skipped:
            self.stdout.write(f"Demo data skipped: {report.skipped}.")
            return
        if not report.providers:
            self.stdout.write("Demo data already present: nothing added.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {len(report.providers)} demo provider(s) ({', '.join(report.providers)}) "
                f"and {len(report.models)} model(s)."
            )
        )
        if report.default_model:
            self.stdout.write(f"Default model: {report.default_model}")
