"""After a configuration change, the gateway builds the new snapshot once per process, however many
requests ask for it at the same time (issue 14, item 13), and keeps answering meanwhile.

Through the live gateway (uvicorn, the `openai` SDK): the change is made as another process
would make it (the rows written without this process's signals, the shared version bumped
through a second cache client), so this process holds the previous snapshot when the
requests arrive. Builds are counted by `providers.snapshot.store.builds_from_database`.
"""

from __future__ import annotations

import asyncio

import openai
import pytest
from django.core.cache import caches

from providers import snapshot
from providers.models import Provider, ProviderModel
from tests.live_gateway import GatewayServer

pytestmark = pytest.mark.django_db(transaction=True)
HI = [{"role": "user", "content": "hi"}]


def _bulk_models(provider: Provider, count: int) -> None:
    """Enough models that a build takes a while (the window in which requests pile up)."""
    ProviderModel.objects.bulk_create(
        ProviderModel(provider=provider, model_id=f"bulk-{n:05d}", name=f"Bulk {n}") for n in range(count)
    )


def _change_elsewhere(provider: Provider, name: str) -> None:
    """What another process's change looks like from here: new rows, the shared version bumped."""
    Provider.objects.filter(pk=provider.pk).update(name=name)  # no signal: this process is not told
    caches.create_connection("default").incr(snapshot.VERSION_KEY)


async def _ask(gateway: GatewayServer, key: str, count: int) -> list[str]:
    client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=60)
    try:
        answers = await asyncio.gather(
            *(client.chat.completions.create(model="echo/echo", messages=HI) for _ in range(count))
        )
    finally:
        await client.close()
    return [answer.model for answer in answers]


def test_many_requests_after_a_version_bump_build_it_once(gateway, chat_key, echo_model, settings):
    settings.SNAPSHOT_REBUILD_WAIT_SECONDS = 30  # every request waits for the build: all see the change
    _bulk_models(echo_model.provider, 3000)
    assert asyncio.run(_ask(gateway, chat_key, 1)) == ["echo/echo"]  # warm: this process holds a snapshot
    _change_elsewhere(echo_model.provider, "Echo renamed")
    built = snapshot.store.builds_from_database

    assert asyncio.run(_ask(gateway, chat_key, 40)) == ["echo/echo"] * 40

    assert snapshot.store.builds_from_database - built == 1
    assert snapshot.get_snapshot().providers[echo_model.provider_id].name == "Echo renamed"


def test_requests_are_served_from_the_previous_snapshot_while_the_next_one_builds(
    gateway, chat_key, echo_model, settings
):
    settings.SNAPSHOT_REBUILD_WAIT_SECONDS = 0  # nobody waits while a previous snapshot exists
    _bulk_models(echo_model.provider, 3000)
    assert asyncio.run(_ask(gateway, chat_key, 1)) == ["echo/echo"]
    previous = snapshot.get_snapshot()
    _change_elsewhere(echo_model.provider, "Echo renamed")
    built = snapshot.store.builds_from_database

    assert asyncio.run(_ask(gateway, chat_key, 20)) == ["echo/echo"] * 20

    assert snapshot.store.builds_from_database - built <= 1
    current = snapshot.get_snapshot()  # a sync caller waits for the build in progress
    assert current.version > previous.version
    assert current.providers[echo_model.provider_id].name == "Echo renamed"
    assert snapshot.store.builds_from_database - built == 1
