"""Benchmark settings from the environment (`make bench`, `BENCH_QUICK=1 make bench`).

| variable | full | quick | meaning |
|---|---|---|---|
| BENCH_QUICK | 0 | 1 | the ~2-minute smoke run |
| BENCH_SECONDS | 20 | 2 | seconds per throughput point per target, split over the rounds |
| BENCH_ROUNDS | 3 | 2 | rounds; targets alternate within each round (order rotated) |
| BENCH_LATENCY_SECONDS | 3 | 1 | seconds per round of the concurrency-1 latency point |
| BENCH_OPEN_RATES | 25,50,100,200,400 | 50,200 | open-loop arrival rates (requests/s) |
| BENCH_OPEN_SECONDS | 6 | 2 | seconds per open-loop rate per target (at most 12 s) |
| BENCH_OPEN_MIN_REQUESTS | 300 | 100 | open-loop requests per rate at least (low rates run longer) |
| BENCH_TTFB_REQUESTS | 600 | 100 | streamed requests per target for time to first byte, split over the rounds |
| BENCH_MEMORY_REQUESTS | 100000 | 5000 | requests before the second RSS reading (the first is after 1,000) |
| BENCH_MEMORY_SECONDS | 240 | 30 | time cap of the memory point's traffic (the report says how many were sent) |
| BENCH_REGISTRY_SECONDS | 10 | 2 | seconds per registry target (split over the rounds) |
| BENCH_WORKERS | 2 | 2 | worker processes for ours, LiteLLM and the Django floor |
| BENCH_LITELLM | install | auto | `install` (create var/bench/litellm-venv if missing), `auto` (use if present), `0` |
| BENCH_LITELLM_SPEC | litellm[proxy]==1.106.2 | | what `install` installs |
| BENCH_POINTS | all | all | comma list: latency,throughput,slow,open,ttfb,buffering,registry,memory |
| BENCH_CACHE_URL | locmem:// | | CACHE_URL of our servers (`redis://…/8`; the registry point uses db + 1) |
| BENCH_DATABASE_URL | sqlite:///var/bench/chat.sqlite3 | | database of the chat points |
| BENCH_REGISTRY_DATABASE_URL | sqlite:///var/bench/registry.sqlite3 | | database of the registry point |
| BENCH_OUTPUT | BENCHMARKS.md | | the report |
| BENCH_WRK | (use wrk if installed) | | `0`: closed loops with bench/loadgen.py instead |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bench.servers import ROOT, VAR

ALL_POINTS = ("latency", "throughput", "slow", "open", "ttfb", "buffering", "registry", "memory")


def _env(name: str, full: str, quick: str, is_quick: bool) -> str:
    return os.environ.get(name) or (quick if is_quick else full)


@dataclass
class Config:
    quick: bool
    seconds: float
    rounds: int
    latency_seconds: float
    open_rates: list[float]
    open_seconds: float
    open_min_requests: int
    ttfb_requests: int
    memory_requests: int
    memory_seconds: float
    registry_seconds: float
    workers: int
    litellm: str
    litellm_spec: str
    points: list[str]
    cache_url: str
    database_url: str
    registry_database_url: str
    output: str
    env_seen: dict[str, str] = field(default_factory=dict)

    @property
    def round_seconds(self) -> float:
        return max(1.0, self.seconds / self.rounds)


def load() -> Config:
    quick = os.environ.get("BENCH_QUICK", "0") not in ("", "0", "false", "no")
    points = _env("BENCH_POINTS", "all", "all", quick)
    config = Config(
        quick=quick,
        seconds=float(_env("BENCH_SECONDS", "20", "2", quick)),
        rounds=max(1, int(_env("BENCH_ROUNDS", "3", "2", quick))),
        latency_seconds=float(_env("BENCH_LATENCY_SECONDS", "3", "1", quick)),
        open_rates=[float(x) for x in _env("BENCH_OPEN_RATES", "25,50,100,200,400", "50,200", quick).split(",")],
        open_seconds=float(_env("BENCH_OPEN_SECONDS", "6", "2", quick)),
        open_min_requests=int(_env("BENCH_OPEN_MIN_REQUESTS", "300", "100", quick)),
        ttfb_requests=int(_env("BENCH_TTFB_REQUESTS", "600", "100", quick)),
        memory_requests=int(_env("BENCH_MEMORY_REQUESTS", "100000", "5000", quick)),
        memory_seconds=float(_env("BENCH_MEMORY_SECONDS", "240", "30", quick)),
        registry_seconds=float(_env("BENCH_REGISTRY_SECONDS", "10", "2", quick)),
        workers=int(_env("BENCH_WORKERS", "2", "2", quick)),
        litellm=_env("BENCH_LITELLM", "install", "auto", quick),
        litellm_spec=os.environ.get("BENCH_LITELLM_SPEC", "litellm[proxy]==1.106.2"),
        points=list(ALL_POINTS) if points == "all" else [p.strip() for p in points.split(",") if p.strip()],
        cache_url=os.environ.get("BENCH_CACHE_URL", "locmem://"),
        database_url=os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{VAR / 'chat.sqlite3'}"),
        registry_database_url=os.environ.get("BENCH_REGISTRY_DATABASE_URL", f"sqlite:///{VAR / 'registry.sqlite3'}"),
        output=os.environ.get("BENCH_OUTPUT", str(ROOT / "BENCHMARKS.md")),
    )
    unknown = set(config.points) - set(ALL_POINTS)
    if unknown:
        raise SystemExit(f"BENCH_POINTS: unknown point(s) {sorted(unknown)}; choose from {', '.join(ALL_POINTS)}")
    config.env_seen = {k: v for k, v in sorted(os.environ.items()) if k.startswith("BENCH_")}
    return config
