"""The product's ASGI application with bench/experiments.py patches applied (BENCH_EXPERIMENT=a,b).

BENCH_EXPERIMENT=no-request-log uvicorn bench.experiment_asgi:application --workers 2 ...
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "configsite.settings")
django.setup()

from bench import experiments  # noqa: E402

experiments.apply([x for x in os.environ.get("BENCH_EXPERIMENT", "").split(",") if x])

from configsite.asgi import application  # noqa: E402, F401
