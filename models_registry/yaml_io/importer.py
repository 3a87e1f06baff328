"""`import_providers`: upsert a providers file by slug and model_id, all or nothing (SPEC §8).

The import is planned first, read-only: every row to create or change is built
and validated in memory and compared with the database, so `--dry-run` reports
exactly what a real run would do. The real run then writes the plan in one
transaction with bulk statements (a 1000-model file is a handful of queries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from models_registry import catalog
from models_registry.bulk import bulk_update_rows
from models_registry.well_known import WELL_KNOWN, infer_kind
from models_registry.yaml_io.loader import load_yaml
from models_registry.yaml_io.schema import DocumentErrors, ModelSpec, ProvidersDocument, parse_document
from providers import crypto, services
from providers.fields import reveal
from providers.models import Provider, ProviderModel
from providers.snapshot import invalidate

BATCH_SIZE = 500


@dataclass(slots=True)
class ImportReport:
    """What an import did (or, with dry_run, would do). Never holds a secret."""

    dry_run: bool = False
    created_providers: list[str] = field(default_factory=list)
    updated_providers: dict[str, list[str]] = field(default_factory=dict)
    created_models: list[str] = field(default_factory=list)
    updated_models: dict[str, list[str]] = field(default_factory=dict)
    unchanged_models: int = 0
    default_model: tuple[str | None, str | None] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.created_providers
            or self.updated_providers
            or self.created_models
            or self.updated_models
            or self.default_model
        )

    def lines(self) -> list[str]:
        out = [f"+ provider {slug}" for slug in self.created_providers]
        out += [f"~ provider {slug}: {', '.join(changes)}" for slug, changes in self.updated_providers.items()]
        out += [f"+ model {name}" for name in self.created_models]
        out += [f"~ model {name}: {', '.join(changes)}" for name, changes in self.updated_models.items()]
        if self.default_model:
            old, new = self.default_model
            out.append(f"~ default model: {old or 'none'} -> {new or 'none'}")
        verb = "would be" if self.dry_run else "were"
        out.append(
            f"{len(self.created_providers)} provider(s) and {len(self.created_models)} model(s) {verb} created, "
            f"{len(self.updated_providers)} provider(s) and {len(self.updated_models)} model(s) {verb} changed, "
            f"{self.unchanged_models} model(s) unchanged."
        )
        return out


@dataclass(slots=True)
class _Plan:
    report: ImportReport
    providers: list[tuple[Provider, bool]] = field(default_factory=list)  # (instance, changed)
    new_models: list[tuple[str, ProviderModel]] = field(default_factory=list)  # (slug, instance)
    changed_models: list[ProviderModel] = field(default_factory=list)
    changed_fields: set[str] = field(default_factory=set)
    alias_moves: list[int] = field(default_factory=list)
    default_target: tuple[str, str] | None = None  # (slug, model_id)
    clear_default: bool = False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _key_differs(stored: Any, new: str) -> bool:
    try:
        return reveal(stored) != new
    except crypto.DecryptionError:
        return True


def _validate(instance: Any, where: str, errors: list[str], exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.extend(f"{where}.{name}: {message}" for message in messages)


def _plan_providers(doc: ProvidersDocument, plan: _Plan, errors: list[str]) -> dict[str, Provider]:
    slugs = [spec.slug for spec in doc.providers]
    existing = {p.slug: p for p in Provider.objects.all()}
    result: dict[str, Provider] = {}
    for spec in doc.providers:
        provider = existing.get(spec.slug)
        if provider is None:
            known = WELL_KNOWN.get(spec.slug)
            defaults: dict[str, Any] = {"name": known.name if known else spec.slug, "kind": infer_kind(spec.slug)}
            if known and "base_url" not in spec.fields:
                defaults["base_url"] = known.base_url
            if known and known.api_version and "api_version" not in spec.fields:
                defaults["api_version"] = known.api_version
            provider = Provider(slug=spec.slug, **{**defaults, **spec.fields})
            plan.report.created_providers.append(spec.slug)
            plan.providers.append((provider, True))
        else:
            changes = []
            for name, value in spec.fields.items():
                if name == "api_key":
                    if _key_differs(provider.api_key, value):
                        changes.append("api_key (changed)")
                        provider.api_key = value
                elif getattr(provider, name) != value:
                    changes.append(f"{name}: {_show(getattr(provider, name))} -> {_show(value)}")
                    setattr(provider, name, value)
            if changes:
                plan.report.updated_providers[spec.slug] = changes
            plan.providers.append((provider, bool(changes)))
        _validate(provider, spec.where, errors)
        result[spec.slug] = provider
    names: dict[str, str] = {p.name: slug for slug, p in existing.items() if slug not in slugs}
    for slug, provider in result.items():
        if provider.name in names:
            errors.append(
                f"providers.{slug}.name: {provider.name!r} is already the name of provider {names[provider.name]}"
            )
        names.setdefault(provider.name, slug)
    return result


def _plan_models(doc: ProvidersDocument, providers: dict[str, Provider], plan: _Plan, errors: list[str]) -> None:
    existing: dict[tuple[str, str], ProviderModel] = {}
    saved_ids = [p.pk for p in providers.values() if p.pk]
    for model in ProviderModel.objects.filter(provider_id__in=saved_ids).select_related("provider"):
        existing[(model.provider.slug, model.model_id)] = model
    to_fill: list[tuple[ProviderModel, ModelSpec]] = []
    final_alias: dict[tuple[str, str], str] = {}
    for spec_provider in doc.providers:
        slug = spec_provider.slug
        for spec in spec_provider.models:
            model = existing.get((slug, spec.model_id))
            if model is None:
                model = ProviderModel(model_id=spec.model_id, **spec.fields)
                model.provider = providers[slug]
                plan.new_models.append((slug, model))
                plan.report.created_models.append(f"{slug}/{spec.model_id}")
            else:
                _diff_model(model, spec, slug, plan)
            to_fill.append((model, spec))
            _validate(model, spec.where, errors, exclude=["provider"])
            final_alias[(slug, spec.model_id)] = model.alias
    found = catalog.lookup_many([m.model_id for m, _ in to_fill])
    for model, spec in to_fill:
        before = (model.capabilities, model.capabilities_source, model.context_window, model.max_output_tokens)
        # What the file states explicitly is never replaced by the catalog.
        if catalog.fill_from_catalog(model, found[model.model_id], keep=set(spec.fields)) and model.pk:
            after = (model.capabilities, model.capabilities_source, model.context_window, model.max_output_tokens)
            names = ["capabilities", "capabilities_source", "context_window", "max_output_tokens"]
            changed = [n for n, b, a in zip(names, before, after, strict=True) if b != a]
            qualified = f"{model.provider.slug}/{model.model_id}"
            if qualified not in plan.report.updated_models:
                plan.changed_models.append(model)
            plan.report.updated_models.setdefault(qualified, []).extend(f"{n} (catalog)" for n in changed)
            plan.changed_fields.update(changed)
    plan.report.unchanged_models = sum(
        1
        for spec_provider in doc.providers
        for spec in spec_provider.models
        if (spec_provider.slug, spec.model_id) in existing
        and f"{spec_provider.slug}/{spec.model_id}" not in plan.report.updated_models
    )
    _check_aliases(final_alias, errors)


def _diff_model(model: ProviderModel, spec: ModelSpec, slug: str, plan: _Plan) -> None:
    changes = []
    for name, value in spec.fields.items():
        old = getattr(model, name)
        if old != value:
            changes.append(f"{name}: {_show(old)} -> {_show(value)}")
            if name == "alias" and old:
                plan.alias_moves.append(model.pk)
            setattr(model, name, value)
            plan.changed_fields.add(name)
    if changes:
        plan.changed_models.append(model)
        plan.report.updated_models[f"{slug}/{model.model_id}"] = changes


def _check_aliases(final_alias: dict[tuple[str, str], str], errors: list[str]) -> None:
    """Aliases are unique across every provider: the file's and the rest of the database."""
    owners = {alias: f"{slug}/{model_id}" for (slug, model_id), alias in final_alias.items() if alias}
    in_file = set(final_alias)
    for alias, slug, model_id in ProviderModel.objects.exclude(alias="").values_list(
        "alias", "provider__slug", "model_id"
    ):
        if (slug, model_id) in in_file:
            continue
        if alias in owners:
            errors.append(f"alias {alias!r} of {owners[alias]} is already used by {slug}/{model_id}")


