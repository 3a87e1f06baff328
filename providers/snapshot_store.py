"""How a process gets the configuration snapshot of a version: once, off the event loop, and through outages.

`providers.snapshot` defines the snapshot and how it is built; this module is the
fetching and caching around it (ADR 0003, ADR 0008):

- **Once per version per process (single flight).** The first caller that needs
  a version starts its build (the shared cache's copy, else the database, then
  stored in the cache for the other processes); every other caller of that
  version — thread or coroutine — waits for that one build instead of starting
  its own. A build that failed is retried by the next caller.
- **Off the event loop.** Coroutines (`aget`) never build on the loop: the build
  runs in a thread of its own (`snapshot-build`, which closes its database
  connection after each build; under `async_to_sync` — the test client — on the
  outer thread, as Django's thread-sensitive calls) and the coroutine awaits it.
- **The previous snapshot while the next one builds.** A coroutine that sees a new
  version waits up to `SNAPSHOT_REBUILD_WAIT_SECONDS` after the process first saw
  it (a small configuration builds in milliseconds, so the change is served on
  the next request); past that it is served from the previous snapshot until the
  build is done — never longer than `SNAPSHOT_MAX_STALE_SECONDS` after the change
  was seen (then it waits for the build). Sync callers (the admin, the API, commands,
  all in threads) always wait for the build: they read what they just wrote.
- **Cache outages.** When the version cannot be read (configsite.cache_guard), the
  last snapshot is served for `CACHE_OUTAGE_GRACE_SECONDS`; past that a coroutine
  gets `CacheUnavailable` (503), a sync caller a snapshot built from the database.
  A version bump that could not be written is replayed when the cache is back, so
  every process sees changes made during the outage (SPEC §4).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from asgiref.sync import AsyncToSync, sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import connections

from configsite.cache_guard import CacheUnavailable, aget_many, guarded, outage

if TYPE_CHECKING:
    from providers.snapshot import ConfigSnapshot

logger = logging.getLogger(__name__)

VERSION_KEY = "config:version"
#: The middle part names the pickled format: change it when ProviderInfo/ModelInfo gain fields, so a process
#: never reads a snapshot an older process pickled without them.
SNAPSHOT_KEY = "config:snapshot:2:{version}"
SNAPSHOT_TTL = 24 * 3600


def read_version() -> int:
    """The configuration version in the cache (started at a value nobody has seen when absent)."""
    version = guarded(cache.get, VERSION_KEY)
    if version is None:
        # First use (or the cache was flushed): start a version nobody has seen.
        guarded(cache.add, VERSION_KEY, time.time_ns(), timeout=None)
        version = guarded(cache.get, VERSION_KEY)
    return int(version)


class SnapshotStore:
    """The process's last snapshot and the builds in progress, by version."""

    def __init__(self, build: Callable[[int], ConfigSnapshot]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._current: ConfigSnapshot | None = None
        self._builds: dict[int, Future[ConfigSnapshot]] = {}
        #: When this process first saw each version it has not built yet (the staleness clock).
        self._seen_at: dict[int, float] = {}
        #: How many snapshots this process has built from the database (observable in tests and logs).
        self.builds_from_database = 0
        self._bump_pending = False
        self._tasks: set[asyncio.Future] = set()  # builds started by coroutines, referenced until done
        self._executor: ThreadPoolExecutor | None = None

    # --- what callers use ---------------------------------------------------------------------

    def get(self, version: int | None = None) -> ConfigSnapshot:
        """The snapshot of `version` (None: the cache's current version), for sync callers (threads)."""
        if version is None:
            try:
                version = read_version()
            except CacheUnavailable:
                current = self._current
                if current is not None and outage.within_grace():
                    return current
                return self._build(current.version if current is not None else 0)
        current = self._current
        if current is not None and current.version >= version:
            return current
        future, mine = self._claim(version)
        if mine:
            self._run(version, future)
        return future.result()

    async def aget(self, version: int | None = None) -> ConfigSnapshot:
        """The snapshot of `version` for coroutines: no blocking call on the event loop.

        Warm (this process holds `version`): returns at once, no await. `version` None:
        read from the cache here (one round trip); `CacheUnavailable` when the cache is
        down and the process holds no snapshot it may still serve.
        """
        current = self._current
        if version is not None and current is not None and current.version >= version:
            return current
        if version is None:
            version = await self._aread_version()
            if version is None:  # the cache is down, within the grace
                assert current is not None  # noqa: S101  (_aread_version checked it)
                return current
            if current is not None and current.version >= version:
                return current
        future, mine = self._claim(version)
        if mine:
            self._start_build(version, future)
        waiting = asyncio.shield(asyncio.wrap_future(future))
        if current is None:
            return await waiting
        left = self._wait_left(version)
        if left <= 0 and not future.done():
            return current
        try:
            return await asyncio.wait_for(waiting, timeout=left) if left > 0 else await waiting
        except TimeoutError:
            return current
        except Exception:
            if time.monotonic() - self._seen_at.get(version, time.monotonic()) < settings.SNAPSHOT_MAX_STALE_SECONDS:
                return current  # the build failed (database down?): the previous one, within the bound
            raise

    def invalidate(self) -> None:
        """Make every process rebuild its snapshot on its next request (a bump of the shared version)."""
        try:
            self._bump()
        except CacheUnavailable:
            # Nobody can read the version now; bump it when the cache is back, so that every
            # process (this one included) then drops what it serves.
            with self._lock:
                self._bump_pending = True
            outage.on_recovery(self._replay_bump)
            return
        self.forget()

    def forget(self) -> None:
        """Drop this process's snapshot (the next caller waits for a fresh one)."""
        with self._lock:
            self._current = None

    # --- internals ----------------------------------------------------------------------------

    def _start_build(self, version: int, future: Future[ConfigSnapshot]) -> None:
        """Run the build in a thread; it goes on (and others wait for it) if the request that started it ends."""
        if getattr(AsyncToSync.executors, "current", None) is not None:
            # Under async_to_sync (the test client, WSGI): on that outer thread, as Django's
            # thread-sensitive calls are (it may hold the transaction the caller sees).
            task = asyncio.ensure_future(sync_to_async(self._run)(version, future))
        else:
            # Not a thread of the request: it may outlive it, and its database connection is closed after.
            task = asyncio.ensure_future(
                asyncio.get_running_loop().run_in_executor(self._builder(), self._run_and_close, version, future)
            )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _builder(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-build")
            return self._executor

    def _run_and_close(self, version: int, future: Future[ConfigSnapshot]) -> None:
        try:
            self._run(version, future)
        finally:
            connections.close_all()

    async def _aread_version(self) -> int | None:
        try:
            found = await aget_many([VERSION_KEY])
        except CacheUnavailable:
            if self._current is not None and outage.within_grace():
                return None
            raise
        version = found.get(VERSION_KEY)
        if isinstance(version, int):
            return version
        return await sync_to_async(read_version)()  # absent (first use, flushed cache): a thread

    def _bump(self) -> None:
        try:
            guarded(cache.incr, VERSION_KEY)
        except ValueError:
            guarded(cache.set, VERSION_KEY, time.time_ns(), timeout=None)

    def _replay_bump(self) -> None:
        with self._lock:
            pending, self._bump_pending = self._bump_pending, False
        if pending:
            self._bump()
            self.forget()
        outage.forget_recovery(self._replay_bump)

    def _claim(self, version: int) -> tuple[Future[ConfigSnapshot], bool]:
        """The build of `version` in progress, or a new one (True: the caller runs it)."""
        with self._lock:
            future = self._builds.get(version)
            if future is not None:
                return future, False
            future = self._builds[version] = Future()
            self._seen_at.setdefault(version, time.monotonic())
            return future, True

    def _wait_left(self, version: int) -> float:
        seen_for = time.monotonic() - self._seen_at.get(version, time.monotonic())
        if seen_for >= settings.SNAPSHOT_MAX_STALE_SECONDS:
            return float("inf")  # no more stale answers: wait for the build
        return settings.SNAPSHOT_REBUILD_WAIT_SECONDS - seen_for

    def _run(self, version: int, future: Future[ConfigSnapshot]) -> None:
        """Build `version` (on the calling thread) and hand it to everyone waiting."""
        try:
            snapshot = self._fetch(version)
        except BaseException as exc:
            with self._lock:
                self._builds.pop(version, None)
            future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        with self._lock:
            current = self._current
            if current is None or current.version <= version:
                self._current = snapshot
            self._builds.pop(version, None)
            for seen in [v for v in self._seen_at if v <= version]:
                del self._seen_at[seen]
        future.set_result(snapshot)

    def _fetch(self, version: int) -> ConfigSnapshot:
        """The shared cache's copy of `version`, else built from the database and shared."""
        key = SNAPSHOT_KEY.format(version=version)
        try:
            snapshot = guarded(cache.get, key)
        except CacheUnavailable:
            snapshot = None
        if snapshot is not None:
            return snapshot
        snapshot = self._build(version)
        with self._lock:
            self.builds_from_database += 1
        try:
            guarded(cache.set, key, snapshot, timeout=SNAPSHOT_TTL)
        except CacheUnavailable:
            pass  # the next process builds its own
        return snapshot
