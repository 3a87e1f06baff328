"""Pagination of every list endpoint of the API (`?limit=` and `?offset=`; docs/adr/0009-api-pagination.md).

DRF's `LimitOffsetPagination`, set as the default for every view: a list answers
`{"count", "next", "previous", "results"}` with `API_PAGE_SIZE` items (100) unless
the client asks for another `limit`, never more than `API_MAX_PAGE_SIZE` (1000).
Unlike DRF's, a `limit` or `offset` that is not a whole number in range is a 400
naming the parameter, not silently the default (bad input is an error, as with our
filters). The registry (`/api/model-registry`) and `/v1/models` are contract shapes
(SPEC §5) and are not paginated.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

DEFAULT_MAX_PAGE_SIZE = 1000
#: At most 18 digits: any larger offset would overflow the databases' 64-bit integers.
_WHOLE_NUMBER = re.compile(r"^\d{1,18}$")


class ApiPagination(LimitOffsetPagination):
    """`?limit=N&offset=M`; the default page size is `REST_FRAMEWORK["PAGE_SIZE"]` (API_PAGE_SIZE)."""

    @property
    def max_limit(self) -> int:  # type: ignore[override]  # read at request time, not import time
        return int(getattr(settings, "API_MAX_PAGE_SIZE", DEFAULT_MAX_PAGE_SIZE))

    def get_limit(self, request: Request) -> int | None:
        value = self._whole_number(request, self.limit_query_param, minimum=1)
        return self.default_limit if value is None else min(value, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return self._whole_number(request, self.offset_query_param, minimum=0) or 0

    @staticmethod
    def _whole_number(request: Request, name: str, *, minimum: int) -> int | None:
        text = request.query_params.get(name, "").strip()
        if text == "":
            return None
        if not _WHOLE_NUMBER.match(text) or int(text) < minimum:
            raise serializers.ValidationError({name: [f"Enter a whole number, at least {minimum}."]})
        return int(text)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            minimum = 1 if parameter["name"] == self.limit_query_param else 0
            parameter["schema"] = {**parameter["schema"], "minimum": minimum}
        return parameters
