"""Fixtures of the browser tests: a live ASGI server, Debian's Chromium driven by Playwright, helpers.

Why these exist:
- `asgi_live_server`: the gateway streams Server-Sent Events, which needs the real
  ASGI stack (pytest-django's `live_server` is WSGI): the session's `gateway`
  (tests/live_gateway.py), uvicorn serving `configsite.asgi.application`. Tests that use it
  are `django_db(transaction=True)`, so what a test writes is committed and seen by
  the server's threads (tests/settings.py puts SQLite's test database in a file, so
  every connection of the process sees the same database; PostgreSQL just works).
- `page`: Playwright's sync API keeps an asyncio loop running on the test's thread,
  which makes Django refuse ORM calls there. So Playwright starts *after* the test's
  database fixtures and stops before they are torn down, and database work in the
  middle of a test goes through `orm()` (another thread, no loop).
- The browser is Debian's Chromium (`/usr/bin/chromium`, or `$CHROMIUM`), never a
  download: without it the tests are skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.db import connections

from chat import request_log
from tests.live_gateway import GatewayServer

T = TypeVar("T")

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 740}
PASSWORD = "browser-test-pw-4821"


def find_chromium() -> str | None:
    """Debian's Chromium: $CHROMIUM, /usr/bin/chromium, or `chromium` on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.path.exists(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("No Chromium found (install Debian's `chromium` or set $CHROMIUM): browser tests skipped.")
    return path


@pytest.fixture(scope="session")
def asgi_live_server(gateway: GatewayServer) -> Iterator[GatewayServer]:
    """The project under uvicorn, shared with the chat tests (tests/live_gateway.py)."""
    yield gateway
    request_log.close_connections()


def orm(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run database code on a fresh thread (Playwright's loop forbids it on the test's thread)."""

    def call() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@dataclass
class ConsoleLog:
    """What the page said: console messages and uncaught exceptions."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (type, text, url)
    page_errors: list[str] = field(default_factory=list)
    #: "Failed to load resource" lines a test provoked on purpose (e.g. an upstream 429 answered as 429).
    expected_http_errors: set[int] = field(default_factory=set)

    def errors(self) -> list[str]:
        found = [f"uncaught: {text}" for text in self.page_errors]
        for kind, text, url in self.messages:
            if kind != "error":
                continue
            if text.startswith("Failed to load resource") and any(
                f"status of {status}" in text for status in self.expected_http_errors
            ):
                continue
            found.append(f"console.error: {text} ({url})")
        return found


@dataclass
class Browser:
    """A Chromium page plus what the tests need around it."""

    page: Any
    context: Any
    base_url: str
    console: ConsoleLog
    runner: Any = None

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/admin/login/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.base_url + "/admin/")

    def login_with_session(self, username: str) -> None:
        """Log in without the form (test_admin covers the form): a session made server-side, as a cookie."""
        from django.contrib.auth import get_user_model
        from django.test import Client

        def session_cookie() -> str:
            client = Client()
            client.force_login(get_user_model().objects.get(username=username))
            return client.cookies[settings.SESSION_COOKIE_NAME].value

        self.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": orm(session_cookie), "url": self.base_url}]
        )

    def resize(self, viewport: dict[str, int]) -> None:
        self.page.set_viewport_size(viewport)

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def assert_no_js_errors(self) -> None:
        errors = self.console.errors()
        assert not errors, "JavaScript errors in the browser:\n" + "\n".join(errors)


class PlaywrightThread:
    """Playwright's sync API, one browser for the session, all on one worker thread.

    The sync API keeps an asyncio loop running on the thread that uses it, and Django
    refuses ORM calls on a thread with a running loop. Keeping Playwright on its own
    thread leaves the main thread free for pytest-django's fixtures (flushes between
    tests), so Chromium starts once per session instead of once per test (~3 s each).
    Browser tests' bodies run on this thread too (`pytest_pyfunc_call` below).
    """

    def __init__(self, chromium_path: str) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")
        self.playwright: Any = None
        self.chromium: Any = None
        self.run(self._start, chromium_path)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.pool.submit(fn, *args, **kwargs).result()

    def _start(self, chromium_path: str) -> None:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        self.chromium = self.playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)

    def _stop(self) -> None:
        self.chromium.close()
        self.playwright.stop()

    def stop(self) -> None:
        try:
            self.run(self._stop)
        finally:
            self.pool.shutdown()


@pytest.fixture(scope="session")
def playwright_thread(chromium_path: str) -> Iterator[PlaywrightThread]:
    runner = PlaywrightThread(chromium_path)
    yield runner
    runner.stop()


@pytest.fixture
def browser(playwright_thread: PlaywrightThread, asgi_live_server: GatewayServer) -> Iterator[Browser]:
    """A fresh browser context (own cookies and storage, desktop viewport) for one test.

    The test body runs on the Playwright thread; JavaScript errors fail the test.
    """
    console = ConsoleLog()

    def open_page() -> Browser:
        context = playwright_thread.chromium.new_context(viewport=DESKTOP, locale="en-US")
        context.set_default_timeout(15_000)  # generous: CI machines are shared
        page = context.new_page()
        page.on("console", lambda msg: console.messages.append((msg.type, msg.text, msg.location.get("url", ""))))
        page.on("pageerror", lambda exc: console.page_errors.append(str(exc)))
        return Browser(page=page, context=context, base_url=asgi_live_server.url, console=console)

    helper = playwright_thread.run(open_page)
    helper.runner = playwright_thread
    yield helper
    playwright_thread.run(helper.context.close)
    request_log.flush()  # rows the test caused are written before its database is flushed
    helper.assert_no_js_errors()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run the body of a test that uses `browser` on the Playwright thread (see PlaywrightThread)."""
    helper = pyfuncitem.funcargs.get("browser")
    if not isinstance(helper, Browser):
        return None
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    helper.runner.run(pyfuncitem.obj, **args)
    return True
