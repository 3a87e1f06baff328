"""`import_env`: seed providers and models from MODELS (or the legacy lists) and DEFAULT_MODEL (SPEC §2, §9).

`MODELS=openai:gpt-4o-mini,anthropic:claude-sonnet-4-5` names models by provider
slug; when it is empty, `OPENAI_MODELS` and `ANTHROPIC_MODELS` list model ids of
those two providers. Providers are created from well-known slugs when missing.
A provider without any key (stored, or `<SLUG>_API_KEY` in the environment) that
needs one is skipped with one warning, its models too. Existing models are left
as they are, so running it again changes nothing. Values are read from
`django.conf.settings` at run time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from models_registry import services
from models_registry.well_known import WELL_KNOWN
from providers import services as provider_services
from providers.activity import needs_api_key
from providers.models import Provider, ProviderModel, env_key_name


class EnvImportError(ValueError):
    """A setting that cannot be applied; names the setting and the value."""


@dataclass(slots=True)
class EnvImportReport:
    dry_run: bool = False
    created_providers: list[str] = field(default_factory=list)
    created_models: list[str] = field(default_factory=list)
    existing_models: list[str] = field(default_factory=list)
    default_model: str | None = None
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"+ provider {slug}" for slug in self.created_providers]
        out += [f"+ model {name}" for name in self.created_models]
        if self.default_model:
            out.append(f"~ default model: {self.default_model}")
        verb = "would be" if self.dry_run else "were"
        out.append(
            f"{len(self.created_providers)} provider(s) and {len(self.created_models)} model(s) {verb} created, "
            f"{len(self.existing_models)} model(s) already present."
        )
        return out


def _split(value: str) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def parse_models_setting(value: str) -> list[tuple[str, str]]:
    """`openai:gpt-4o-mini,ollama:llama3.1:8b` → [(slug, model_id)]; `slug/model` is accepted too."""
    pairs = []
    for item in _split(value):
        slug, sep, model_id = item.partition(":")
        if not sep:
            slug, sep, model_id = item.partition("/")
        slug, model_id = slug.strip().lower(), model_id.strip()
        if not sep or not slug or not model_id:
            raise EnvImportError(f"MODELS: {item!r} is not provider:model (e.g. openai:gpt-4o-mini)")
        pairs.append((slug, model_id))
    return pairs


def requested_models() -> list[tuple[str, str]]:
    """The (slug, model_id) pairs the settings ask for, in order, without duplicates."""
    pairs = parse_models_setting(settings.MODELS)
    if not pairs:
        pairs = [("openai", m) for m in _split(settings.OPENAI_MODELS)]
        pairs += [("anthropic", m) for m in _split(settings.ANTHROPIC_MODELS)]
    return list(dict.fromkeys(pairs))


def _has_key(slug: str, provider: Provider | None) -> bool:
    if os.environ.get(env_key_name(slug)):
        return True
    if provider is not None:
        return bool(provider.api_key) or not needs_api_key(provider.kind, provider.base_url)
    known = WELL_KNOWN[slug]
    return not needs_api_key(known.kind, known.base_url)


def _resolve_default(value: str, planned: list[tuple[str, str, str]], skipped: set[str]) -> tuple[str, str] | None:
    """DEFAULT_MODEL among the models there will be: `slug:model`, `slug/model`, a model id or an alias."""
    slug, sep, rest = value.partition(":")
    if not sep:
        slug, sep, rest = value.partition("/")
    if sep and (slug in skipped):
        return None
    candidates = [
        (s, m) for s, m, alias in planned if (sep and s == slug and rest in (m, alias)) or value in (m, alias)
    ]
    exact = [c for c in candidates if sep and c == (slug, rest)]
    if exact or len(set(candidates)) == 1:
        return (exact or candidates)[0]
    if not candidates:
        if not sep and any(value == m for s, m in requested_models() if s in skipped):
            return None
        raise EnvImportError(f"DEFAULT_MODEL: {value!r} names no configured model")
    names = ", ".join(sorted({f"{s}/{m}" for s, m in candidates}))
    raise EnvImportError(f"DEFAULT_MODEL: {value!r} is ambiguous ({names}); use provider/model")


def import_env(*, dry_run: bool = False) -> EnvImportReport:
    """Apply MODELS (or the legacy lists) and DEFAULT_MODEL; one transaction, idempotent."""
    report = EnvImportReport(dry_run=dry_run)
    pairs = requested_models()
    default_value = (settings.DEFAULT_MODEL or "").strip()
    with transaction.atomic():
        if default_value and not dry_run:
            # As import_providers does: the default-switch lock before any row is written (lock order).
            provider_services._lock_default_switch()
        providers = {p.slug: p for p in Provider.objects.filter(slug__in={s for s, _ in pairs} | {"-"})}
        unknown = sorted({s for s, _ in pairs if s not in providers and s not in WELL_KNOWN})
        if unknown:
            raise EnvImportError(
                f"MODELS: unknown provider(s) {', '.join(unknown)}: create them first (admin or import_providers) "
                f"or use a well-known slug ({', '.join(sorted(WELL_KNOWN))})"
            )
        by_slug: dict[str, list[str]] = {}
        for slug, model_id in pairs:
            by_slug.setdefault(slug, []).append(model_id)
        skipped = set()
        for slug, model_ids in by_slug.items():
            if not _has_key(slug, providers.get(slug)):
                skipped.add(slug)
                report.warnings.append(
                    f"{slug}: no API key (stored or {env_key_name(slug)}); skipped {len(model_ids)} model(s): "
                    + ", ".join(model_ids)
                )
        existing = {
            (slug, model_id): alias
            for slug, model_id, alias in ProviderModel.objects.values_list("provider__slug", "model_id", "alias")
        }
        for slug, model_ids in by_slug.items():
            if slug in skipped:
                continue
            if slug not in providers:
                report.created_providers.append(slug)
                if not dry_run:
                    providers[slug] = _create_provider(slug)
            for model_id in model_ids:
                qualified = f"{slug}/{model_id}"
                if (slug, model_id) in existing:
                    report.existing_models.append(qualified)
                    continue
                report.created_models.append(qualified)
                if not dry_run:
                    services.model_create(provider=providers[slug], model_id=model_id)
        if default_value:
            planned = [(s, m, a) for (s, m), a in existing.items()]
            planned += [(*name.split("/", 1), "") for name in report.created_models]
            target = _resolve_default(default_value, planned, skipped)
            if target is None:
                report.warnings.append(f"DEFAULT_MODEL {default_value!r} skipped: its provider has no API key")
            else:
                report.default_model = f"{target[0]}/{target[1]}"
                if not dry_run:
                    model = ProviderModel.objects.get(provider__slug=target[0], model_id=target[1])
                    try:
                        provider_services.set_default_model(model=model)
                    except ValidationError as exc:
                        raise EnvImportError(f"DEFAULT_MODEL: {'; '.join(exc.messages)}") from None
    return report


def _create_provider(slug: str) -> Provider:
    known = WELL_KNOWN[slug]
    name = known.name
    if Provider.objects.filter(name=name).exists():
        name = f"{known.name} ({slug})"
    return provider_services.provider_create(
        name=name, slug=slug, kind=known.kind, base_url=known.base_url, api_version=known.api_version
    )
