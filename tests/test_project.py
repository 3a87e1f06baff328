"""Project-level checks that NetBox runs in pre-commit: system checks and no missing migrations."""

import pytest
from django.conf import settings
from django.core.management import call_command


def test_tests_run_with_production_style_settings():
    assert settings.DEBUG is False
    assert settings.SECRET_KEY.startswith("test-secret-key")


def test_system_checks_pass():
    call_command("check", fail_level="WARNING")


@pytest.mark.django_db
def test_no_missing_migrations():
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)


@pytest.mark.django_db
def test_health_endpoints(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok"}
