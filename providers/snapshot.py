"""The configuration snapshot: everything the hot paths need, built in a constant number of queries.

Built from the database once per configuration version and shared through the
configured cache (Redis when several processes serve). Each process also keeps
the last snapshot it used, keyed by version, so a warm request costs one cache
read of a small integer and no query. Any change to providers, models or runtime
settings bumps the version (`invalidate()`), which every process sees on its
next request. See docs/adr/0003-config-snapshot.md. How a process fetches,
builds (once per version) and keeps it through cache outages is
providers/snapshot_store.py (ADR 0008).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from providers.snapshot_store import SNAPSHOT_KEY, SNAPSHOT_TTL, VERSION_KEY, SnapshotStore, read_version

logger = logging.getLogger(__name__)

__all__ = [
    "SNAPSHOT_KEY",
    "SNAPSHOT_TTL",
    "VERSION_KEY",
    "ConfigSnapshot",
    "ModelInfo",
    "ProviderInfo",
    "aget_snapshot",
    "build_snapshot",
    "current_version",
    "get_snapshot",
    "invalidate",
    "store",
]


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """What the gateway and registry need of a provider. `api_key_token` is ciphertext."""

    id: int
    name: str
    slug: str
    kind: str
    base_url: str
    organization: str
    api_version: str
    image_url: str
    is_enabled: bool
    timeout_seconds: float
    max_retries: int
    extra_headers: dict[str, str]
    api_key_token: str
    env_key_name: str
    key_source: str
    inactive_reason: str | None
    updated_at: str
    # Size, time and pool limits (providers/adapters/limits.py, clients.py); None: the UPSTREAM_* setting.
    stream_timeout_seconds: float = 600.0
    max_response_bytes: int | None = None
    max_error_body_bytes: int | None = None
    max_sse_event_bytes: int | None = None
    max_connections: int | None = None

    @property
    def is_active(self) -> bool:
        return self.inactive_reason is None

    @property
    def fingerprint(self) -> tuple:
        """Changes whenever a setting that shapes an upstream client changes."""
        return (self.id, self.updated_at, self.key_source)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: int
    provider_id: int
    provider_slug: str
    name: str
    model_id: str
    alias: str
    is_enabled: bool
    is_default: bool
    capabilities: dict[str, Any]
    context_window: int | None
    max_output_tokens: int | None
    input_price_per_mtok: Decimal | None
    output_price_per_mtok: Decimal | None
    sort_order: int
    status: str
    #: created_at as a Unix timestamp (the `created` of `/v1/models`).
    created: int = 0

    @property
    def qualified_id(self) -> str:
        return f"{self.provider_slug}/{self.model_id}"


@dataclass(slots=True)
class ConfigSnapshot:
    """Providers (all), models (all), lookup tables over active ones, and runtime settings."""

    version: int
    providers: dict[int, ProviderInfo]
    models: dict[int, ModelInfo]
    default_model_id: int | None
    runtime_settings: dict[str, Any]
    presets: dict[str, dict[str, Any]]
    built_at: float = field(default_factory=time.time)
    # Lookup tables (active providers, enabled models only), filled by _index().
    by_qualified: dict[str, ModelInfo] = field(default_factory=dict)
    by_unprefixed: dict[str, list[ModelInfo]] = field(default_factory=dict)
    provider_by_slug: dict[str, ProviderInfo] = field(default_factory=dict)
    enabled_by_provider: dict[int, list[ModelInfo]] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        # Lookup tables and memoized renderings are rebuilt after unpickling.
        return {
            "version": self.version,
            "providers": self.providers,
            "models": self.models,
            "default_model_id": self.default_model_id,
            "runtime_settings": self.runtime_settings,
            "presets": self.presets,
            "built_at": self.built_at,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self.by_qualified, self.by_unprefixed, self.provider_by_slug, self.memo = {}, {}, {}, {}
        self.enabled_by_provider = {}
        self._index()

    def _index(self) -> None:
        self.provider_by_slug = {p.slug: p for p in self.providers.values()}
        for model in sorted(self.models.values(), key=_model_order(self.providers)):
            if not model.is_enabled:
                continue
            self.enabled_by_provider.setdefault(model.provider_id, []).append(model)
            provider = self.providers[model.provider_id]
            if not provider.is_active:
                continue
            self.by_qualified[f"{provider.slug}/{model.model_id}"] = model
            if model.alias:
                self.by_qualified.setdefault(f"{provider.slug}/{model.alias}", model)
            for name in {model.model_id, model.alias} - {""}:
                self.by_unprefixed.setdefault(name, []).append(model)

    @property
    def default_model(self) -> ModelInfo | None:
        """The default model when it is servable (enabled, provider active)."""
        model = self.models.get(self.default_model_id) if self.default_model_id else None
        if model is None or not model.is_enabled or not self.providers[model.provider_id].is_active:
            return None
        return model

    def active_providers(self) -> list[ProviderInfo]:
        return sorted((p for p in self.providers.values() if p.is_active), key=lambda p: (p.name.lower(), p.id))

    def enabled_models(self, provider_id: int) -> list[ModelInfo]:
        """The provider's enabled models, in display order (an index lookup, not a scan)."""
        return list(self.enabled_by_provider.get(provider_id, ()))


