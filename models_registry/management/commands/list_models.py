"""`manage.py list_models [--all] [--json]`: the models, like `llm models`; `*` marks the default."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from models_registry import selectors
from models_registry.management.commands._common import write_json


class Command(BaseCommand):
    help = "List models: qualified id, alias, status; * marks the default. --all includes disabled and inactive."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--all", action="store_true", help="Include disabled models and inactive providers.")
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        rows = selectors.model_rows(include_all=options["all"])
        if options["json"]:
            write_json(self, {"default_model": selectors.default_model_id(), "models": rows})
            return
        if not rows:
            self.stderr.write("No models." + ("" if options["all"] else " (--all shows disabled and inactive ones)"))
            return
        width = max(len(r["qualified_id"]) for r in rows)
        alias_width = max(len(r["alias"] or "-") for r in rows)
        for row in rows:
            mark = "*" if row["is_default"] else " "
            notes = []
            if not row["is_enabled"]:
                notes.append("disabled")
            if not row["provider_active"]:
                notes.append(f"provider inactive: {row['inactive_reason']}")
            line = f"{mark} {row['qualified_id']:<{width}}  {row['alias'] or '-':<{alias_width}}  {row['status']}"
            if notes:
                line += f"  ({'; '.join(notes)})"
            self.stdout.write(line.rstrip())
