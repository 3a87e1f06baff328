"""Merging an upstream listing into a provider's models, in bulk (SPEC §7).

Existing rows keep their names, aliases, enabled flags and the default; metadata
the upstream gives wins over stored values (except capabilities an operator
declared); what the upstream does not say comes from the catalog where the row
has nothing. Models the upstream stopped listing are marked
(`is_listed_upstream=False`), never deleted. New models validated invalid (or
retired upstream) are added disabled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from models_registry import catalog
from models_registry.bulk import bulk_update_rows
from models_registry.discovery import checks
from models_registry.discovery.listing import ListedModel
from models_registry.discovery.validation import Verdict
from providers.models import CapabilitySource, ModelStatus, Provider, ProviderModel
from providers.snapshot import invalidate

BATCH_SIZE = 500
#: Fields discovery may change on an existing row (never name when set, alias, is_enabled, is_default).
MERGED_FIELDS = (
    "name",
    "capabilities",
    "capabilities_source",
    "context_window",
    "max_output_tokens",
    "input_price_per_mtok",
    "output_price_per_mtok",
    "status",
    "status_detail",
    "last_checked_at",
    "is_listed_upstream",
)


@dataclass(slots=True)
class MergeOutcome:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _apply_metadata(model: ProviderModel, listed: ListedModel, found: catalog.CatalogMatch | None) -> None:
    if not model.name and listed.name:
        model.name = listed.name
    declared = model.capabilities_source == CapabilitySource.DECLARED and model.capabilities
    if listed.capabilities and not declared:
        base = found.capabilities if found else {}
        model.capabilities = {**base, **listed.capabilities}
        model.capabilities_source = CapabilitySource.PROVIDER
    elif found is not None:
        catalog.fill_from_catalog(model, found)
    if listed.context_window:
        model.context_window = listed.context_window
    elif model.context_window is None and found is not None:
        model.context_window = found.context_window
    if listed.max_output_tokens:
        model.max_output_tokens = listed.max_output_tokens
    elif model.max_output_tokens is None and found is not None:
        model.max_output_tokens = found.max_output_tokens
    if listed.input_price_per_mtok is not None:
        model.input_price_per_mtok = _decimal(listed.input_price_per_mtok)
    if listed.output_price_per_mtok is not None:
        model.output_price_per_mtok = _decimal(listed.output_price_per_mtok)
    if listed.lifecycle == "retired":
        model.status = ModelStatus.INVALID
        model.status_detail = "retired upstream"
    elif listed.lifecycle == "deprecated" and not model.status_detail:
        model.status_detail = "deprecated upstream"
    model.is_listed_upstream = True


def _apply_verdict(model: ProviderModel, verdict: Verdict | None, now: Any) -> None:
    if verdict is None:
        return
    model.status = ModelStatus.VALID if verdict.ok else ModelStatus.INVALID
    model.status_detail = checks.clean_detail(verdict.detail)[:2000]  # the upstream's words: no NUL
    model.last_checked_at = now


def _snapshot_of(model: ProviderModel) -> tuple:
    return tuple(getattr(model, name) for name in MERGED_FIELDS if name != "last_checked_at")


def merge_listing(
    *,
    provider_id: int,
    listing: list[ListedModel],
    verdicts: dict[str, Verdict],
    dry_run: bool,
) -> MergeOutcome:
    """Merge and (unless dry_run) write in one transaction: a constant number of queries per 500 models."""
    outcome = MergeOutcome()
    now = timezone.now()
    with transaction.atomic():
        rows = ProviderModel.objects.filter(provider_id=provider_id)
        if not dry_run:
            # Two discoveries of one provider queue here instead of racing to insert the same new rows.
            list(Provider.objects.select_for_update().filter(pk=provider_id).values_list("pk"))
            rows = rows.select_for_update()
        existing = {m.model_id: m for m in rows}
        found = catalog.lookup_many([m.model_id for m in listing])
        new_rows: list[ProviderModel] = []
        changed_rows: list[ProviderModel] = []
        listed_ids = set()
        for listed in listing:
            if listed.model_id in listed_ids:
                continue
            listed_ids.add(listed.model_id)
            match = found.get(listed.model_id)
            model = existing.get(listed.model_id)
            if model is None:
                if match is not None and not match.chat:
                    reason = f"not a chat model ({match.family})"
                    outcome.skipped.append({"model_id": listed.model_id, "reason": reason})
                    continue
                model = ProviderModel(provider_id=provider_id, model_id=listed.model_id, capabilities_source="")
                _apply_metadata(model, listed, match)
                _apply_verdict(model, verdicts.get(listed.model_id), now)
                # A model that does not answer is not offered until an operator decides otherwise.
                model.is_enabled = model.status != ModelStatus.INVALID
                model.capabilities_source = model.capabilities_source or CapabilitySource.CATALOG
                new_rows.append(model)
                outcome.added.append(listed.model_id)
                continue
            before = _snapshot_of(model)
            _apply_metadata(model, listed, match)
            _apply_verdict(model, verdicts.get(listed.model_id), now)
            if _snapshot_of(model) != before:
                outcome.updated.append(listed.model_id)
                changed_rows.append(model)
            else:
                outcome.unchanged.append(listed.model_id)
                if listed.model_id in verdicts:
                    changed_rows.append(model)  # only last_checked_at moves
        for model_id, model in existing.items():
            if model_id in listed_ids:
                continue
            outcome.missing.append(model_id)
            if model.is_default:
                outcome.warnings.append(
                    f"the default model {model_id} is no longer listed upstream; it stays the default"
                )
            if model.is_listed_upstream:
                model.is_listed_upstream = False
                changed_rows.append(model)
        if not dry_run:
            _write(new_rows, changed_rows, now)
    return outcome


def _write(new_rows: list[ProviderModel], changed_rows: list[ProviderModel], now: Any) -> None:
    for model in changed_rows:
        model.updated_at = now
    if changed_rows:
        bulk_update_rows(changed_rows, [*MERGED_FIELDS, "updated_at"])
    if new_rows:
        ProviderModel.objects.bulk_create(new_rows, batch_size=BATCH_SIZE)
    if new_rows or changed_rows:
        # Bulk statements send no signals: bump the configuration version ourselves.
        invalidate()
        transaction.on_commit(invalidate)
