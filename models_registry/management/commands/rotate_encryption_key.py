"""`manage.py rotate_encryption_key [--dry-run]`: re-encrypt every secret with the first FIELD_ENCRYPTION_KEYS key.

Rotation: put the new key first in FIELD_ENCRYPTION_KEYS (keep the old one after
it), run this command, then remove the old key. One transaction: if any secret
cannot be decrypted, nothing is changed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from models_registry import services


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS (one transaction)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Check that every secret decrypts; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = services.secrets_rotate(dry_run=options["dry_run"])
        except services.RotationError as exc:
            raise CommandError(str(exc)) from None
        for line in done:
            self.stdout.write(f"  {line}")
        verb = "Would re-encrypt" if options["dry_run"] else "Re-encrypted"
        self.stdout.write(f"{verb} {len(done)} secret(s) with the first key of FIELD_ENCRYPTION_KEYS.")
