"""`manage.py set_default_model MODEL`: make the model a model string names the global default."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from providers import services
from providers.exceptions import ConfigError


class Command(BaseCommand):
    help = "Make MODEL (provider/model, model id or alias) the default model."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("model", help="A model string: provider/model, a model id or an alias.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            model = services.set_default_model_by_string(options["model"])
        except ConfigError as exc:
            raise CommandError(exc.message) from None
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"Default model: {model.qualified_id}")
