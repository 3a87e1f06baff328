"""Upstream safety (SPEC §6): keys, the whole-call deadline, SDK retries only, no redirects."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from providers import services, snapshot
from providers.adapters import clients, errors, registry
from providers.adapters.anthropic_sdk import AnthropicAdapter
from providers.adapters.base import TextDelta
from providers.adapters.openai_sdk import OpenAIAdapter
from tests.factories import make_provider
from tests.fake_upstream import behaviour as fb
from tests.providers.adapters.support import ANTHROPIC_KEY, ask, provider_info, run, undecryptable_token

VENDORS = ["openai", "anthropic"]


def _adapter(vendor: str, fake_upstream, **fields):
    if vendor == "openai":
        return OpenAIAdapter(provider_info(kind="openai", base_url=fake_upstream.url + "/v1", **fields))
    fields.setdefault("key", ANTHROPIC_KEY)
    return AnthropicAdapter(provider_info(kind="anthropic", base_url=fake_upstream.url, **fields))


def _fails(coro) -> tuple[errors.ProviderError, float]:
    started = time.monotonic()
    with pytest.raises(errors.ProviderError) as caught:
        run(coro)
    return caught.value, time.monotonic() - started


# --- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_slug_api_key_variable_overrides_the_stored_key(fake_upstream, vendor, monkeypatch):
    monkeypatch.setenv("TEAM_AI_API_KEY", "sk-from-env-0123456789")
    run(_adapter(vendor, fake_upstream, slug="team-ai").complete(ask("m")))
    assert fake_upstream.last_request.headers["authorization"] == "Bearer sk-from-env-0123456789"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_key_that_cannot_be_decrypted_sends_nothing(fake_upstream, vendor):
    adapter = _adapter(vendor, fake_upstream, token=undecryptable_token())
    error, _ = _fails(adapter.complete(ask("m")))
    assert isinstance(error, errors.ConfigurationError)
    assert "cannot be decrypted" in error.message and "FIELD_ENCRYPTION_KEYS" in error.message
    error, _ = _fails(adapter.list_models())
    assert isinstance(error, errors.ConfigurationError)
    assert fake_upstream.requests == []


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_key_at_all_sends_nothing(fake_upstream, vendor):
    error, _ = _fails(_adapter(vendor, fake_upstream, key=None).complete(ask("m")))
    assert isinstance(error, errors.ConfigurationError)
    assert "no API key" in error.message
    assert fake_upstream.requests == []


def test_the_http_client_follows_no_redirect_and_uses_the_providers_timeout():
    client = clients.http_client(provider_info(kind="openai", base_url="http://x", timeout=30))
    assert client.follow_redirects is False
    assert (client.timeout.read, client.timeout.connect) == (30, 10)


# --- the deadline -------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_retry_after_3600_comes_back_as_rate_limit_within_the_provider_timeout(fake_upstream, vendor):
    fake_upstream.enqueue(fb.error(429, retry_after=3600), times=5)
    error, elapsed = _fails(_adapter(vendor, fake_upstream, timeout=1.5, max_retries=2).complete(ask("m")))
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == "3600"
    assert elapsed < 1.5
    assert fake_upstream.hit_count() == 1  # waiting an hour is not retried


@pytest.mark.parametrize("vendor", VENDORS)
def test_never_answering_is_a_timeout_at_the_deadline(fake_upstream, vendor):
    fake_upstream.set_behaviour("m", fb.hang())
    error, elapsed = _fails(_adapter(vendor, fake_upstream, timeout=1.0, max_retries=2).complete(ask("m")))
    assert isinstance(error, errors.TimeoutError)
    assert (error.status_code, error.category) == (504, "timeout")
    assert "1 s" in error.message
    assert 0.95 <= elapsed < 2.0  # 1 s, plus slack for a loaded CI machine
    assert fake_upstream.requests[0].wait_disconnected(2)


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_deadline_bounds_retries_and_their_back_off(fake_upstream, vendor):
    # Without the deadline: 6 attempts and 5 waits of 0.4 s = over 2 s.
    fake_upstream.set_behaviour("m", fb.error(503, retry_after_ms="400"))
    error, elapsed = _fails(_adapter(vendor, fake_upstream, timeout=1.0, max_retries=5).complete(ask("m")))
    # The upstream's error, not a bare timeout: that is what the caller can act on.
    assert isinstance(error, errors.UpstreamUnavailableError)
    assert error.upstream_status == 503
    assert elapsed < 1.6
    assert 2 <= fake_upstream.hit_count() <= 3


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_slow_first_byte_is_a_timeout(fake_upstream, vendor):
    fake_upstream.set_behaviour("m", fb.slow(5))
    error, elapsed = _fails(_adapter(vendor, fake_upstream, timeout=0.5, max_retries=0).complete(ask("m")))
    assert isinstance(error, errors.TimeoutError)
    assert elapsed < 1.5


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_stream_that_stalls_times_out_between_chunks(fake_upstream, vendor):
    fake_upstream.enqueue(fb.answer("a b c d", chunk_delay=3.0))
    received = []

    async def read(adapter):
        async for event in adapter.stream(ask("m")):
            received.append(event)

    error, elapsed = _fails(read(_adapter(vendor, fake_upstream, timeout=0.5, max_retries=0)))
    assert isinstance(error, errors.TimeoutError)
    assert elapsed < 2.5  # the stall is 3 s
    assert fake_upstream.last_request.wait_disconnected(2)
    assert not [e for e in received if isinstance(e, TextDelta) and e.text == "d"]


# --- retries: the SDK's max_retries, nothing of ours ----------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    ("behaviour", "hits"),
    [
        (fb.error(500), 3),
        (fb.error(503), 3),
        (fb.overloaded(), 3),
        (fb.error(429), 3),
        (fb.error(400), 1),
        (fb.error(401), 1),
        (fb.error(403), 1),
        (fb.error(404), 1),
    ],
    ids=lambda v: getattr(v, "status", v),
)
def test_retries_are_the_sdks_max_retries(fake_upstream, vendor, behaviour, hits):
    fake_upstream.set_behaviour("m", behaviour)
    _fails(_adapter(vendor, fake_upstream, max_retries=2).complete(ask("m")))
    assert fake_upstream.hit_count(model="m") == hits


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_retry_that_succeeds_answers(fake_upstream, vendor):
    fake_upstream.enqueue(fb.error(500))
    result = run(_adapter(vendor, fake_upstream, max_retries=1).complete(ask("m", "ping")))
    assert result.body["choices"][0]["message"]["content"] == "pong"
    assert fake_upstream.hit_count() == 2


# --- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_redirect_is_not_followed_and_the_key_never_reaches_the_other_host(fake_upstream, vendor):
    fake_upstream.set_behaviour("m", fb.redirect())
    error, _ = _fails(_adapter(vendor, fake_upstream).complete(ask("m")))
    assert isinstance(error, errors.UpstreamUnavailableError)
    assert "redirect" in error.message
    hosts = {request.host.split(":")[0] for request in fake_upstream.requests}
    assert hosts == {"127.0.0.1"}  # nothing went to fake_upstream.other_url (localhost)


# --- through the configuration store ------------------------------------------------------


@pytest.mark.django_db
def test_adapter_from_the_snapshot_and_rebuilt_when_the_provider_changes(fake_upstream):
    provider = make_provider(kind="openai", base_url=fake_upstream.url + "/v1", api_key="sk-stored-0123456789")

    def call():
        # The snapshot is read in sync code (one cache read on a warm path); the call is async.
        adapter = registry.get_adapter(snapshot.get_snapshot().provider_by_slug[provider.slug])
        run(adapter.complete(ask("gpt-4o")))
        return adapter

    first = call()
    assert call() is first  # one adapter (one SDK client) per provider configuration
    assert fake_upstream.last_request.headers["authorization"] == "Bearer sk-stored-0123456789"
    services.provider_update(provider=provider, api_key="sk-rotated-0123456789")
    second = call()
    assert second is not first
    assert fake_upstream.last_request.headers["authorization"] == "Bearer sk-rotated-0123456789"


def test_a_replaced_adapter_has_its_connection_pool_closed(fake_upstream):
    before = provider_info(kind="openai", base_url=fake_upstream.url + "/v1", id=990_001)
    after = dataclasses.replace(before, updated_at="2026-02-02T00:00:00+00:00")

    async def scenario():
        old = registry.get_adapter(before)
        await old.complete(ask("gpt-4o"))
        client = old.client
        new = registry.get_adapter(after)
        await asyncio.sleep(0.05)  # the close runs as a task on this loop
        return new is not old, client.is_closed(), new.client.is_closed()

    try:
        assert run(scenario()) == (True, True, False)
    finally:
        registry._INSTANCES.pop(before.id, None)
