"""`manage.py create_api_key NAME --user U --scopes read,chat[,admin] [--expires DAYS]`.

Prints the new key alone on stdout (so `KEY=$(manage.py create_api_key …)` works),
and a line about it on stderr. The key is never shown again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from access import services

MAX_EXPIRY_DAYS = 36500


class Command(BaseCommand):
    help = "Create a gateway API key for a user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name to recognise the key by (e.g. the client using it).")
        parser.add_argument("--user", required=True, help="Username of the key's owner.")
        parser.add_argument("--scopes", required=True, help=f"Comma-separated scopes: {', '.join(services.SCOPES)}.")
        parser.add_argument("--expires", type=int, metavar="DAYS", help="Expire after this many days.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: options["user"]})
        except user_model.DoesNotExist as exc:
            raise CommandError(f"Unknown user: {options['user']}") from exc
        expires_at = None
        if options["expires"] is not None:
            days = options["expires"]
            if not 1 <= days <= MAX_EXPIRY_DAYS:
                raise CommandError(f"--expires must be a number of days from 1 to {MAX_EXPIRY_DAYS}.")
            expires_at = timezone.now() + timedelta(days=days)
        try:
            key, raw = services.api_key_create(
                name=options["name"], user=user, scopes=options["scopes"], expires_at=expires_at
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(f"Cannot create the key: {problems}") from exc
        self.stderr.write(
            f"Created API key {key.name!r} ({key.prefix}) for {user} with scopes {', '.join(key.scopes)}"
            f"{f', expiring {key.expires_at:%Y-%m-%d %H:%M} UTC' if key.expires_at else ''}. "
            "It is shown only once: store it now."
        )
        self.stdout.write(raw)
