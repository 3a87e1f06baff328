"""`manage.py check_providers [--provider SLUG] [--json]`: a connection test per provider.

Exits 1 when an active provider fails; inactive providers are reported, not tested.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from models_registry import services
from models_registry.management.commands._common import progress, write_json
from providers.snapshot import get_snapshot


class Command(BaseCommand):
    help = "Test the connection to each provider (lists its models); exit 1 if an active provider fails."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--provider", metavar="SLUG", help="Only this provider.")
        parser.add_argument("--json", action="store_true", help="Print one JSON document.")

    def handle(self, *args: Any, **options: Any) -> None:
        snapshot = get_snapshot()
        providers = sorted(snapshot.providers.values(), key=lambda p: (p.name.lower(), p.id))
        if options["provider"]:
            providers = [p for p in providers if p.slug == options["provider"]]
            if not providers:
                raise CommandError(f"No provider with slug {options['provider']!r}.")
        if not providers:
            raise CommandError("No provider is configured.")
        rows = []
        for info in providers:
            if info.is_active:
                progress(self, f"testing {info.slug}…")
                outcome = services.test_connection(info)
            else:
                outcome = {"ok": False, "latency_ms": None, "error": f"inactive: {info.inactive_reason}"}
            rows.append({"provider": info.slug, "active": info.is_active, **outcome})
        failed = [r for r in rows if r["active"] and not r["ok"]]
        if options["json"]:
            write_json(self, {"ok": not failed, "providers": rows})
        else:
            width = max(len(r["provider"]) for r in rows)
            for row in rows:
                if row["ok"]:
                    self.stdout.write(f"ok    {row['provider']:<{width}}  {row['latency_ms']:.0f} ms")
                elif row["active"]:
                    self.stdout.write(f"FAIL  {row['provider']:<{width}}  {row['error']}")
                else:
                    self.stdout.write(f"skip  {row['provider']:<{width}}  {row['error']}")
        if failed:
            raise CommandError(f"{len(failed)} active provider(s) failed: {', '.join(r['provider'] for r in failed)}")
