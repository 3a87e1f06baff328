"""Validation: a tiny `ping` request to each model, a bounded number at once (SPEC §7)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from django.conf import settings

from models_registry.upstream import error_text, scrub, with_adapter
from providers.adapters.base import PingResult, ProviderAdapter
from providers.snapshot import ProviderInfo

DEFAULT_CONCURRENCY = 8


@dataclass(slots=True)
class Verdict:
    ok: bool
    detail: str
    latency_ms: float


def concurrency_setting() -> int:
    return max(1, int(getattr(settings, "MODELDESK_VALIDATE_CONCURRENCY", DEFAULT_CONCURRENCY)))


def _verdict(result: PingResult, info: ProviderInfo) -> Verdict:
    if not result.ok:
        return Verdict(False, scrub(" ".join((result.error or "no answer").split()), info), round(result.latency_ms, 1))
    answer = " ".join((result.answer or "").split())
    # A model that answers is usable; one that does not say "pong" is still noted.
    detail = "answered pong" if "pong" in answer.lower() else f"answered {answer[:60]!r} instead of pong"
    return Verdict(True, detail, round(result.latency_ms, 1))


def validate_models(info: ProviderInfo, model_ids: list[str], *, concurrency: int | None = None) -> dict[str, Verdict]:
    """Ping every model, at most `concurrency` at once; never raises for an upstream failure."""
    if not model_ids:
        return {}
    limit = max(1, concurrency or concurrency_setting())

    async def run(adapter: ProviderAdapter) -> dict[str, Verdict]:
        gate = asyncio.Semaphore(limit)

        async def one(model_id: str) -> tuple[str, Verdict]:
            async with gate:
                try:
                    result = await adapter.ping(model_id)
                except Exception as exc:  # noqa: BLE001  (a failing model is a verdict, not a crash)
                    return model_id, Verdict(False, error_text(exc, info), 0.0)
                return model_id, _verdict(result, info)

        return dict(await asyncio.gather(*(one(m) for m in model_ids)))

    return with_adapter(info, run)
