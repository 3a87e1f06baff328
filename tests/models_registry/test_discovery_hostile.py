"""Hostile model listings (issue 14, item 13) through discovery's real HTTP path to the fake upstream.

Every listing here broke discovery before the fix (a 500 on PostgreSQL for a NUL or over-long id,
`context_length: 10**15`, a price out of the column's range; an `AttributeError` for an id that is
not a string; 50,003 models all added). Now each bad entry is rejected and reported, the good ones
are added in the same transaction, and a listing over the limit is refused as a whole.
"""

from __future__ import annotations

import json
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from models_registry.discovery import discover_models
from providers.models import ProviderModel
from tests.fake_upstream import behaviour as fb
from tests.fake_upstream import hostile_listings as hostile
from tests.fake_upstream import wire
from tests.models_registry.conftest import key_client
from tests.models_registry.test_provider_actions import changelist, messages_of
from tests.models_registry.upstreams import anthropic_provider, models_state, openai_provider

pytestmark = pytest.mark.django_db


def stored_ids(provider) -> set[str]:
    return set(ProviderModel.objects.filter(provider=provider).values_list("model_id", flat=True))


def test_hostile_openai_listing_rejects_each_bad_entry_and_adds_the_good_ones(fake_upstream):
    fake_upstream.set_models(openai=hostile.openai_entries(), raw=True)
    provider = openai_provider(fake_upstream)
    response = key_client("admin").post(f"/api/config/providers/{provider.pk}/discover/", {}, format="json")
    assert response.status_code == 200, response.content[:500]
    result = response.json()
    assert result["ok"] and result["errors"] == []
    assert sorted(result["added"]) == sorted(hostile.GOOD_IDS)
    assert stored_ids(provider) == set(hostile.GOOD_IDS)
    expected = hostile.expected_skips()
    assert len(result["rejected"]) == len(expected) and result["listed"] == len(hostile.openai_entries())
    for entry, (position, words) in zip(result["rejected"], sorted(expected.items()), strict=True):
        assert entry["reason"].startswith(f"entry {position + 1}: ") and words in entry["reason"], entry
        assert "\x00" not in entry["model_id"] and len(entry["model_id"]) < 120
    rich = ProviderModel.objects.get(provider=provider, model_id="good-model-with-metadata")
    assert (rich.name, rich.context_window, rich.max_output_tokens) == ("Good Model", 131072, 8192)
    assert (str(rich.input_price_per_mtok), str(rich.output_price_per_mtok)) == ("1.0000", "2.0000")


def test_hostile_anthropic_listing_is_read_across_pages_and_checked(fake_upstream):
    fake_upstream.set_models(anthropic=hostile.anthropic_entries(), raw=True)  # 2 per page: 5 pages
    provider = anthropic_provider(fake_upstream)
    result = discover_models(provider)
    assert result.ok and result.listed == 10
    assert fake_upstream.hit_count("/v1/models") == 5
    assert sorted(result.added) == ["claude-bad-caps", "claude-good-1", "claude-good-2"]
    reasons = [entry["reason"] for entry in result.rejected]
    assert len(reasons) == 7
    for words in ("control character", "longer than 200", "not a string", "context window", "max output tokens"):
        assert any(words in reason for reason in reasons), (words, reasons)
    assert any("not an object" in reason for reason in reasons)
    caps = ProviderModel.objects.get(provider=provider, model_id="claude-bad-caps").capabilities
    assert "junk" not in caps and not any("\x00" in name for name in caps)  # unknown capability names dropped


def test_a_dry_run_of_a_hostile_listing_writes_nothing(fake_upstream):
    fake_upstream.set_models(openai=hostile.openai_entries(), raw=True)
    provider = openai_provider(fake_upstream)
    result = discover_models(provider, dry_run=True)
    assert sorted(result.added) == sorted(hostile.GOOD_IDS) and len(result.rejected) == len(hostile.expected_skips())
    assert models_state(provider) == []


def test_rejected_entries_are_reported_from_the_cached_listing_too(fake_upstream):
    fake_upstream.set_models(openai=hostile.openai_entries(), raw=True)
    provider = openai_provider(fake_upstream)
    first = discover_models(provider)
    again = discover_models(provider)
    assert again.source == "cache" and again.rejected == first.rejected and again.listed == first.listed


def test_a_ping_answer_with_control_characters_is_stored_without_them(fake_upstream):
    fake_upstream.set_models(openai=["gpt-4o"])
    fake_upstream.set_behaviour("gpt-4o", fb.answer("po\x00ng\x07"))
    provider = openai_provider(fake_upstream)
    result = discover_models(provider, validate=True)
    assert result.ok and result.validated == ["gpt-4o"]
    detail = ProviderModel.objects.get(provider=provider, model_id="gpt-4o").status_detail
    assert "\x00" not in detail and "\x07" not in detail


# --- the limit on a listing's length ---------------------------------------------------------------------------


