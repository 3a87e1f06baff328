"""The request log: one row per chat request (SPEC §6), written after the answer has gone out."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class RequestSource(models.TextChoices):
    API = "api", "/v1 API"
    PYTHON = "python", "Python API / command"


class RequestLog(models.Model):
    """What one chat request cost and how it ended.

    The foreign keys are kept nullable (SET_NULL) with a text copy beside them
    (`provider_slug`, `model_name`), so deleting a provider, model, key or user
    keeps its history readable. `status_code` is the HTTP status answered; for a
    stream that failed after it had started (HTTP 200 already sent) it is the
    status its error event carries, and a client that went away is 499.
    Prompts and answers are stored only when `LOG_CHAT_CONTENT` is on.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    request_id = models.CharField(max_length=64, blank=True, help_text="The completion id sent to the client.")
    source = models.CharField(max_length=16, choices=RequestSource.choices, default=RequestSource.API)
    provider = models.ForeignKey(
        "providers.Provider", null=True, blank=True, on_delete=models.SET_NULL, related_name="request_logs"
    )
    provider_slug = models.CharField(max_length=50, blank=True)
    model = models.ForeignKey(
        "providers.ProviderModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="request_logs"
    )
    model_name = models.CharField(
        max_length=300, blank=True, help_text="Qualified id of the model that answered, or the model string asked."
    )
    api_key = models.ForeignKey(
        "access.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="request_logs"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_request_logs"
    )
    stream = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField()
    error_category = models.CharField(max_length=32, blank=True, help_text="Empty when the request succeeded.")
    error_message = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    latency_ms = models.FloatField(help_text="From the request's arrival to its last byte.")
    ttft_ms = models.FloatField(null=True, blank=True, help_text="Time to the first token (streams).")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(
        max_digits=18, decimal_places=10, null=True, blank=True, help_text="From the model's prices per million tokens."
    )
    request_content = models.JSONField(null=True, blank=True, help_text="The messages (LOG_CHAT_CONTENT only).")
    response_content = models.TextField(blank=True, help_text="The answer (LOG_CHAT_CONTENT only).")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "request log entry"
        verbose_name_plural = "request log"
        indexes = [
            models.Index(fields=["provider_slug", "created_at"], name="requestlog_provider_time"),
            models.Index(fields=["model_name", "created_at"], name="requestlog_model_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.model_name or '?'} {self.status_code}"

    @property
    def succeeded(self) -> bool:
        return not self.error_category
