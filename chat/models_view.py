"""`GET /v1/models` and `GET /v1/models/{id}`: OpenAI's model list, from the cached snapshot.

Async Django views (no DRF): the key is checked with `access.selectors.afind_key`
(format first, then a cached lookup), and errors use OpenAI's body through
`chat.errors`. Reads need the `read` scope, a logged-in session, or nothing when
`PUBLIC_REGISTRY` is on (read per request, never at import).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.http import parse_etags

from access.authentication import bearer_token
from access.selectors import afind_key
from access.services import aapi_key_record_use
from chat.errors import (
    Forbidden,
    GatewayError,
    MethodNotAllowed,
    ModelNotFound,
    ServiceUnavailable,
    Unauthenticated,
    as_gateway_error,
)
from configsite.cache_guard import CacheUnavailable
from providers import selectors
from providers.snapshot import aget_snapshot

READ_METHODS = ("GET", "HEAD")


async def authorize_read(request: HttpRequest) -> None:
    """Raise a `GatewayError` unless the request may read the model list."""
    token = bearer_token(request.headers.get("Authorization"))
    if token is not None:
        try:
            info = await afind_key(token)
        except CacheUnavailable:
            raise ServiceUnavailable from None
        if info is None:
            raise Unauthenticated("Invalid, revoked or expired API key.")
        if not info.has_scope("read"):
            raise Forbidden("This API key does not have the `read` scope.")
        await aapi_key_record_use(key=info)
        return
    if settings.PUBLIC_REGISTRY:
        return
    # `auser` comes from AuthenticationMiddleware; a middleware-free route has no session user.
    auser = getattr(request, "auser", None)
    user = await auser() if auser is not None else None
    if user is None or not user.is_authenticated:
        raise Unauthenticated(
            "You didn't provide an API key. Send it as `Authorization: Bearer <key>` (the OpenAI SDKs do)."
        )


def error_response(exc: GatewayError) -> JsonResponse:
    error = as_gateway_error(exc)
    response = JsonResponse(error.body(), status=error.status_code, headers=error.headers)
    if error.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="modeldesk"'
    if isinstance(exc, MethodNotAllowed):
        response["Allow"] = ", ".join(READ_METHODS)
    return response


async def list_models(request: HttpRequest) -> HttpResponse:
    """`GET /v1/models`: `{"object": "list", "data": [{"id", "object", "created", "owned_by"}]}`."""
    try:
        if request.method not in READ_METHODS:
            raise MethodNotAllowed(f"Method {request.method} is not allowed on /v1/models.")
        await authorize_read(request)
    except GatewayError as exc:
        return error_response(exc)
    rendered = await sync_to_async(selectors.openai_models)()
    headers = {"ETag": rendered.etag, "Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and rendered.etag in {tag.removeprefix("W/") for tag in parse_etags(if_none_match)}:
        return HttpResponse(status=304, headers=headers)
    return HttpResponse(rendered.body, content_type="application/json", headers=headers)


async def retrieve_model(request: HttpRequest, model: str) -> HttpResponse:
    """`GET /v1/models/{provider/model_id}` (an alias or an unambiguous model id works too)."""
    try:
        if request.method not in READ_METHODS:
            raise MethodNotAllowed(f"Method {request.method} is not allowed on /v1/models/{{model}}.")
        await authorize_read(request)
    except GatewayError as exc:
        return error_response(exc)
    try:
        snapshot = await aget_snapshot()
    except CacheUnavailable:
        return error_response(ServiceUnavailable())
    info = snapshot.by_qualified.get(model)
    if info is None:
        candidates = snapshot.by_unprefixed.get(model) or []
        info = candidates[0] if len(candidates) == 1 else None
    if info is None:
        return error_response(ModelNotFound(f"The model `{model}` does not exist.", param="model"))
    return JsonResponse(
        {"id": info.qualified_id, "object": "model", "created": info.created, "owned_by": info.provider_slug}
    )