def _plan_default(doc: ProvidersDocument, providers: dict[str, Provider], plan: _Plan, errors: list[str]) -> None:
    current = ProviderModel.objects.filter(is_default=True).select_related("provider").first()
    current_name = current.qualified_id if current else None
    finals: dict[tuple[str, str], ProviderModel] = {}
    for model in [m for _, m in plan.new_models] + plan.changed_models:
        finals[(model.provider.slug, model.model_id)] = model
    if doc.default_model:
        target = _resolve_in_file(doc, doc.default_model, errors)
        if target is None:
            return
        slug, model_id = target
        model = finals.get(target) or ProviderModel.objects.filter(provider__slug=slug, model_id=model_id).first()
        if model is not None and not model.is_enabled:
            errors.append(f"default_model: {slug}/{model_id} is disabled in the file; the default must be enabled")
        elif not providers[slug].is_enabled:
            errors.append(f"default_model: provider {slug} is disabled in the file")
        plan.default_target = target
        if current_name != f"{slug}/{model_id}":
            plan.report.default_model = (current_name, f"{slug}/{model_id}")
        return
    if current is not None:
        final = finals.get((current.provider.slug, current.model_id), current)
        provider = providers.get(current.provider.slug, current.provider)
        if not final.is_enabled or not provider.is_enabled:
            plan.clear_default = True
            plan.report.default_model = (current_name, None)
            plan.report.warnings.append(f"the file disables the default model {current_name}; there is no default now")


