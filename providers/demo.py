"""Demo configuration for a fresh install (`manage.py seed_demo`, run by `make run`).

OpenAI, Anthropic, a local Ollama and the offline Echo provider, with a few
realistic models each, and `echo/echo-1` as the default so a fresh install
answers without any account. Seeding only ever adds rows; it never changes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from providers import services
from providers.models import Provider, ProviderModel

DEFAULT_MODEL = ("echo", "echo-1")

DEMO_PROVIDERS: list[dict[str, Any]] = [
    {
        "name": "OpenAI",
        "slug": "openai",
        "kind": "openai",
        "base_url": "",  # the SDK's default endpoint
        "models": [
            {
                "model_id": "gpt-4o-mini",
                "name": "GPT-4o mini",
                "alias": "4o-mini",
                "capabilities": {"vision": True, "tools": True, "streaming": True, "json_mode": True},
                "context_window": 128_000,
                "max_output_tokens": 16_384,
                "input_price_per_mtok": "0.15",
                "output_price_per_mtok": "0.60",
            },
            {
                "model_id": "gpt-4o",
                "name": "GPT-4o",
                "alias": "4o",
                "capabilities": {"vision": True, "tools": True, "streaming": True, "json_mode": True},
                "context_window": 128_000,
                "max_output_tokens": 16_384,
                "input_price_per_mtok": "2.50",
                "output_price_per_mtok": "10.00",
            },
            {
                "model_id": "gpt-4.1",
                "name": "GPT-4.1",
                "capabilities": {"vision": True, "tools": True, "streaming": True, "json_mode": True},
                "context_window": 1_047_576,
                "max_output_tokens": 32_768,
                "input_price_per_mtok": "2.00",
                "output_price_per_mtok": "8.00",
            },
            {
                "model_id": "o4-mini",
                "name": "o4-mini",
                "capabilities": {"vision": True, "tools": True, "streaming": True, "reasoning": True},
                "context_window": 200_000,
                "max_output_tokens": 100_000,
                "input_price_per_mtok": "1.10",
                "output_price_per_mtok": "4.40",
            },
        ],
    },
    {
        "name": "Anthropic",
        "slug": "anthropic",
        "kind": "anthropic",
        "base_url": "",
        "models": [
            {
                "model_id": "claude-sonnet-4-5",
                "name": "Claude Sonnet 4.5",
                "alias": "sonnet",
                "capabilities": {"vision": True, "tools": True, "streaming": True, "thinking": "budget"},
                "context_window": 200_000,
                "max_output_tokens": 64_000,
                "input_price_per_mtok": "3.00",
                "output_price_per_mtok": "15.00",
            },
            {
                "model_id": "claude-haiku-4-5",
                "name": "Claude Haiku 4.5",
                "alias": "haiku",
                "capabilities": {"vision": True, "tools": True, "streaming": True, "thinking": "budget"},
                "context_window": 200_000,
                "max_output_tokens": 64_000,
                "input_price_per_mtok": "1.00",
                "output_price_per_mtok": "5.00",
            },
            {
                "model_id": "claude-opus-4-6",
                "name": "Claude Opus 4.6",
                "alias": "opus",
                "capabilities": {
                    "vision": True,
                    "tools": True,
                    "streaming": True,
                    "json_mode": True,
                    "thinking": "adaptive",
                },
                "context_window": 1_000_000,
                "max_output_tokens": 128_000,
                "input_price_per_mtok": "5.00",
                "output_price_per_mtok": "25.00",
            },
        ],
    },
    {
        "name": "Ollama",
        "slug": "ollama",
        "kind": "openai_compatible",
        "base_url": "http://127.0.0.1:11434/v1",
        "models": [
            {
                "model_id": "llama3.2",
                "name": "Llama 3.2 3B",
                "alias": "llama",
                "capabilities": {"tools": True, "streaming": True},
                "context_window": 131_072,
                "max_output_tokens": 8_192,
                "input_price_per_mtok": "0",
                "output_price_per_mtok": "0",
            },
            {
                "model_id": "qwen2.5-coder:7b",
                "name": "Qwen2.5 Coder 7B",
                "capabilities": {"tools": True, "streaming": True},
                "context_window": 32_768,
                "max_output_tokens": 8_192,
                "input_price_per_mtok": "0",
                "output_price_per_mtok": "0",
            },
        ],
    },
    {
        "name": "Echo",
        "slug": "echo",
        "kind": "echo",
        "base_url": "",
        "models": [
            {
                "model_id": "echo-1",
                "name": "Echo (offline demo)",
                "alias": "echo",
                "capabilities": {"streaming": True},
                "context_window": 8_192,
                "max_output_tokens": 4_096,
                "input_price_per_mtok": "0",
                "output_price_per_mtok": "0",
            },
        ],
    },
]


@dataclass
class SeedReport:
    """What `seed_demo` did; `skipped` says why nothing was added, when it was not."""

    providers: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    default_model: str | None = None
    skipped: str = ""
    notes: list[str] = field(default_factory=list)


@transaction.atomic
def seed_demo(*, force: bool = False) -> SeedReport:
    """Add the demo providers and models to a configuration that has no provider yet.

    With `force`, add the demo providers that are missing (by slug) to any
    configuration. Existing providers and models are never changed, and a provider
    the operator deleted comes back only with `force`, so running it again (as
    `make run` does) changes nothing.
    """
    report = SeedReport()
    existing = Provider.objects.count()
    if existing and not force:
        report.skipped = (
            f"the configuration already has {existing} provider(s) (--force adds the missing demo providers)"
        )
        return report
    taken_slugs = set(Provider.objects.values_list("slug", flat=True))
    taken_names = set(Provider.objects.values_list("name", flat=True))
    for spec in DEMO_PROVIDERS:
        if spec["slug"] in taken_slugs:
            continue
        if spec["name"] in taken_names:
            report.notes.append(f"{spec['slug']}: skipped, another provider is already named {spec['name']!r}")
            continue
        provider = services.provider_create(**{k: v for k, v in spec.items() if k != "models"})
        report.providers.append(provider.slug)
        for model_spec in spec["models"]:
            report.models.append(_add_model(provider, model_spec, report).qualified_id)
    if not ProviderModel.objects.filter(is_default=True).exists():
        slug, model_id = DEFAULT_MODEL
        if slug in report.providers:  # only a default we created, never one the operator cleared
            default = ProviderModel.objects.get(provider__slug=slug, model_id=model_id)
            report.default_model = services.set_default_model(model=default).qualified_id
    return report


def _add_model(provider: Provider, spec: dict[str, Any], report: SeedReport) -> ProviderModel:
    data = dict(spec)
    for price in ("input_price_per_mtok", "output_price_per_mtok"):
        data[price] = Decimal(data[price])
    alias = data.get("alias", "")
    if alias and ProviderModel.objects.filter(alias=alias).exists():
        report.notes.append(f"{provider.slug}/{data['model_id']}: alias {alias!r} is taken, added without it")
        data["alias"] = ""
    return services.model_create(provider=provider, **data)
