"""Error reports (the DEBUG error page, error e-mails) that never show a provider key.

Django's `SafeExceptionReporterFilter` hides settings whose names look secret
(API, KEY, TOKEN, SECRET…), but a frame's local variables and the POST data only
when a view is decorated with `sensitive_variables` / `sensitive_post_parameters`,
and then only with DEBUG off. A provider key travels through many frames (the
service's `data`, a form's `cleaned_data`, the admin's POST, the SDK client), so
this filter applies the settings rule everywhere, always: any local variable,
dictionary key or POST field whose name looks secret is replaced, and any string
shaped like a key (`sk-…`, `Bearer …`) is redacted wherever it appears.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from django.views.debug import SafeExceptionReporterFilter

from providers.adapters.errors import scrub

#: Nesting shown in a report; deeper (or self-containing) values are replaced.
MAX_DEPTH = 20


class SecretsExceptionReporterFilter(SafeExceptionReporterFilter):
    """`DEFAULT_EXCEPTION_REPORTER_FILTER`: Django's filter, extended to locals and POST data by name and shape."""

    def is_active(self, request: HttpRequest | None) -> bool:
        # Django turns its filter off with DEBUG on; a key on a developer's screen is still a leaked key.
        return True

    def cleanse(self, name: str, value: Any, depth: int = 0) -> Any:
        """`value` with secret-looking names replaced (recursively) and key-shaped strings redacted."""
        if name and (name == settings.SESSION_COOKIE_NAME or self.hidden_settings.search(name)):
            return self.cleansed_substitute
        if isinstance(value, str):
            return scrub(value)
        if not isinstance(value, MultiValueDict | dict | list | tuple):
            return value
        if depth >= MAX_DEPTH:  # a structure that contains itself, or absurdly deep: not shown
            return self.cleansed_substitute
        if isinstance(value, MultiValueDict):
            return {key: self.cleanse(str(key), value.getlist(key), depth + 1) for key in value}
        if isinstance(value, dict):
            return {key: self.cleanse(str(key), item, depth + 1) for key, item in value.items()}
        items = [self.cleanse("", item, depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)

    def get_post_parameters(self, request: HttpRequest | None) -> Any:
        parameters = super().get_post_parameters(request)
        if not parameters:
            return parameters
        cleansed = parameters.copy()
        for key in cleansed:
            cleansed.setlist(key, [self.cleanse(key, value) for value in cleansed.getlist(key)])
        return cleansed

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> list[tuple[str, Any]]:
        return [
            (name, self.cleanse(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]
