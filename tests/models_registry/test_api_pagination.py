"""Pagination of every list endpoint of the API (configsite/pagination.py; issue 14, item 13).

`/api/config/models/` returned every row (26 MB for 50,003 models). Lists now answer
`{"count", "next", "previous", "results"}`, `API_PAGE_SIZE` (100) items by default and never
more than `API_MAX_PAGE_SIZE` (1000). The registry and `/v1/models` keep their contract shapes.
"""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from providers.models import ProviderModel
from providers.snapshot import invalidate
from tests.factories import make_api_key, make_provider, make_user

pytestmark = pytest.mark.django_db


def add_models(provider, count: int, *, prefix: str = "bulk") -> None:
    """Rows straight into the table (the factories' services would fill capabilities one by one)."""
    ProviderModel.objects.bulk_create(
        [ProviderModel(provider=provider, model_id=f"{prefix}-{n:06d}", sort_order=n) for n in range(count)],
        batch_size=1000,
    )
    invalidate()


@pytest.fixture
def many(db):
    provider = make_provider(name="Many", slug="many")
    add_models(provider, 250)
    return provider


@pytest.mark.parametrize("path", ["/api/config/models/", "/api/config/providers/{id}/models/"])
def test_model_lists_are_paginated(api, many, path):
    url = path.format(id=many.pk)
    first = api.get(url).json()
    assert first["count"] == 250 and len(first["results"]) == 100 and first["previous"] is None
    assert first["results"][0]["model_id"] == "bulk-000000"
    second = api.get(first["next"]).json()
    assert [m["model_id"] for m in second["results"]][:1] == ["bulk-000100"]
    last = api.get(url, {"limit": 200, "offset": 200}).json()
    assert len(last["results"]) == 50 and last["next"] is None
    seen = [m["model_id"] for m in first["results"] + second["results"] + last["results"]]
    assert seen == [f"bulk-{n:06d}" for n in range(250)]  # stable order, no gap, no repeat


def test_the_page_size_is_capped(api, many, settings):
    settings.API_MAX_PAGE_SIZE = 120
    body = api.get("/api/config/models/", {"limit": 100_000}).json()
    assert len(body["results"]) == 120 and "limit=120" in body["next"]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "abc"},
        {"limit": "-5"},
        {"limit": "0"},
        {"limit": "1.5"},
        {"offset": "x"},
        {"offset": "-1"},
        {"offset": "9" * 40},
    ],
)
def test_bad_pagination_values_are_a_400_naming_the_parameter(api, many, query):
    response = api.get("/api/config/models/", query)
    assert response.status_code == 400 and set(response.json()) == set(query), response.content


def test_an_offset_past_the_end_is_an_empty_page(api, many):
    body = api.get("/api/config/models/", {"offset": 10**17, "limit": ""}).json()
    assert body["count"] == 250 and body["results"] == []


def test_providers_are_paginated(api):
    for n in range(105):
        make_provider(name=f"P{n:03d}", slug=f"p{n:03d}")
    body = api.get("/api/config/providers/").json()
    assert body["count"] == 105 and len(body["results"]) == 100
    assert [p["slug"] for p in api.get(body["next"]).json()["results"]] == ["p100", "p101", "p102", "p103", "p104"]


def test_filters_and_pagination_combine(api, many):
    other = make_provider(name="Other", slug="other")
    add_models(other, 3, prefix="other")
    body = api.get("/api/config/models/", {"provider": "other", "limit": 2}).json()
    assert body["count"] == 3 and [m["model_id"] for m in body["results"]] == ["other-000000", "other-000001"]
    assert "provider=other" in body["next"]


def test_a_page_costs_a_constant_number_of_queries(api, many, django_assert_max_num_queries):
    api.get("/api/config/models/")  # warm the key's cache entry
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/config/models/", {"limit": 1000}).json()["results"]) == 250


def test_no_list_of_the_api_is_left_unpaginated(client):
    """Every GET of the schema that answers a list answers a page (the registry and presets are objects)."""
    client.force_login(make_user(staff=True))
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    bare_lists = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        body = get["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        if body.get("type") == "array":
            bare_lists.append(path)
        parameters = {p["name"] for p in get.get("parameters", [])}
        if body.get("$ref", "").startswith("#/components/schemas/Paginated"):
            assert {"limit", "offset"} <= parameters, path
    assert bare_lists == []


def test_measure_50000_models(many, capsys):
    """The figures for the report: a page of the config API, the registry and /v1/models with 50,000 models."""
    add_models(many, 50_000 - 250, prefix="more")
    _, raw = make_api_key(user=make_user(staff=True), scopes=("admin",))
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    figures = []

    def timed(label: str, url: str) -> None:
        started = time.perf_counter()
        response = api.get(url)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.content[:200]
        figures.append(f"{label}: {elapsed:.0f} ms, {len(response.content) / 1e6:.2f} MB")

    timed("GET /api/config/models/ (first page)", "/api/config/models/")
    timed("GET /api/config/models/?limit=1000&offset=49000", "/api/config/models/?limit=1000&offset=49000")
    cache.clear()
    timed("GET /api/model-registry (cold: snapshot built)", "/api/model-registry")
    timed("GET /api/model-registry (warm)", "/api/model-registry")
    timed("GET /v1/models (rendered from the warm snapshot)", "/v1/models")
    timed("GET /v1/models (warm)", "/v1/models")
    with capsys.disabled():
        print("\n[measure] 50,000 models: " + "; ".join(figures))