def test_a_listing_over_the_limit_is_refused_as_a_whole(fake_upstream, settings):
    settings.MODELDESK_DISCOVERY_MAX_MODELS = 5
    fake_upstream.set_models(openai=hostile.many_models(6))
    provider = openai_provider(fake_upstream)
    before = models_state(provider)
    result = discover_models(provider)
    assert not result.ok and result.added == [] and models_state(provider) == before
    (error,) = result.errors
    assert "more than 5 models" in error and "nothing was added or changed" in error
    assert "MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER=openai=N" in error
    fake_upstream.set_models(openai=hostile.many_models(5))
    assert discover_models(provider, force=True).added == [f"bulk-model-{n:06d}" for n in range(5)]


def test_the_limit_is_set_per_provider(fake_upstream, settings):
    settings.MODELDESK_DISCOVERY_MAX_MODELS = 3
    settings.MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER = {"openai": 10}
    fake_upstream.set_models(openai=hostile.many_models(8), anthropic=["claude-a", "claude-b", "claude-c", "claude-d"])
    assert len(discover_models(openai_provider(fake_upstream)).added) == 8
    refused = discover_models(anthropic_provider(fake_upstream))
    assert not refused.ok and "limit of 3" in refused.errors[0]


def test_a_refused_listing_does_not_replace_the_last_good_one(fake_upstream, settings):
    settings.MODELDESK_DISCOVERY_MAX_MODELS = 5
    provider = openai_provider(fake_upstream)
    assert len(discover_models(provider).added) == 4
    fake_upstream.set_models(openai=hostile.many_models(50))
    assert not discover_models(provider, force=True).ok
    again = discover_models(provider)  # the cached listing is still the good one
    assert again.ok and again.source == "cache" and len(again.unchanged) == 4


def test_anthropic_pages_stop_at_the_limit_even_when_has_more_never_ends(fake_upstream, settings):
    settings.MODELDESK_DISCOVERY_MAX_MODELS = 7
    fake_upstream.set_models(anthropic=["claude-a", "claude-b"], endless_pages=True)
    provider = anthropic_provider(fake_upstream)
    result = discover_models(provider)
    assert not result.ok and "more than 7 models" in result.errors[0]
    assert fake_upstream.hit_count("/v1/models") == 4  # 8 entries read, 2 a page: then it stopped
    assert models_state(provider) == []


def test_the_connection_test_reads_one_page_only(fake_upstream):
    fake_upstream.set_models(anthropic=["claude-a", "claude-b"], endless_pages=True)
    provider = anthropic_provider(fake_upstream)
    response = key_client("admin").post(f"/api/config/providers/{provider.pk}/test/")
    assert response.json()["ok"] is True and fake_upstream.hit_count("/v1/models") == 1


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_50003_listed_models_are_refused_quickly(fake_upstream, vendor, capsys):
    """The attack of the issue: 50,003 models used to be added, every one of them."""
    models = hostile.many_models(50_003)
    if vendor == "openai":
        fake_upstream.set_models(openai=models)
        provider = openai_provider(fake_upstream)
    else:
        fake_upstream.set_models(anthropic=[wire.anthropic_model(m["id"]) for m in models], anthropic_page_size=1000)
        provider = anthropic_provider(fake_upstream)
    started = time.perf_counter()
    result = discover_models(provider)
    elapsed = time.perf_counter() - started
    assert not result.ok and "more than 2,000 models" in result.errors[0]
    assert ProviderModel.objects.filter(provider=provider).count() == 0
    pages = fake_upstream.hit_count("/v1/models")
    with capsys.disabled():
        print(f"\n[measure] 50,003 listed ({vendor}): refused in {elapsed * 1000:.0f} ms, {pages} request(s), 0 rows")
    assert pages == (1 if vendor == "openai" else 3)


# --- every surface reports them --------------------------------------------------------------------------------


def test_the_command_reports_rejected_entries_in_text_and_json(fake_upstream):
    fake_upstream.set_models(openai=hostile.openai_entries(), raw=True)
    openai_provider(fake_upstream)
    out = StringIO()
    call_command("discover_models", "--provider", "openai", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert f"{len(hostile.expected_skips())} invalid entries rejected" in text
    assert "  x nul\\x00model: entry 1: the id contains a control character (U+0000)" in text
    assert "\x00" not in text
    out = StringIO()
    call_command("discover_models", "--provider", "openai", "--json", stdout=out, stderr=StringIO())
    document = json.loads(out.getvalue())
    assert len(document["providers"][0]["rejected"]) == len(hostile.expected_skips())


def test_the_command_fails_with_one_clear_line_over_the_limit(fake_upstream, settings):
    settings.MODELDESK_DISCOVERY_MAX_MODELS = 2
    openai_provider(fake_upstream)
    with pytest.raises(CommandError, match="more than 2 models, over this provider's limit"):
        call_command("discover_models", "--provider", "openai", stdout=StringIO(), stderr=StringIO())


def test_the_admin_action_names_rejected_entries(admin_client, fake_upstream):
    fake_upstream.set_models(openai=hostile.openai_entries(), raw=True)
    provider = openai_provider(fake_upstream)
    response = admin_client.post(
        reverse("admin:providers_provider_changelist"), changelist("discover_provider_models", provider)
    )
    ((level, text),) = messages_of(response)
    assert level == "warning" and "Rejected: nul\\x00model: entry 1: the id contains a control character" in text
    assert f"and {len(hostile.expected_skips()) - 10} more." in text
    assert stored_ids(provider) == set(hostile.GOOD_IDS)
