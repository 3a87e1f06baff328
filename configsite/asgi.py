"""ASGI entry point (uvicorn): the /v1 gateway is async end to end."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configsite.settings")

application = get_asgi_application()
