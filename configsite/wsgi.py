"""WSGI entry point, for tools that need one; production serves ASGI (configsite.asgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configsite.settings")

application = get_wsgi_application()
