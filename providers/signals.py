"""Cache invalidation only: any saved or deleted configuration row bumps the snapshot version.

Signals are used here (and only here) so that writes made outside the services
(admin `list_editable`, shell, fixtures) can never leave a stale snapshot.
The bump runs now and again on commit, so a process that rebuilds between the
write and the commit cannot keep the pre-commit state.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from providers.models import Provider, ProviderModel, RuntimeSetting
from providers.snapshot import invalidate


def _changed(**kwargs: object) -> None:
    invalidate()
    transaction.on_commit(invalidate)


for _model in (Provider, ProviderModel, RuntimeSetting):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"snapshot-save-{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"snapshot-delete-{_model.__name__}")
