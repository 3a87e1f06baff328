"""Test data builders, in one place. Each goes through the services, as a user's change would."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model

from access.models import ApiKey
from providers import services
from providers.models import Provider, ProviderModel

_seq = itertools.count(1)


def make_provider(**fields: Any) -> Provider:
    n = next(_seq)
    data: dict[str, Any] = {
        "name": f"Provider {n}",
        "slug": f"prov-{n}",
        "kind": "openai",
        "api_key": f"sk-test-{n:08d}",
    }
    data.update(fields)
    return services.provider_create(**data)


def make_model(provider: Provider | None = None, **fields: Any) -> ProviderModel:
    n = next(_seq)
    data: dict[str, Any] = {"model_id": f"model-{n}", "name": f"Model {n}"}
    data.update(fields)
    return services.model_create(provider=provider or make_provider(), **data)


def make_user(username: str | None = None, *, staff: bool = False, password: str = "pw-12345-secret") -> Any:
    user_model = get_user_model()
    return user_model.objects.create_user(
        username=username or f"user{next(_seq)}", password=password, is_staff=staff, is_superuser=staff
    )


def make_api_key(*, user: Any = None, scopes: tuple[str, ...] = ("read",), **fields: Any) -> tuple[ApiKey, str]:
    """A key and its raw value (shown once in real life)."""
    from access.services import api_key_create

    return api_key_create(name=fields.pop("name", "test key"), user=user or make_user(), scopes=list(scopes), **fields)
