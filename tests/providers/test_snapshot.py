"""The configuration snapshot: built in a constant number of queries, shared through the cache,
invalidated by every change however it is made, and seen by every cache client."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from django.core.cache import cache, caches

from providers import services, snapshot
from providers.models import Provider, ProviderModel
from providers.snapshot import SNAPSHOT_KEY, VERSION_KEY, build_snapshot, current_version, get_snapshot
from tests.factories import make_model, make_provider

pytestmark = pytest.mark.django_db

SECRET = "sk-snapshot-secret-000000000042"


def bulk_catalog(providers: int, models_each: int) -> None:
    """Many rows quickly (bulk_create skips the services; the snapshot does not care)."""
    rows = Provider.objects.bulk_create(
        Provider(name=f"Provider {i:03}", slug=f"p{i:03}", kind="openai", api_key=f"sk-bulk-{i:08}")
        for i in range(providers)
    )
    ProviderModel.objects.bulk_create(
        ProviderModel(provider=p, model_id=f"m{j:02}", name=f"Model {j:02}", capabilities={"tools": True})
        for p in rows
        for j in range(models_each)
    )


@pytest.mark.parametrize(("providers", "models_each"), [(2, 3), (40, 10)])
def test_build_is_three_queries_whatever_the_size(django_assert_num_queries, providers, models_each):
    bulk_catalog(providers, models_each)
    with django_assert_num_queries(3):
        built = build_snapshot(1)
    assert len(built.providers) == providers
    assert len(built.models) == providers * models_each
    assert len(built.by_qualified) == providers * models_each


def test_warm_reads_make_no_query_and_other_processes_reuse_the_cached_build(django_assert_num_queries):
    bulk_catalog(5, 5)
    get_snapshot()
    with django_assert_num_queries(0):
        get_snapshot()
    snapshot.store.forget()  # another process: no local memo, same shared cache
    with django_assert_num_queries(0):
        assert len(get_snapshot().models) == 25


def test_lookup_tables_and_order():
    openai = make_provider(name="OpenAI", slug="openai")
    b = make_model(openai, model_id="b-model", sort_order=2)
    a = make_model(openai, model_id="a-model", alias="a", sort_order=1)
    make_model(openai, model_id="off", is_enabled=False)
    built = get_snapshot()
    assert [m.id for m in built.enabled_models(openai.pk)] == [a.pk, b.pk]
    assert built.by_qualified["openai/a"].id == a.pk
    assert set(built.by_unprefixed) == {"a-model", "a", "b-model"}
    assert [p.slug for p in built.active_providers()] == ["openai"]


def test_default_is_null_when_its_provider_becomes_inactive():
    provider = make_provider(api_key="sk-0000000000000001")
    make_model(provider, is_default=True)
    assert get_snapshot().default_model is not None
    services.provider_update(provider=provider, api_key="")  # still enabled, but no key now
    assert get_snapshot().default_model is None


def test_snapshot_carries_ciphertext_only():
    provider = make_provider(api_key=SECRET)
    built = get_snapshot()
    assert built.providers[provider.pk].api_key_token.startswith("fernet:")
    assert SECRET.encode() not in pickle.dumps(built)


def test_snapshot_survives_the_cache_round_trip():
    provider = make_provider()
    make_model(provider, model_id="gpt-4o", alias="4o", capabilities=["vision"], is_default=True)
    services.runtime_settings_update({"temperature": 0.3})
    built = get_snapshot()
    copy = pickle.loads(pickle.dumps(built))  # noqa: S301  (our own bytes, as the cache does)
    assert copy.by_qualified.keys() == built.by_qualified.keys()
    assert copy.default_model == built.default_model
    assert copy.runtime_settings["temperature"] == 0.3
    assert copy.enabled_models(provider.pk) == built.enabled_models(provider.pk)


# Every way the configuration changes, and how the next snapshot shows it.
CHANGES: dict[str, tuple[Callable[[dict], None], Callable[[snapshot.ConfigSnapshot, dict], bool]]] = {
    "service: provider update": (
        lambda c: services.provider_update(provider=c["provider"], name="Renamed"),
        lambda s, c: s.providers[c["provider"].pk].name == "Renamed",
    ),
    "service: model create": (
        lambda c: services.model_create(provider=c["provider"], model_id="brand-new"),
        lambda s, c: f"{c['provider'].slug}/brand-new" in s.by_qualified,
    ),
    "service: set default": (
        lambda c: services.set_default_model(model=c["other"]),
        lambda s, c: s.default_model.id == c["other"].pk,
    ),
    "service: bulk disable": (
        lambda c: services.models_set_enabled(model_ids=[c["model"].pk], enabled=False),
        lambda s, c: s.default_model is None and not s.models[c["model"].pk].is_enabled,
    ),
    "service: clear default": (
        lambda c: services.clear_default_model(),
        lambda s, c: s.default_model is None,
    ),
    "service: model delete": (
        lambda c: services.model_delete(model=c["other"]),
        lambda s, c: c["other"].pk not in s.models,
    ),
    "service: provider delete": (
        lambda c: services.provider_delete(provider=c["provider"], force=True),
        lambda s, c: not s.providers and not s.models,
    ),
    "service: runtime settings": (
        lambda c: services.runtime_settings_update({"maxTokens": 512}),
        lambda s, c: s.runtime_settings["max_tokens"] == 512,
    ),
    "service: presets": (
        lambda c: services.runtime_setting_set(key="presets", value={"tiny": {"max_tokens": 8}}),
        lambda s, c: s.presets.get("tiny") == {"max_tokens": 8} and "fast" in s.presets,
    ),
    "ORM: save": (
        lambda c: _renamed(ProviderModel.objects.get(pk=c["other"].pk), alias="direct").save(),
        lambda s, c: s.by_qualified.get(f"{c['provider'].slug}/direct") is not None,
    ),
    "ORM: delete": (
        lambda c: ProviderModel.objects.filter(pk=c["other"].pk).delete(),
        lambda s, c: c["other"].pk not in s.models,
    ),
    "ORM: provider save": (
        lambda c: _renamed(Provider.objects.get(pk=c["provider"].pk), is_enabled=False).save(),
        lambda s, c: s.providers[c["provider"].pk].inactive_reason == "disabled",
    ),
}


def _renamed(instance, **fields):
    for name, value in fields.items():
        setattr(instance, name, value)
    return instance


@pytest.fixture
def catalog() -> dict:
    """A provider with the default model and one other, and a warm snapshot of them."""
    provider = make_provider()
    catalog = {
        "provider": provider,
        "model": make_model(provider, is_default=True),
        "other": make_model(provider),
    }
    get_snapshot()
    return catalog


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_every_change_invalidates_the_snapshot(catalog, change):
    apply, visible = CHANGES[change]
    before = current_version()
    assert not visible(get_snapshot(), catalog)

    apply(catalog)

    assert current_version() != before
    assert visible(get_snapshot(), catalog)


def test_a_second_cache_client_sees_the_bump_and_the_new_snapshot(catalog):
    other_client = caches.create_connection("default")  # another process's own connection
    seen = other_client.get(VERSION_KEY)
    assert seen == current_version()

    services.provider_update(provider=catalog["provider"], name="Seen elsewhere")

    bumped = other_client.get(VERSION_KEY)
    assert bumped != seen
    get_snapshot()  # this process rebuilds and publishes the new version
    shared = other_client.get(SNAPSHOT_KEY.format(version=bumped))
    assert shared is not None
    assert shared.providers[catalog["provider"].pk].name == "Seen elsewhere"


def test_a_build_cached_before_the_commit_is_replaced_after_it(catalog, django_capture_on_commit_callbacks):
    stale = build_snapshot(0)
    with django_capture_on_commit_callbacks(execute=True):
        services.provider_update(provider=catalog["provider"], name="Committed")
        # Another process rebuilt between the write and the commit: it saw the old state
        # and cached it under the version the write had already bumped.
        stale.version = current_version()
        cache.set(SNAPSHOT_KEY.format(version=stale.version), stale)
        snapshot.store.forget()
        assert get_snapshot().providers[catalog["provider"].pk].name != "Committed"
    assert get_snapshot().providers[catalog["provider"].pk].name == "Committed"


def test_version_restarts_unseen_after_a_cache_flush(catalog):
    before = current_version()
    cache.clear()
    snapshot.store.forget()
    assert current_version() > before