def _model_order(providers: dict[int, ProviderInfo]):
    def key(model: ModelInfo) -> tuple:
        return (
            providers[model.provider_id].name.lower(),
            model.sort_order,
            (model.name or model.model_id).lower(),
            model.id,
        )

    return key


def _as_object(capabilities: Any) -> dict[str, Any]:
    """Capabilities are a JSON object; a row written around the services may still hold a list."""
    if isinstance(capabilities, dict):
        return dict(capabilities)
    if isinstance(capabilities, list):
        return {str(name): True for name in capabilities}
    return {}


def build_snapshot(version: int) -> ConfigSnapshot:
    """Read the configuration in three queries: providers, models, runtime settings."""
    from providers.models import Provider, ProviderModel, RuntimeSetting
    from providers.runtime import BUILTIN_DEFAULTS, PRESETS, PRESETS_KEY

    providers: dict[int, ProviderInfo] = {}
    for p in Provider.objects.all():
        providers[p.id] = ProviderInfo(
            id=p.id,
            name=p.name,
            slug=p.slug,
            kind=p.kind,
            base_url=p.base_url,
            organization=p.organization,
            api_version=p.api_version,
            image_url=p.image_url,
            is_enabled=p.is_enabled,
            timeout_seconds=float(p.timeout_seconds),
            max_retries=int(p.max_retries),
            extra_headers=dict(p.extra_headers or {}),
            api_key_token=str(p.api_key or ""),
            env_key_name=p.env_key_name,
            key_source=p.key_source,
            inactive_reason=p.inactive_reason,
            updated_at=p.updated_at.isoformat() if p.updated_at else "",
            stream_timeout_seconds=float(p.stream_timeout_seconds),
            max_response_bytes=p.max_response_bytes,
            max_error_body_bytes=p.max_error_body_bytes,
            max_sse_event_bytes=p.max_sse_event_bytes,
            max_connections=p.max_connections,
        )
    slugs = {pid: p.slug for pid, p in providers.items()}
    models: dict[int, ModelInfo] = {}
    default_id = None
    for m in ProviderModel.objects.all().values(
        "id",
        "provider_id",
        "name",
        "model_id",
        "alias",
        "is_enabled",
        "is_default",
        "capabilities",
        "context_window",
        "max_output_tokens",
        "input_price_per_mtok",
        "output_price_per_mtok",
        "sort_order",
        "status",
        "created_at",
    ):
        if m["provider_id"] not in slugs:
            # Committed after the provider query ran (each query sees its own snapshot under
            # READ COMMITTED); that commit bumps the version, so the next build includes it.
            continue
        if m["is_default"]:
            default_id = m["id"]
        created_at = m.pop("created_at")
        models[m["id"]] = ModelInfo(
            provider_slug=slugs[m["provider_id"]],
            capabilities=_as_object(m.pop("capabilities")),
            created=int(created_at.timestamp()) if created_at else 0,
            **m,
        )
    stored = dict(RuntimeSetting.objects.values_list("key", "value"))
    runtime = {**BUILTIN_DEFAULTS, **{k: v for k, v in stored.items() if k in BUILTIN_DEFAULTS}}
    stored_presets = stored.get(PRESETS_KEY)
    presets = {**PRESETS, **(stored_presets if isinstance(stored_presets, dict) else {})}
    snapshot = ConfigSnapshot(
        version=version,
        providers=providers,
        models=models,
        default_model_id=default_id,
        runtime_settings=runtime,
        presets=presets,
    )
    snapshot._index()
    return snapshot


#: The process's snapshot and its builds (single flight, off the event loop, outages):
#: providers/snapshot_store.py.
store = SnapshotStore(build_snapshot)


def current_version() -> int:
    """The configuration version in the shared cache (sync; `CacheUnavailable` when it is down)."""
    return read_version()


def get_snapshot(version: int | None = None) -> ConfigSnapshot:
    """The current snapshot, for sync callers: the process's, else the shared cache's, else the database's.

    `version`: the configuration version (`VERSION_KEY`) the caller has just read itself,
    so it is not read twice. Coroutines use `aget_snapshot`.
    """
    return store.get(version)


async def aget_snapshot(version: int | None = None) -> ConfigSnapshot:
    """`get_snapshot` for coroutines: never blocks the event loop (see providers/snapshot_store.py).

    `version`: read with the API key in one cache round trip (chat/auth.py); None reads it here.
    """
    return await store.aget(version)


def invalidate() -> None:
    """Make every process rebuild its snapshot on its next request."""
    store.invalidate()
