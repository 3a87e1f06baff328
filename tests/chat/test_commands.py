"""`manage.py chat`: one prompt through the dispatcher, streamed to stdout (call_command and a real process)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from chat import request_log
from chat.models import RequestLog
from providers import services

pytestmark = pytest.mark.django_db(transaction=True)
MANAGE = Path(settings.BASE_DIR) / "manage.py"


def _run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("chat", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_streams_the_echo(echo_model):
    out, err = _run("-m", "echo/echo", "hello", "world")
    assert out == "Echo: hello world\n"
    assert err == ""
    request_log.flush()
    assert RequestLog.objects.get().source == "python"


def test_no_stream_and_system_and_default_model(openai_model, fake_upstream):
    services.set_default_model(model=openai_model)
    out, _ = _run("--no-stream", "--system", "Be brief.", "ping")
    assert out.strip() == "pong"
    assert fake_upstream.last_request.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert fake_upstream.last_request.json.get("stream") in (None, False)


def test_failure_is_a_command_error(echo_model):
    with pytest.raises(CommandError, match="Invalid model: nope/x"):
        _run("-m", "nope/x", "hello")


def _subprocess_env() -> dict[str, str]:
    """The test database, as DATABASE_URL, for a real `manage.py` process (its rows are committed)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings", "LOG_LEVEL": "WARNING"}


def test_real_process_streams_from_the_fake_upstream(openai_model, fake_upstream):
    done = subprocess.run(
        [sys.executable, str(MANAGE), "chat", "-m", "fake-openai/mini", "hello"],
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello from gpt-4o-mini! This is the fake upstream.\n"
    assert fake_upstream.last_request.stream is True
    assert RequestLog.objects.get().model_name == "fake-openai/gpt-4o-mini"


def test_real_process_fails_with_one_line(echo_model):
    done = subprocess.run(
        [sys.executable, str(MANAGE), "chat", "-m", "echo/missing", "hello"],
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "CommandError: Invalid model for provider echo: missing (not_found, HTTP 404)"
    ]
