"""The configuration store: providers, their models and runtime settings (SPEC §3)."""

from __future__ import annotations

import os

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from providers.fields import EncryptedSecret, EncryptedTextField

SLUG_RE = r"^[a-z0-9][a-z0-9-]*$"
slug_validator = RegexValidator(
    SLUG_RE, "Enter a slug of lowercase letters, digits and hyphens, starting with a letter or digit."
)


class ProviderKind(models.TextChoices):
    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    AZURE_OPENAI = "azure_openai", "Azure OpenAI"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible"
    ECHO = "echo", "Echo (offline demo)"


class InactiveReason(models.TextChoices):
    DISABLED = "disabled", "disabled"
    NO_API_KEY = "no API key", "no API key"
    UNDECRYPTABLE = "key cannot be decrypted", "key cannot be decrypted"


class ModelStatus(models.TextChoices):
    UNKNOWN = "unknown", "unknown"
    VALID = "valid", "valid"
    INVALID = "invalid", "invalid"


class CapabilitySource(models.TextChoices):
    DECLARED = "declared", "declared by an operator"
    PROVIDER = "provider", "reported by the provider"
    CATALOG = "catalog", "catalog pattern"
    PROBED = "probed", "probed"


def env_key_name(slug: str) -> str:
    """`<SLUG>_API_KEY` for a provider slug: `azure-openai` → `AZURE_OPENAI_API_KEY`."""
    return slug.upper().replace("-", "_") + "_API_KEY"


class Provider(models.Model):
    """An upstream AI provider (an account at OpenAI, an Ollama server, …)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.CharField(
        max_length=50,
        unique=True,
        validators=[slug_validator],
        help_text="Prefix of model strings (`slug/model`); lowercase letters, digits, hyphens.",
    )
    kind = models.CharField(max_length=32, choices=ProviderKind.choices, default=ProviderKind.OPENAI)
    base_url = models.URLField(max_length=500, blank=True, help_text="Empty: the SDK's default endpoint.")
    api_key = EncryptedTextField(blank=True, default="", help_text="Encrypted at rest; write-only.")
    organization = models.CharField(max_length=200, blank=True)
    api_version = models.CharField(max_length=50, blank=True, help_text="Azure OpenAI API version.")
    image_url = models.URLField(max_length=500, blank=True, help_text="Logo shown in the registry.")
    is_enabled = models.BooleanField(default=True)
    timeout_seconds = models.FloatField(
        default=60, validators=[MinValueValidator(0.1)], help_text="Deadline for a whole upstream call."
    )
    max_retries = models.PositiveSmallIntegerField(default=2)
    extra_headers = models.JSONField(default=dict, blank=True, help_text="JSON object of extra HTTP headers.")
    # What the upstream may send and hold (providers/adapters/limits.py, clients.py); empty: the UPSTREAM_* setting.
    stream_timeout_seconds = models.FloatField(
        default=600,
        validators=[MinValueValidator(1), MaxValueValidator(86400)],
        help_text="Total limit of one streamed answer; each wait for its next event is bounded by the timeout.",
    )
    max_response_bytes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1024)],
        help_text="Largest non-streamed answer read, in bytes. Empty: UPSTREAM_MAX_RESPONSE_BYTES (32 MB).",
    )
    max_error_body_bytes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1024)],
        help_text="Largest error answer read, in bytes. Empty: UPSTREAM_MAX_ERROR_BODY_BYTES (1 MB).",
    )
    max_sse_event_bytes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1024)],
        help_text="Largest single event of a streamed answer, in bytes. Empty: UPSTREAM_MAX_SSE_EVENT_BYTES (4 MB).",
    )
    max_connections = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10000)],
        help_text="Connections to this provider per server process. Empty: UPSTREAM_MAX_CONNECTIONS (200).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(slug__regex=SLUG_RE),
                name="provider_slug_format",
                violation_error_message="Slug must be lowercase letters, digits and hyphens.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def env_key_name(self) -> str:
        return env_key_name(self.slug)

    @property
    def key_source(self) -> str:
        """Where the key used at run time comes from: `env`, `stored` or `none`."""
        if os.environ.get(self.env_key_name):
            return "env"
        if self.api_key:
            return "stored"
        return "none"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)

    @property
    def api_key_hint(self) -> str:
        value = self.api_key
        if isinstance(value, EncryptedSecret):
            return value.hint
        return value[-4:] if value and len(value) >= 8 else ""

    @property
    def inactive_reason(self) -> str | None:
        """None when active, else why not (SPEC §3)."""
        from providers.activity import inactive_reason

        return inactive_reason(self)

    @property
    def is_active(self) -> bool:
        return self.inactive_reason is None


class ProviderModel(models.Model):
    """A model served by a provider; its qualified id is `<provider.slug>/<model_id>`."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=200, blank=True, help_text="Display name; the model id when empty.")
    model_id = models.CharField(max_length=200, help_text="The upstream id, e.g. gpt-4o-mini.")
    alias = models.CharField(
        max_length=100,
        blank=True,
        default="",
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", "Aliases are letters, digits, . _ : -")],
        help_text="Optional short name, unique across providers.",
    )
    is_enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(default=False)
    capabilities = models.JSONField(default=dict, blank=True)
    capabilities_source = models.CharField(
        max_length=16, choices=CapabilitySource.choices, default=CapabilitySource.CATALOG, blank=True
    )
    context_window = models.PositiveIntegerField(null=True, blank=True)
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    input_price_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    output_price_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    sort_order = models.IntegerField(default=0)
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.UNKNOWN)
    status_detail = models.TextField(blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    is_listed_upstream = models.BooleanField(
        default=True, help_text="False once discovery no longer finds it upstream (never deleted)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__name", "sort_order", "name", "model_id"]
        verbose_name = "model"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "model_id"],
                name="providermodel_unique_model_id_per_provider",
                violation_error_message="This provider already has a model with this model id.",
            ),
            models.UniqueConstraint(
                fields=["alias"],
                condition=~Q(alias=""),
                name="providermodel_unique_alias",
                violation_error_message="This alias is already used by another model.",
            ),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="providermodel_single_default",
                violation_error_message="Only one model can be the default.",
            ),
        ]

    def __str__(self) -> str:
        return self.qualified_id

    @property
    def display_name(self) -> str:
        return self.name or self.model_id

    @property
    def qualified_id(self) -> str:
        return f"{self.provider.slug}/{self.model_id}"


class RuntimeSetting(models.Model):
    """A generation default or preset, stored natively as JSON (SPEC §3)."""

    key = models.CharField(max_length=64, unique=True)
    value = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name = "runtime setting"

    def __str__(self) -> str:
        return self.key
