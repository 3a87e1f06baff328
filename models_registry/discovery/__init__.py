"""Model discovery and validation (SPEC §7): `discover_models(provider, force, validate, dry_run)`.

1. List the upstream's models through the provider's adapter (cached per provider,
   see `listing`); on failure fall back to the last good listing, else report the
   error with an empty listing. Entries that do not fit their columns are skipped and
   reported (`checks`); a listing of more than `max_models(provider)` entries is
   refused as a whole: nothing is added or changed (docs/adr/0008-discovery-limits.md).
2. With `validate`, ping the models not yet checked (all listed models with
   `force`; models known invalid are skipped otherwise), a bounded number at once
   (`validation`). Network calls happen before any transaction is opened.
3. Merge into the provider's models in one transaction with bulk statements
   (`merge`); `dry_run` computes everything and writes nothing.

The returned `DiscoveryResult` serializes to JSON (`as_dict()`); it never holds a secret.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from models_registry import catalog
from models_registry.discovery.listing import Listing, fetch_listing, forget
from models_registry.discovery.merge import merge_listing
from models_registry.discovery.validation import validate_models
from models_registry.upstream import provider_info
from providers.models import ModelStatus, Provider, ProviderModel
from providers.snapshot import ProviderInfo

__all__ = ["DEFAULT_MAX_MODELS", "DiscoveryResult", "discover_models", "forget", "max_models"]

DEFAULT_MAX_MODELS = 2000


def max_models(slug: str) -> int:
    """The most models a provider's listing may hold (MODELDESK_DISCOVERY_MAX_MODELS[_BY_PROVIDER])."""
    by_provider = getattr(settings, "MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER", {}) or {}
    if slug in by_provider:
        return int(by_provider[slug])
    return int(getattr(settings, "MODELDESK_DISCOVERY_MAX_MODELS", DEFAULT_MAX_MODELS))


def _over_limit(slug: str, limit: int, entries: int) -> str:
    how_many = f"more than {limit:,}" if entries > limit else f"{entries:,}"
    return (
        f"the upstream lists {how_many} models, over this provider's limit of {limit:,}; discovery refused the "
        f"whole listing and nothing was added or changed. If {slug} really serves that many, raise the limit "
        f"(MODELDESK_DISCOVERY_MAX_MODELS_BY_PROVIDER={slug}=N, or MODELDESK_DISCOVERY_MAX_MODELS)"
    )


@dataclass(slots=True)
class DiscoveryResult:
    """What one discovery run found and did (model ids, not qualified ids)."""

    provider: str
    dry_run: bool = False
    source: str = "none"  # upstream | cache | stale-cache | none
    listed: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: Listed entries that cannot be stored (bad id, absurd numbers, negative prices…): never written.
    rejected: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def summary(self) -> str:
        verb = "would add" if self.dry_run else "added"
        parts = [
            f"{self.listed} listed ({self.source})",
            f"{len(self.added)} {verb}",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.missing)} no longer listed",
        ]
        if self.validated:
            parts.append(f"{len(self.validated)} validated, {len(self.invalid)} invalid")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        if self.rejected:
            parts.append(f"{len(self.rejected)} invalid entries rejected")
        text = f"{self.provider}: " + ", ".join(parts)
        if self.errors:
            text += " — error: " + "; ".join(self.errors)
        return text


def _to_validate(info: ProviderInfo, listing: Listing, *, force: bool, result: DiscoveryResult) -> list[str]:
    """New models and models never checked; everything listed with `force`; known-invalid ones skipped."""
    statuses = dict(ProviderModel.objects.filter(provider_id=info.id).values_list("model_id", "status"))
    found = catalog.lookup_many([m.model_id for m in listing.models])
    chosen = []
    for listed in dict.fromkeys(m.model_id for m in listing.models):
        status = statuses.get(listed)
        if found.get(listed) is not None and not found[listed].chat:
            continue  # embeddings, speech…: a chat `ping` says nothing about them
        if force or status in (None, ModelStatus.UNKNOWN):
            chosen.append(listed)
        elif status == ModelStatus.INVALID:
            result.skipped.append({"model_id": listed, "reason": "known invalid (force re-checks it)"})
    return chosen


def discover_models(
    provider: Provider | ProviderInfo | int,
    force: bool = False,
    validate: bool = False,
    dry_run: bool = False,
    *,
    concurrency: int | None = None,
) -> DiscoveryResult:
    """Discover (and optionally validate) a provider's upstream models; see the module docstring."""
    started = time.perf_counter()
    info = provider_info(provider)
    result = DiscoveryResult(provider=info.slug, dry_run=dry_run)
    if not info.is_active:
        result.errors.append(f"provider {info.slug} is inactive ({info.inactive_reason}); nothing was sent upstream")
        return result
    limit = max_models(info.slug)
    listing = fetch_listing(info, force=force, limit=limit)
    result.source, result.listed = listing.source, listing.entries
    if listing.entries > limit:
        result.errors.append(_over_limit(info.slug, limit, listing.entries))
        result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return result
    result.rejected = list(listing.rejected)
    if listing.error:
        if listing.source == "stale-cache":
            result.warnings.append(f"the upstream failed ({listing.error}); used the last listing")
        else:
            result.errors.append(listing.error)
            result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
            return result  # nothing to merge: existing models are left exactly as they are
    verdicts = {}
    if validate:
        candidates = _to_validate(info, listing, force=force, result=result)
        verdicts = validate_models(info, candidates, concurrency=concurrency)
        result.validated = sorted(verdicts)
        result.invalid = sorted(m for m, v in verdicts.items() if not v.ok)
    try:
        outcome = merge_listing(provider_id=info.id, listing=listing.models, verdicts=verdicts, dry_run=dry_run)
    except IntegrityError:
        # An operator's edit (an alias, a new model) committed between our read and our write.
        result.errors.append("the provider's models changed while they were being merged; nothing was written")
        result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return result
    result.added, result.updated, result.unchanged = outcome.added, outcome.updated, outcome.unchanged
    result.missing = outcome.missing
    result.skipped += outcome.skipped
    result.warnings += outcome.warnings
    result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return result
