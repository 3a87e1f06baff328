"""Run the benchmarks of issue 6 and write BENCHMARKS.md (`make bench`; `BENCH_QUICK=1 make bench`).

Starts the fake upstreams, ModelDesk (uvicorn, N workers, production settings, API
key, request log), LiteLLM's proxy (its own virtualenv, optional) and a bare Django
floor as subprocesses on 127.0.0.1, warms them up, runs the points with targets
alternating round by round, and stops everything on exit. The report is rewritten
after every point, so an interrupted run still leaves what it measured; raw
figures go to var/bench/results.json. Knobs: see bench/config.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import config as bench_config
from bench import measure, points, points_extra, report
from bench.results import Point
from bench.servers import ROOT, VAR, install_cleanup, stop_all
from bench.stack import Stack, ensure_litellm, litellm_server, litellm_version

POINTS = {
    "latency": points.latency,
    "throughput": points.throughput,
    "slow": points.slow_upstream,
    "open": points.open_loop,
    "ttfb": points.ttfb,
    "buffering": points.buffering,
    "registry": points_extra.registry,
    "memory": points_extra.memory,
}
#: Points that need the chat servers (started once, stopped before the registry and memory points).
CHAT_POINTS = ("latency", "throughput", "slow", "open", "ttfb", "buffering")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def warm_up(stack: Stack) -> None:
    """A few seconds of traffic per system and upstream, so no round pays for first-request setup."""
    for upstream in ("bench-fast", "bench-slow", "bench-chunky"):
        for target in stack.targets(upstream, floor=True):
            for stream in (False, True) if target.name != "django-floor" else (False,):
                try:
                    res = measure.loadgen(
                        target.url,
                        body=target.body_file(stream),
                        auth=target.auth,
                        connections=4,
                        requests=40 if upstream == "bench-fast" else 8,
                        seconds=30,
                    )
                except Exception as exc:
                    log(f"  warm-up {target.name} {upstream}: {exc}")
                    continue
                if res["errors"]:
                    log(f"  warm-up {target.name} {upstream} stream={stream}: errors {res['error_kinds']}")


def commands(stack: Stack) -> list[str]:
    lines = ["make bench                    # full run (~15 min); BENCH_QUICK=1 make bench (~2 min)"]
    servers = [*stack.upstreams.values(), stack.ours, stack.litellm, stack.floor]
    for server in servers:
        if server is not None:
            cmd = " ".join(server.cmd).replace(str(ROOT) + "/", "")
            settings = server.env.get("DJANGO_SETTINGS_MODULE")
            lines.append(f"# {server.name}" + (f" (DJANGO_SETTINGS_MODULE={settings})" if settings else ""))
            lines.append(cmd)
    lines.append(
        "ours: DEBUG=false DATABASE_URL=<bench db> CACHE_URL=<BENCH_CACHE_URL> SECRET_KEY=… FIELD_ENCRYPTION_KEYS=…"
    )
    if measure.WRK:
        lines.append("wrk -t{1,2} -c{C} -d{S}s --timeout 30s -s bench/wrk/post.lua <url>   # closed loop")
    lines.append("python bench/loadgen.py <url> --body-file F --rate R -d S   # open loop, TTFB, traces, memory")
    return lines


def main() -> int:
    cfg = bench_config.load()
    started = time.time()
    VAR.mkdir(parents=True, exist_ok=True)
    install_cleanup()
    log(f"benchmarks: {'quick' if cfg.quick else 'full'}; points {', '.join(cfg.points)}; load {os.getloadavg()}")
    if not measure.WRK:
        log("wrk not found: closed-loop points use bench/loadgen.py (`apt-get install -y wrk` for wrk)")
    stack = Stack(cfg)
    results: list[Point] = []
    info: dict[str, str] = {}
    cmd_lines: list[str] = []

    def write() -> None:
        info["load average (1/5/15 min) at the end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        Path(cfg.output).write_text(report.render(cfg, results, info, cmd_lines or commands(stack), started))
        (VAR / "results.json").write_text(json.dumps([p.as_dict() for p in results], indent=1, default=str))

    try:
        info.update(report.machine(None))
        info["load average (1/5/15 min) at the start"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        stack.start_upstreams()
        log("upstreams: " + ", ".join(f"{n} :{s.port}" for n, s in stack.upstreams.items()))
        chat_points = [p for p in cfg.points if p in CHAT_POINTS]
        if chat_points or "memory" in cfg.points:
            t0 = time.time()
            stack.prepare_chat_db()
            log(f"chat database ready in {time.time() - t0:.0f} s")
        if chat_points:
            stack.ours = stack.start_ours()
            stack.start_floor()
            log(f"ours ready in {stack.ours.startup_seconds:.0f} s, floor in {stack.floor.startup_seconds:.0f} s")
            cli = ensure_litellm(cfg, log)
            if cli is not None:
                try:
                    stack.litellm = litellm_server(cli, stack.upstreams, cfg.workers).start(timeout=300)
                    info["LiteLLM"] = f"{litellm_version()} (proxy, {cfg.workers} workers, master key, no database)"
                    log(f"LiteLLM ready in {stack.litellm.startup_seconds:.0f} s")
                except RuntimeError as exc:
                    log(f"LiteLLM did not start: {exc}")
            log("warm-up ...")
            warm_up(stack)
        cmd_lines[:] = commands(stack)
        for key in cfg.points:
            if key not in CHAT_POINTS and stack.ours is not None:
                # the registry and memory points run alone on the machine
                for server in (stack.ours, stack.litellm, stack.floor):
                    if server is not None:
                        server.stop()
                stack.ours = stack.litellm = stack.floor = None
            log(f"point {key} ...")
            t0 = time.time()
            try:
                point = POINTS[key](stack, cfg, log)
            except Exception as exc:
                point = Point(key, key, error=f"{type(exc).__name__}: {str(exc)[:400]}")
                log(f"point {key} failed: {point.error}")
            point.seconds = time.time() - t0
            results.append(point)
            for check in point.checks:
                log(f"  {check.what}: {check.measured} (target {check.target}) -> {check.passed}")
            write()
    finally:
        stop_all()
        write()
    log(f"wrote {cfg.output} in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
