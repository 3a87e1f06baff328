"""ASGI entry point (uvicorn): the /v1 gateway is async end to end."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configsite.settings")

django_application = get_asgi_application()

from chat.asgi import with_gateway_fast_path  # noqa: E402  (imports models: after setup)

# /v1/chat/completions skips the middleware stack (see chat/asgi.py); everything else is plain Django.
application = with_gateway_fast_path(django_application)

# Everything imported so far (Django, the apps, both SDKs: ~1 M objects) lives as long as the
# process. Left to the collector, each full collection walks all of it and stalls the event loop
# for tens of milliseconds (p99 at concurrency 1: 70-100 ms before, 6 ms after; bench/README.md).
gc.freeze()
