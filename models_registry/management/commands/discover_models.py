"""`manage.py discover_models [--provider SLUG] [--force] [--validate] [--dry-run] [--json]` (SPEC §7, §9)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from models_registry.discovery import discover_models
from models_registry.management.commands._common import progress, warn, write_json
from providers.snapshot import get_snapshot


class Command(BaseCommand):
    help = "List each active provider's upstream models and merge them in (optionally validating them)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--provider", metavar="SLUG", help="Only this provider (default: every active one).")
        parser.add_argument("--force", action="store_true", help="Bypass the 5-minute listing cache; re-validate all.")
        parser.add_argument("--validate", action="store_true", help="Send new models a tiny ping request.")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; write nothing.")
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")
        parser.add_argument("--concurrency", type=int, help="Validation requests at once (default 8).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["concurrency"] is not None and options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")
        snapshot = get_snapshot()
        if options["provider"]:
            info = snapshot.provider_by_slug.get(options["provider"])
            if info is None:
                raise CommandError(f"No provider with slug {options['provider']!r}.")
            targets = [info]
        else:
            targets = snapshot.active_providers()
            for info in snapshot.providers.values():
                if not info.is_active:
                    progress(self, f"skipping {info.slug}: inactive ({info.inactive_reason})")
            if not targets:
                raise CommandError("No active provider to discover (enable one and give it an API key).")
        results = []
        for position, info in enumerate(targets, 1):
            progress(self, f"[{position}/{len(targets)}] {info.slug}: listing models…")
            result = discover_models(
                info,
                force=options["force"],
                validate=options["validate"],
                dry_run=options["dry_run"],
                concurrency=options["concurrency"],
            )
            results.append(result)
            if not options["json"]:
                self.stdout.write(result.summary())
                for entry in result.rejected:
                    self.stdout.write(f"  x {entry['model_id'] or '(no id)'}: {entry['reason']}")
                if options["verbosity"] >= 2:
                    for model_id in result.added:
                        self.stdout.write(f"  + {model_id}")
                    for model_id in result.invalid:
                        self.stdout.write(f"  ! {model_id} (invalid)")
                    for model_id in result.missing:
                        self.stdout.write(f"  - {model_id} (no longer listed)")
            for warning in result.warnings:
                warn(self, f"{info.slug}: {warning}")
        if options["json"]:
            write_json(self, {"ok": all(r.ok for r in results), "providers": [r.as_dict() for r in results]})
        failed = [r for r in results if not r.ok]
        if failed:
            raise CommandError(
                "discovery failed for " + "; ".join(f"{r.provider}: {' '.join(r.errors)}" for r in failed)
            )
