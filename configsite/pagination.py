"""Pagination of every list endpoint of the API (`?limit=` and `?offset=`; docs/adr/0009-api-pagination.md).

DRF's `LimitOffsetPagination`, set as the default for every view: a list answers
`{"count", "next", "previous", "results"}` with `API_PAGE_SIZE` items (100) unless
the client asks for another `limit`, never more than `API_MAX_PAGE_SIZE` (1000).
The registry (`/api/model-registry`) and `/v1/models` are contract shapes (SPEC §5)
and are not paginated.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination

DEFAULT_MAX_PAGE_SIZE = 1000


class ApiPagination(LimitOffsetPagination):
    """`?limit=N&offset=M`; the default page size is `REST_FRAMEWORK["PAGE_SIZE"]` (API_PAGE_SIZE)."""

    @property
    def max_limit(self) -> int:  # type: ignore[override]  # read at request time, not import time
        return int(getattr(settings, "API_MAX_PAGE_SIZE", DEFAULT_MAX_PAGE_SIZE))
