"""Two server processes on one PostgreSQL and one Redis: a change made through one is what the other
serves on its very next request (registry, model resolution, default, a disabled provider, a revoked key).

Each process keeps its own in-memory snapshot; only the shared cache's version
tells it to rebuild (SPEC §4). Real `uvicorn` processes, started here, see the
test database because the test commits (transaction=True) and they are given
its name. SQLite and the local-memory cache are one process's affair: skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from django.conf import settings
from django.db import connection

from access import services as access_services
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
HI = [{"role": "user", "content": "hi"}]


class ServerProcess:
    """`uvicorn configsite.asgi:application` in its own process, production settings, on a free port."""

    def __init__(self, env: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "configsite.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--lifespan", "off", "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stdout.read().decode()[-2000:]}")
            try:
                if httpx2.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _server_env() -> dict[str, str]:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", str(ROOT / "var")),
        "DJANGO_SETTINGS_MODULE": "configsite.settings",
        "DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "ALLOWED_HOSTS": "127.0.0.1",
        # NAME is the test database pytest-django created (test_<name>), which this test commits to.
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "CACHE_URL": settings.CACHES["default"]["LOCATION"],
    }


@pytest.fixture(scope="module")
def servers(django_db_setup: None) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Started once for the module (a start costs seconds); each test's data is its own, committed."""
    if connection.vendor != "postgresql" or "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip(
            "several server processes share state through PostgreSQL and Redis; this run uses "
            f"{connection.vendor} and {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]} "
            "(set DATABASE_URL=postgres://… and CACHE_URL=redis://…)"
        )
    env = _server_env()
    first, second = ServerProcess(env), ServerProcess(env)
    try:
        first.wait_ready()
        second.wait_ready()
        yield first, second
    finally:
        first.stop()
        second.stop()


class Api:
    """The configuration API of one server, with an admin key."""

    def __init__(self, server: ServerProcess, key: str) -> None:
        self.client = httpx2.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=20)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def registry(self) -> dict[str, Any]:
        return self.call("GET", "/api/model-registry")


def _chat(server: ServerProcess, key: str, model: str | None = None) -> str:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=20)
    try:
        return client.chat.completions.create(model=model or "", messages=HI).model
    finally:
        client.close()


def test_a_change_through_one_server_is_served_by_the_other_on_the_next_request(servers):
    one, two = servers
    _, admin_key = factories.make_api_key(scopes=("admin", "read", "chat"))
    api_one, api_two = Api(one, admin_key), Api(two, admin_key)

    # Through one: a provider, a model, the default. Two serves them at once.
    provider = api_one.call("POST", "/api/config/providers/", json={"name": "Echo", "slug": "echo", "kind": "echo"})
    first = api_one.call("POST", "/api/config/models/", json={"provider": provider["id"], "model_id": "first"})
    api_one.call("POST", f"/api/config/models/{first['id']}/set-default/")
    assert api_two.registry()["default_model"] == "echo/first"
    assert _chat(two, admin_key) == "echo/first"

    # Through two (whose snapshot is now warm in both processes): a second model, made the default.
    second = api_two.call("POST", "/api/config/models/", json={"provider": provider["id"], "model_id": "second"})
    api_two.call("POST", f"/api/config/models/{second['id']}/set-default/")
    assert api_one.registry()["default_model"] == "echo/second"
    assert _chat(one, admin_key) == "echo/second"

    # Resolution: an alias given through one resolves on two; moved, it follows.
    api_one.call("PATCH", f"/api/config/models/{first['id']}/", json={"alias": "quick"})
    assert _chat(two, admin_key, "quick") == "echo/first"
    api_one.call("PATCH", f"/api/config/models/{first['id']}/", json={"alias": ""})
    api_one.call("PATCH", f"/api/config/models/{second['id']}/", json={"alias": "quick"})
    assert _chat(two, admin_key, "quick") == "echo/second"
    models_two = {m["id"] for m in api_two.call("GET", "/v1/models")["data"]}
    assert models_two == {"echo/first", "echo/second"}

    # A disabled provider disappears from the other server (for clients; staff still see it), and the default.
    api_two.call("PATCH", f"/api/config/providers/{provider['id']}/", json={"is_enabled": False})
    _, read_key = factories.make_api_key(scopes=("read",))
    assert Api(one, read_key).registry() == {"default_model": None, "providers": []}
    assert api_one.call("GET", "/v1/models")["data"] == []
    with pytest.raises(openai.NotFoundError):
        _chat(one, admin_key, "echo/second")


def test_a_key_revoked_elsewhere_is_refused_by_both_servers_on_the_next_request(servers):
    one, two = servers
    factories.make_model(factories.make_provider(name="Echo", slug="echo", kind="echo", api_key=""), model_id="e")
    key, raw = factories.make_api_key(scopes=("chat", "read"))
    assert _chat(one, raw, "echo/e") == "echo/e" and _chat(two, raw, "echo/e") == "echo/e"  # cached in both
    access_services.api_key_revoke(api_key=key)  # in a third process: the admin's
    for server in (one, two):
        with pytest.raises(openai.AuthenticationError):
            _chat(server, raw, "echo/e")
