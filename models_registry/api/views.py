"""Views of the registry and configuration API (SPEC §5), except chat, test and discover.

Thin: validate with a serializer, call one service or selector, render. Writes go
through `providers.services` (one transaction each; bad input changes nothing);
reads of the registry, presets and defaults come from the cached snapshot via
`providers.selectors`.

Extending the provider endpoints: a feature that adds provider actions (connection
test, discovery) defines them as `@action` methods on a mixin class in its own
module and adds that mixin to `ProviderViewSet`'s bases; the router then routes
`/api/config/providers/{id}/<action>/` and the actions share this module's
permissions and error handling.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.permissions import is_config_admin
from models_registry import services as registry_services
from models_registry.api.exceptions import ConfigErrorsMixin
from models_registry.api.filtersets import FALSE_VALUES, TRUE_VALUES, ProviderModelFilterSet
from models_registry.api.provider_actions import ProviderActionsMixin
from models_registry.api.serializers import (
    NULL_CHARACTER_MESSAGE,
    GenerationDefaultsSerializer,
    PresetsSerializer,
    ProviderModelSerializer,
    ProviderSerializer,
    RegistrySerializer,
    has_null_character,
)
from providers import selectors, services
from providers.models import Provider, ProviderModel
from providers.runtime import BUILTIN_DEFAULTS, snake_case

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input: the body names each offending field."),
    401: OpenApiResponse(description="Missing, malformed, unknown, revoked or expired API key."),
    403: OpenApiResponse(description="The key lacks the scope (writes need staff or `admin`)."),
}


class ModelRegistryView(ConfigErrorsMixin, APIView):
    """Active providers with their enabled models and the default model, from the cached snapshot.

    Staff (a staff session or an `admin` key) also see inactive providers, each with
    `is_active` and `inactive_reason`. Answers 304 to a matching `If-None-Match`.
    """

    public_read = True

    @extend_schema(
        operation_id="model_registry",
        responses={200: RegistrySerializer, 304: OpenApiResponse(description="Not modified"), **ERROR_RESPONSES},
        parameters=[OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)],
    )
    def get(self, request: Request) -> HttpResponse:
        rendered = selectors.model_registry(include_inactive=is_config_admin(request))
        headers = {
            "ETag": rendered.etag,
            # Clients may keep it but must revalidate (cheap: a 304 from the warm snapshot).
            "Cache-Control": "private, no-cache",
            "Vary": "Accept, Authorization, Cookie",
        }
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match:
            etags = parse_etags(if_none_match)
            # Weak comparison, as RFC 9110 requires for If-None-Match.
            if "*" in etags or rendered.etag in {tag.removeprefix("W/") for tag in etags}:
                return HttpResponse(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        if getattr(request.accepted_renderer, "format", "json") == "json":
            return HttpResponse(rendered.body, content_type="application/json", headers=headers)
        return Response(rendered.data, headers=headers)  # the browsable API


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name, "").strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES or value == "":
        return False
    raise serializers.ValidationError({name: ["Enter true or false."]})


@extend_schema_view(
    list=extend_schema(summary="List providers", responses={200: ProviderSerializer(many=True), **ERROR_RESPONSES}),
    retrieve=extend_schema(summary="Get a provider"),
    create=extend_schema(summary="Create a provider", responses={201: ProviderSerializer, **ERROR_RESPONSES}),
    update=extend_schema(summary="Replace a provider", responses={200: ProviderSerializer, **ERROR_RESPONSES}),
    partial_update=extend_schema(summary="Update a provider", responses={200: ProviderSerializer, **ERROR_RESPONSES}),
    destroy=extend_schema(
        summary="Delete a provider",
        parameters=[
            OpenApiParameter("force", OpenApiTypes.BOOL, description="Also delete its models (else 409 if any).")
        ],
        responses={
            204: None,
            409: OpenApiResponse(description="The provider has models and `force` is not true."),
            **ERROR_RESPONSES,
        },
    ),
)
class ProviderViewSet(ProviderActionsMixin, ConfigErrorsMixin, viewsets.ModelViewSet):
    """Providers: CRUD through `providers.services`; `api_key` is write-only."""

    queryset = Provider.objects.all()
    serializer_class = ProviderSerializer
    filter_backends: list = []

    def perform_create(self, serializer: ProviderSerializer) -> None:
        serializer.instance = services.provider_create(**serializer.validated_data)

    def perform_update(self, serializer: ProviderSerializer) -> None:
        serializer.instance = services.provider_update(provider=serializer.instance, **serializer.validated_data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        force = _flag(request, "force")
        services.provider_delete(provider=self.get_object(), force=force)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="List a provider's models", responses={200: ProviderModelSerializer(many=True)})
    @action(detail=True, methods=["get"], serializer_class=ProviderModelSerializer)
    def models(self, request: Request, pk: str | None = None) -> Response:
        provider = self.get_object()
        queryset = ProviderModel.objects.filter(provider=provider).select_related("provider")
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ProviderModelSerializer(page, many=True).data)


@extend_schema_view(
    list=extend_schema(summary="List models", responses={200: ProviderModelSerializer(many=True), **ERROR_RESPONSES}),
    retrieve=extend_schema(summary="Get a model"),
    create=extend_schema(summary="Create a model", responses={201: ProviderModelSerializer, **ERROR_RESPONSES}),
    update=extend_schema(summary="Replace a model", responses={200: ProviderModelSerializer, **ERROR_RESPONSES}),
    partial_update=extend_schema(summary="Update a model", responses={200: ProviderModelSerializer, **ERROR_RESPONSES}),
    destroy=extend_schema(summary="Delete a model"),
)
class ProviderModelViewSet(ConfigErrorsMixin, viewsets.ModelViewSet):
    """Models of every provider; filter with `?provider=<id or slug>` and `?enabled=true|false`."""

    queryset = ProviderModel.objects.select_related("provider")
    serializer_class = ProviderModelSerializer
    filterset_class = ProviderModelFilterSet

    def perform_create(self, serializer: ProviderModelSerializer) -> None:
        data = dict(serializer.validated_data)
        # The registry's wrapper also fills capabilities the client left out from the catalog.
        serializer.instance = registry_services.model_create(provider=data.pop("provider"), **data)

    def perform_update(self, serializer: ProviderModelSerializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("provider", None)  # unchanged (validated), and not a model_update field
        serializer.instance = registry_services.model_update(model=serializer.instance, **data)

    def perform_destroy(self, instance: ProviderModel) -> None:
        services.model_delete(model=instance)

    @extend_schema(
        summary="Make this model the global default",
        request=None,
        responses={200: ProviderModelSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"], url_path="set-default", url_name="set-default")
    def set_default(self, request: Request, pk: str | None = None) -> Response:
        # The service's instance, not a re-read: another switch may already have committed after this one.
        model = services.set_default_model(model=self.get_object())
        return Response(self.get_serializer(model).data)


class PresetsView(ConfigErrorsMixin, APIView):
    """Presets by name: bundles of generation settings a chat request can name (`"preset": "fast"`)."""

    @extend_schema(operation_id="presets", responses={200: PresetsSerializer, **ERROR_RESPONSES})
    def get(self, request: Request) -> Response:
        return Response(selectors.presets())


class DefaultsView(ConfigErrorsMixin, APIView):
    """Generation defaults. PUT replaces them all (absent keys return to built-in values); PATCH
    changes the keys given. camelCase keys (`systemPrompt`) are accepted as well as snake_case."""

    @extend_schema(operation_id="defaults_retrieve", responses={200: GenerationDefaultsSerializer, **ERROR_RESPONSES})
    def get(self, request: Request) -> Response:
        return Response(selectors.runtime_defaults())

    @extend_schema(
        operation_id="defaults_update",
        request=GenerationDefaultsSerializer,
        responses={200: GenerationDefaultsSerializer, **ERROR_RESPONSES},
    )
    def put(self, request: Request) -> Response:
        values = self._body(request)
        given = {snake_case(key) for key in values}
        services.runtime_settings_update({**{k: v for k, v in BUILTIN_DEFAULTS.items() if k not in given}, **values})
        return Response(selectors.runtime_defaults())

    @extend_schema(
        operation_id="defaults_partial_update",
        request=GenerationDefaultsSerializer,
        responses={200: GenerationDefaultsSerializer, **ERROR_RESPONSES},
    )
    def patch(self, request: Request) -> Response:
        services.runtime_settings_update(self._body(request))
        return Response(selectors.runtime_defaults())

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        data = request.data
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object of settings."]})
        nul = sorted(key for key, value in data.items() if has_null_character(key) or has_null_character(value))
        if nul:
            raise serializers.ValidationError({key: [NULL_CHARACTER_MESSAGE] for key in nul})
        keys = [snake_case(key) for key in data]
        duplicated = sorted({key for key in keys if keys.count(key) > 1})
        if duplicated:
            raise serializers.ValidationError(
                {key: ["Given twice (camelCase and snake_case); give it once."] for key in duplicated}
            )
        return dict(data)
