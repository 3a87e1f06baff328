"""A race of default switches watched by an observer, shared by the store and reliability tests.

Real threads, each with its own database connection, run `switch(index, model)`
`rounds` times while an observer thread counts the defaults; the callers assert
on what was seen (exactly one default at every observation, no deadlock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connections

from providers.models import ProviderModel

#: A switch that takes longer than this means a deadlock (or a lock nobody releases).
DEADLINE_SECONDS = 60

Switch = Callable[[int, ProviderModel], Any]


def count_defaults() -> int:
    return ProviderModel.objects.filter(is_default=True).count()


@dataclass
class RaceResult:
    errors: list[BaseException] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)
    observations: list[int] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)


def race(switches: list[Switch], models: list[ProviderModel], rounds: int, *, poll: float = 0.001) -> RaceResult:
    """One thread per entry of `switches`, `rounds` switches each (model `(index + step) % len(models)`)."""
    threads = len(switches)
    start = threading.Barrier(threads + 1)
    done = threading.Event()
    result = RaceResult()

    def switcher(index: int) -> None:
        try:
            start.wait(timeout=DEADLINE_SECONDS)
            for step in range(rounds):
                result.outcomes.append(switches[index](index, models[(index + step) % len(models)]))
        except BaseException as exc:  # anything but a clean refusal fails the test, reported by the caller
            result.errors.append(exc)
        finally:
            connections.close_all()

    def observer() -> None:
        try:
            start.wait(timeout=DEADLINE_SECONDS)
            while not done.is_set():
                result.observations.append(count_defaults())
                time.sleep(poll)
            result.observations.append(count_defaults())
        except BaseException as exc:
            result.errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=switcher, args=(i,), daemon=True) for i in range(threads)]
    watcher = threading.Thread(target=observer, daemon=True)
    for thread in [*workers, watcher]:
        thread.start()
    deadline = time.monotonic() + DEADLINE_SECONDS
    for thread in workers:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    done.set()
    watcher.join(timeout=10)
    result.stuck = [t.name for t in [*workers, watcher] if t.is_alive()]
    return result
