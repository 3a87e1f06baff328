"""Fixtures of the access tests: keys of each scope and API clients that send them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import make_api_key, make_user


@pytest.fixture
def owner(db):
    """A regular (non-staff) user owning the keys below."""
    return make_user("key-owner")


@pytest.fixture
def read_key(owner) -> str:
    return make_api_key(user=owner, scopes=("read",), name="reader")[1]


@pytest.fixture
def admin_key(owner) -> str:
    return make_api_key(user=owner, scopes=("admin",), name="admin")[1]


def client_with(raw: str | None, keyword: str = "Bearer") -> APIClient:
    client = APIClient()
    if raw is not None:
        client.credentials(HTTP_AUTHORIZATION=f"{keyword} {raw}")
    return client
