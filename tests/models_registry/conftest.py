"""Fixtures of the API tests: clients holding an `admin` key, a `read` key, or nothing, and a table snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from providers.models import Provider, ProviderModel, RuntimeSetting
from tests.factories import make_api_key, make_user


def key_client(*scopes: str, staff_owner: bool = False) -> APIClient:
    _, raw = make_api_key(user=make_user(staff=staff_owner), scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(db) -> APIClient:
    """An API client with an `admin` key: may write the configuration."""
    return key_client("admin")


@pytest.fixture
def reader(db) -> APIClient:
    """An API client with a `read` key only."""
    return key_client("read")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def table_state() -> dict[str, list[dict[str, Any]]]:
    """Every configuration row, to assert that a refused request changed nothing."""
    return {
        "providers": list(Provider.objects.order_by("pk").values()),
        "models": list(ProviderModel.objects.order_by("pk").values()),
        "settings": list(RuntimeSetting.objects.order_by("pk").values()),
    }
