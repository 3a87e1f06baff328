"""Cache invalidation only: a saved or deleted key, or a changed owner, drops the cached lookup.

Signals (as in `providers.signals`) so that changes made outside the services
(the user admin deactivating someone, a shell, a cascade delete) cannot leave a
usable key in the cache.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from access.models import ApiKey
from access.selectors import forget_key


def _key_changed(sender: type, instance: ApiKey, **kwargs: Any) -> None:
    prefix = instance.prefix
    forget_key(prefix)
    transaction.on_commit(lambda: forget_key(prefix))


def _user_changed(sender: type, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    # A new user has no keys; a login only touches last_login, which no key check reads.
    if kwargs.get("created"):
        return
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    from access.services import api_keys_forget_user

    api_keys_forget_user(user_id=instance.pk)


def connect() -> None:
    post_save.connect(_key_changed, sender=ApiKey, dispatch_uid="access-key-saved")
    post_delete.connect(_key_changed, sender=ApiKey, dispatch_uid="access-key-deleted")
    post_save.connect(_user_changed, sender=get_user_model(), dispatch_uid="access-user-saved")
