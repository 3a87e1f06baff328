"""`POST /api/config/providers/{id}/test/` and `/discover/` (SPEC §5, §7).

A mixin of `@action`s added to `ProviderViewSet`'s bases, so the routes, the
permission (writes need a staff session or the `admin` scope) and the error
bodies are the viewset's own. Both views are thin: validate, call one service,
render.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from models_registry import services
from models_registry.discovery import discover_models


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not know, naming them (a typo must not silently do something else)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class DiscoverRequestSerializer(StrictSerializer):
    force = serializers.BooleanField(default=False, help_text="Bypass the 5-minute listing cache; re-validate all.")
    validate = serializers.BooleanField(default=False, help_text="Ping new models (`ping` → `pong`).")
    dry_run = serializers.BooleanField(default=False, help_text="Report what would change; write nothing.")


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class DiscoveryResultSerializer(serializers.Serializer):
    provider = serializers.CharField()
    ok = serializers.BooleanField()
    dry_run = serializers.BooleanField()
    source = serializers.ChoiceField(choices=["upstream", "cache", "stale-cache", "none"])
    listed = serializers.IntegerField()
    added = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())
    validated = serializers.ListField(child=serializers.CharField())
    invalid = serializers.ListField(child=serializers.CharField())
    missing = serializers.ListField(child=serializers.CharField())
    skipped = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    rejected = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="Listed entries that cannot be stored (bad id, out-of-range numbers…), with the reason.",
    )
    warnings = serializers.ListField(child=serializers.CharField())
    errors = serializers.ListField(child=serializers.CharField())
    duration_ms = serializers.FloatField()


class ProviderActionsMixin:
    """Connection test and model discovery on `/api/config/providers/{id}/…`."""

    @extend_schema(
        summary="Test the connection to a provider",
        request=None,
        responses={200: ConnectionTestSerializer, 403: OpenApiResponse(description="Needs staff or `admin`.")},
    )
    @action(detail=True, methods=["post"], url_path="test", url_name="test")
    def test(self, request: Request, pk: str | None = None) -> Response:
        provider = self.get_object()
        return Response(services.test_connection(provider))

    @extend_schema(
        summary="Discover (and optionally validate) a provider's upstream models",
        request=DiscoverRequestSerializer,
        responses={
            200: DiscoveryResultSerializer,
            400: OpenApiResponse(description="Unknown or mistyped body field; or the provider is inactive."),
            403: OpenApiResponse(description="Needs staff or `admin`."),
        },
    )
    @action(detail=True, methods=["post"], url_path="discover", url_name="discover")
    def discover(self, request: Request, pk: str | None = None) -> Response:
        provider = self.get_object()
        body = DiscoverRequestSerializer(data=request.data if request.data is not None else {})
        body.is_valid(raise_exception=True)
        if not provider.is_active:
            raise serializers.ValidationError(
                {"provider": [f"Provider {provider.slug} is inactive ({provider.inactive_reason}); nothing was sent."]}
            )
        result = discover_models(provider, **body.validated_data)
        return Response(result.as_dict(), status=status.HTTP_200_OK)
