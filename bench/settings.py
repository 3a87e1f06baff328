"""Bench-only settings: the product's settings plus `bench.urls` (bare reference views).

Selected with DJANGO_SETTINGS_MODULE=bench.settings by `bench/run.py`; the product
never imports this module.
"""

from configsite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
