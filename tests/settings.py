"""Settings for the test run: production settings (DEBUG off) with fixed test secrets.

pytest-django imports settings before any conftest runs, so the test environment is
set here, before configsite.settings reads it. Values already in the environment win
(CI sets DATABASE_URL and CACHE_URL).
"""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
# A fixed Fernet key; the rotation tests add and swap keys with the `settings` fixture.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "bW9kZWxkZXNrLXRlc3Qta2V5LTAwMDAwMDAwMDAwMDA=")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")

from configsite.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation in tests

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A test database file (one per test process) instead of shared-cache memory: tests that use
    # several connections at once (the default-switch race) need SQLite's busy timeout, which
    # shared-cache memory databases do not honour ("database table is locked" at once).
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
