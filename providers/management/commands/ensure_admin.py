"""`manage.py ensure_admin [--username admin]`: the superuser `make run` needs.

Creates the user when it is missing, with the password in `ADMIN_PASSWORD` or a
generated one printed once. An existing user is left alone and nothing secret is
printed for it.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction


class Command(BaseCommand):
    help = "Create the superuser (default `admin`) if it does not exist; password from ADMIN_PASSWORD or generated."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin", help="Username of the superuser (default: admin).")
        parser.add_argument("--email", default="", help="Email address of a new superuser.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username = options["username"]
        lookup = {user_model.USERNAME_FIELD: username}
        with transaction.atomic():
            existing = user_model.objects.select_for_update().filter(**lookup).first()
            if existing is not None:
                kind = "Superuser" if existing.is_superuser else "User (not a superuser)"
                self.stdout.write(f"{kind} {username!r} already exists; password unchanged.")
                return
            password = os.environ.get("ADMIN_PASSWORD", "")
            generated = not password
            if generated:
                password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(**lookup, email=options["email"], password=password)
        if generated:
            self.stdout.write(self.style.SUCCESS(f"Created superuser {username!r} with password: {password}"))
            self.stdout.write("This password is shown once: note it now (or set ADMIN_PASSWORD before the first run).")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"Created superuser {username!r} with the password from ADMIN_PASSWORD.")
            )
