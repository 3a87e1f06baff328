"""Providers everybody knows by slug: what `import_env` creates and how YAML infers a kind."""

from __future__ import annotations

from dataclasses import dataclass

from providers.models import ProviderKind


@dataclass(frozen=True, slots=True)
class KnownProvider:
    name: str
    kind: str
    base_url: str = ""
    api_version: str = ""


OPENAI_COMPATIBLE = ProviderKind.OPENAI_COMPATIBLE.value

#: slug → how to create it. Base URLs are each vendor's documented OpenAI-compatible endpoint.
WELL_KNOWN: dict[str, KnownProvider] = {
    "openai": KnownProvider("OpenAI", ProviderKind.OPENAI.value),
    "anthropic": KnownProvider("Anthropic", ProviderKind.ANTHROPIC.value),
    # Azure needs the resource endpoint (base_url) set by the operator before it can be called.
    "azure": KnownProvider("Azure OpenAI", ProviderKind.AZURE_OPENAI.value, api_version="2024-10-21"),
    "azure-openai": KnownProvider("Azure OpenAI", ProviderKind.AZURE_OPENAI.value, api_version="2024-10-21"),
    "groq": KnownProvider("Groq", OPENAI_COMPATIBLE, "https://api.groq.com/openai/v1"),
    "mistral": KnownProvider("Mistral", OPENAI_COMPATIBLE, "https://api.mistral.ai/v1"),
    "openrouter": KnownProvider("OpenRouter", OPENAI_COMPATIBLE, "https://openrouter.ai/api/v1"),
    "together": KnownProvider("Together AI", OPENAI_COMPATIBLE, "https://api.together.xyz/v1"),
    "deepseek": KnownProvider("DeepSeek", OPENAI_COMPATIBLE, "https://api.deepseek.com/v1"),
    "fireworks": KnownProvider("Fireworks AI", OPENAI_COMPATIBLE, "https://api.fireworks.ai/inference/v1"),
    "perplexity": KnownProvider("Perplexity", OPENAI_COMPATIBLE, "https://api.perplexity.ai"),
    "xai": KnownProvider("xAI", OPENAI_COMPATIBLE, "https://api.x.ai/v1"),
    "cerebras": KnownProvider("Cerebras", OPENAI_COMPATIBLE, "https://api.cerebras.ai/v1"),
    "gemini": KnownProvider(
        "Google Gemini", OPENAI_COMPATIBLE, "https://generativelanguage.googleapis.com/v1beta/openai"
    ),
    "ollama": KnownProvider("Ollama", OPENAI_COMPATIBLE, "http://localhost:11434/v1"),
    "lmstudio": KnownProvider("LM Studio", OPENAI_COMPATIBLE, "http://localhost:1234/v1"),
    "vllm": KnownProvider("vLLM", OPENAI_COMPATIBLE, "http://localhost:8000/v1"),
    "echo": KnownProvider("Echo", ProviderKind.ECHO.value),
}


def infer_kind(slug: str) -> str:
    """The kind a slug implies: a well-known slug's kind, else `openai_compatible` (SPEC §8)."""
    known = WELL_KNOWN.get(slug)
    return known.kind if known else OPENAI_COMPATIBLE