def _resolve_in_file(doc: ProvidersDocument, value: str, errors: list[str]) -> tuple[str, str] | None:
    """A model string resolved among the file's models only (SPEC §4 rules, file scope)."""
    candidates: list[tuple[str, str]] = []
    slug, sep, rest = value.partition("/")
    for provider in doc.providers:
        for spec in provider.models:
            names = {spec.model_id, spec.fields.get("alias") or spec.model_id}
            if sep and provider.slug == slug and rest in names or value in names:
                candidates.append((provider.slug, spec.model_id))
    exact = [c for c in candidates if f"{c[0]}/{c[1]}" == value]
    if exact:
        return exact[0]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        errors.append(f"default_model: {value!r} names no model in the file")
    else:
        names = ", ".join(sorted(f"{s}/{m}" for s, m in candidates))
        errors.append(f"default_model: {value!r} is ambiguous ({names}); use provider/model")
    return None


def plan_import(doc: ProvidersDocument, *, dry_run: bool) -> _Plan:
    plan = _Plan(report=ImportReport(dry_run=dry_run, warnings=list(doc.warnings)))
    errors: list[str] = []
    providers = _plan_providers(doc, plan, errors)
    _plan_models(doc, providers, plan, errors)
    _plan_default(doc, providers, plan, errors)
    if errors:
        raise DocumentErrors(errors)
    return plan


def _apply(plan: _Plan) -> None:
    for provider, changed in plan.providers:
        if changed:
            provider.save()
    if plan.alias_moves:
        # Free moved aliases first: a single UPDATE that swaps two aliases would trip the unique index.
        ProviderModel.objects.filter(pk__in=plan.alias_moves).update(alias="")
    now = timezone.now()
    if plan.changed_models:
        for model in plan.changed_models:
            model.updated_at = now
        bulk_update_rows(plan.changed_models, sorted(plan.changed_fields | {"updated_at"}))
    if plan.new_models:
        ProviderModel.objects.bulk_create([m for _, m in plan.new_models], batch_size=BATCH_SIZE)
    if plan.default_target:
        slug, model_id = plan.default_target
        target = ProviderModel.objects.get(provider__slug=slug, model_id=model_id)
        services.set_default_model(model=target)
    elif plan.clear_default:
        services.clear_default_model()
    # Bulk statements send no signals: bump the configuration version ourselves.
    invalidate()
    transaction.on_commit(invalidate)


def import_providers(
    text: str | bytes, *, source: str = "<yaml>", dry_run: bool = False, allow_missing_keys: bool = False
) -> ImportReport:
    """Import a providers file (SPEC §8). Raises YamlLoadError or DocumentErrors; writes nothing then."""
    doc = parse_document(load_yaml(text, source=source), allow_missing_keys=allow_missing_keys)
    if dry_run:
        return plan_import(doc, dry_run=True).report
    try:
        with transaction.atomic():
            # The default-switch lock before any row lock, in set_default_model's order (taken after
            # the rows _apply writes, a concurrent switch waiting for one of them deadlocks); it also
            # serializes imports, so a plan is never applied over another import's rows.
            services._lock_default_switch()
            plan = plan_import(doc, dry_run=False)
            _apply(plan)
    except IntegrityError as exc:
        raise DocumentErrors([f"the database refused the import: {exc}"]) from exc
    except ValidationError as exc:
        raise DocumentErrors([f"default_model: {'; '.join(exc.messages)}"]) from exc
    return plan.report
