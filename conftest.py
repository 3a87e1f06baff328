"""Test settings come from the environment, as in production; these are the test values."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
# Two fixed Fernet keys: the tests of rotation swap them.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "bW9kZWxkZXNrLXRlc3Qta2V5LTAwMDAwMDAwMDAwMDA=")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
