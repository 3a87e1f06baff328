"""Prepare a benchmark database: providers pointing at the fake upstreams, a key, or a big registry.

Run with the benchmark's environment (DATABASE_URL, keys, DJANGO_SETTINGS_MODULE), after `migrate`:

    python -m bench.setup_data chat --upstream bench-fast=http://127.0.0.1:9100/v1 ... --key-file K
    python -m bench.setup_data registry --providers 100 --models 50 --key-file K

Goes through the product's services (as an operator's change would), except the
5,000 registry models, which are bulk-inserted once and then the snapshot is invalidated.
Idempotent: reruns update base URLs and keep existing rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import django


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()


def ensure_key(key_file: Path, scopes: list[str]) -> str:
    """A bench user and an API key; the raw key is kept in `key_file` (var/bench, git-ignored)."""
    from django.contrib.auth import get_user_model

    from access.selectors import find_key
    from access.services import api_key_create

    if key_file.exists():
        raw = key_file.read_text().strip()
        if find_key(raw) is not None:
            return raw
    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_staff": False})
    _, raw = api_key_create(name="bench", user=user, scopes=scopes)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(raw + "\n")
    key_file.chmod(0o600)
    return raw


def setup_chat(upstreams: dict[str, str], model_id: str) -> dict:
    """One openai_compatible provider per upstream (slug = name), each with `model_id`; first is default."""
    from providers import services
    from providers.models import Provider, ProviderModel

    done = {}
    first = None
    for slug, base_url in upstreams.items():
        provider = Provider.objects.filter(slug=slug).first()
        fields = {
            "kind": "openai_compatible",
            "base_url": base_url,
            "api_key": "sk-bench-upstream-key",
            "timeout_seconds": 30,
            "max_retries": 0,
        }
        if provider is None:
            provider = services.provider_create(name=slug, slug=slug, **fields)
        elif provider.base_url != base_url:
            provider = services.provider_update(provider=provider, base_url=base_url)
        model = ProviderModel.objects.filter(provider=provider, model_id=model_id).first()
        if model is None:
            model = services.model_create(
                provider=provider,
                model_id=model_id,
                name=f"{slug} {model_id}",
                capabilities={"streaming": True},
                input_price_per_mtok="0.15",
                output_price_per_mtok="0.60",
            )
        first = first or model
        done[slug] = f"{slug}/{model_id}"
    if first is not None and not first.is_default:
        services.set_default_model(model=first)
    return done


def clear_request_log() -> int:
    """Start every run with an empty request log, so runs insert into tables of the same size."""
    from chat.models import RequestLog

    deleted, _ = RequestLog.objects.all().delete()
    return deleted


def setup_registry(n_providers: int, n_models: int) -> dict:
    from django.db import transaction

    from providers import services
    from providers.models import Provider, ProviderModel
    from providers.snapshot import invalidate

    existing = Provider.objects.filter(slug__startswith="reg-").count()
    if existing < n_providers:
        for i in range(existing, n_providers):
            services.provider_create(
                name=f"Registry provider {i:03d}",
                slug=f"reg-{i:03d}",
                kind="openai",
                api_key=f"sk-registry-{i:03d}-secret-value",
                image_url=f"https://example.invalid/logo-{i}.png",
            )
    with transaction.atomic():
        for provider in Provider.objects.filter(slug__startswith="reg-"):
            have = set(ProviderModel.objects.filter(provider=provider).values_list("model_id", flat=True))
            rows = [
                ProviderModel(
                    provider=provider,
                    model_id=f"model-{j:02d}",
                    name=f"Model {j:02d} of {provider.slug}",
                    alias="",
                    capabilities={"streaming": True, "tools": j % 2 == 0, "vision": j % 3 == 0},
                    context_window=128_000,
                    max_output_tokens=16_384,
                    sort_order=j,
                )
                for j in range(n_models)
                if f"model-{j:02d}" not in have
            ]
            ProviderModel.objects.bulk_create(rows)
    invalidate()
    first = ProviderModel.objects.filter(provider__slug="reg-000", model_id="model-00").first()
    if first is not None and not first.is_default:
        services.set_default_model(model=first)
    return {
        "providers": Provider.objects.filter(slug__startswith="reg-").count(),
        "models": ProviderModel.objects.filter(provider__slug__startswith="reg-").count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    chat = sub.add_parser("chat")
    chat.add_argument("--upstream", action="append", required=True, help="slug=base_url")
    chat.add_argument("--model-id", default="bench-model")
    chat.add_argument("--key-file", type=Path, required=True)
    reg = sub.add_parser("registry")
    reg.add_argument("--providers", type=int, default=100)
    reg.add_argument("--models", type=int, default=50)
    reg.add_argument("--key-file", type=Path, required=True)
    args = parser.parse_args(argv)
    _setup()
    if args.what == "chat":
        upstreams = dict(item.split("=", 1) for item in args.upstream)
        out = {"models": setup_chat(upstreams, args.model_id), "request_log_rows_deleted": clear_request_log()}
        ensure_key(args.key_file, ["read", "chat"])
    else:
        out = setup_registry(args.providers, args.models)
        ensure_key(args.key_file, ["read"])
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
