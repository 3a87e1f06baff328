"""The registry point (100 providers × 50 models) and the memory point (RSS per worker)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from bench import measure
from bench.config import Config
from bench.measure import Target
from bench.results import Check, Point, alternate, fmt, med, total, with_spread
from bench.servers import VAR, rss_kib
from bench.stack import UPSTREAM_MODEL, Stack, manage, product_env, uvicorn_server

Log = Callable[[str], None]
REGISTRY_PATH = "/api/model-registry"


def _own_redis_db(cache_url: str) -> str:
    """The registry's database is not the chat points' one: with Redis, it gets the next db number.

    One cache shared by two databases would mix their cached keys and configuration snapshots
    (the chat servers started after this point would read the registry's).
    """
    head, sep, db = cache_url.rpartition("/")
    if not cache_url.startswith("redis") or not sep or not db.isdigit():
        return cache_url  # locmem: per process anyway
    return f"{head}/{int(db) + 1}"


def registry(stack: Stack, cfg: Config, log: Log) -> Point:
    point = Point("registry", "Model registry with 100 providers × 50 models")
    env = product_env(cfg, cfg.registry_database_url, "bench.settings")
    env["CACHE_URL"] = _own_redis_db(cfg.cache_url)
    manage(env, "migrate", "--noinput")
    key_file = VAR / "registry.key"
    made = json.loads(
        manage(
            env,
            "registry",
            "--providers",
            "100",
            "--models",
            "50",
            "--key-file",
            str(key_file),
            module="bench.setup_data",
        )
    )
    key = key_file.read_text().strip()
    payload = VAR / "registry.json"
    counted = json.loads(
        manage({**env, "BENCH_KEY": key, "BENCH_PAYLOAD_OUT": str(payload)}, module="bench.registry_queries")
    )
    point.raw["queries"] = counted
    point.raw["data"] = made
    if counted["status"] != 200:
        point.error = f"GET {REGISTRY_PATH} answered {counted['status']} (is the registry API in place?)"
        return point
    point.notes.append(
        f"{made['providers']} providers, {made['models']} models; answer {counted['bytes']:,} bytes; "
        f"ETag revalidation answers {counted['not_modified_status']}."
    )
    point.checks.append(
        Check(
            "queries, configuration cold (key lookup warm)",
            "≤ 3",
            f"{counted['config_cold']} (fully cold incl. API-key lookup: {counted['cold']})",
            counted["config_cold"] <= 3,
        )
    )
    point.checks.append(Check("queries, warm", "0", str(counted["warm"]), counted["warm"] == 0))

    server = uvicorn_server("registry", {**env, "BENCH_BARE_PAYLOAD": str(payload)}, cfg.workers).start()
    try:
        targets = [
            Target("registry", server.base + REGISTRY_PATH, "", key, server=server),
            Target("bare-json (same payload)", server.base + "/bench/bare-json", "", server=server),
            Target("bare-bytes (same payload, pre-rendered)", server.base + "/bench/bare-bytes", "", server=server),
            Target("bare-tiny", server.base + "/bench/bare-tiny", "", server=server),
        ]
        for t in targets:  # warm every worker's caches
            measure.get_closed(t.url, connections=4, seconds=1, auth=t.auth)
        results = alternate(
            targets,
            cfg.rounds,
            lambda t: measure.get_closed(
                t.url, connections=16, seconds=max(1.0, cfg.registry_seconds / cfg.rounds), auth=t.auth
            ),
            log,
        )
    finally:
        server.stop()
    point.raw["throughput"] = results
    point.table = [["target (c=16)", "requests", "errors", "req/s median (min–max)", "p50 ms", "p99 ms", "CPU ms/req"]]
    for name, res in results.items():
        point.table.append(
            [
                name,
                f"{total(res, 'requests'):,}",
                str(total(res, "errors")),
                with_spread([r.get("rps") for r in res], 1),
                with_spread([r.get("p50") for r in res], 3),
                with_spread([r.get("p99") for r in res], 2),
                with_spread([r.get("cpu_ms") for r in res], 3),
            ]
        )
    ours = med([r.get("rps") for r in results["registry"]])
    bare = med([r.get("rps") for r in results["bare-json (same payload)"]])
    ratio = None if not bare or ours is None else ours / bare
    point.checks.append(
        Check(
            "warm throughput ÷ bare JsonResponse of the same payload",
            "≥ 80 %",
            f"{fmt(ours, 1)} ÷ {fmt(bare, 1)} req/s = {fmt(None if ratio is None else ratio * 100, 1)} %",
            None if ratio is None else ratio >= 0.8 and total(results["registry"], "errors") == 0,
        )
    )
    prerendered = med([r.get("rps") for r in results["bare-bytes (same payload, pre-rendered)"]])
    ratio = None if not prerendered or ours is None else ours / prerendered
    point.checks.append(
        Check(
            "stricter reading: warm throughput ÷ bare view sending the same bytes pre-rendered",
            "≥ 80 %",
            f"{fmt(ours, 1)} ÷ {fmt(prerendered, 1)} req/s = {fmt(None if ratio is None else ratio * 100, 1)} %",
            None if ratio is None else ratio >= 0.8,
        )
    )
    return point


def _traffic(stack: Stack, server_base: str, count: int, log: Log, seconds: float | None = None) -> dict:
    """About `count` requests to our server: 80 % non-streamed (c=12), 20 % streamed (c=4), in parallel.

    Exact counts with bench/loadgen.py when `seconds` is None (the first 1,000); otherwise wrk
    (far less client CPU, so the server gets the machine) in slices until `count` is reached or
    `seconds` pass — the caller reports how many were sent.
    """
    url = server_base + "/v1/chat/completions"
    target = Target("modeldesk", url, f"bench-fast/{UPSTREAM_MODEL}", stack.key)
    plain_body, stream_body = target.body_file(False), target.body_file(True)
    if seconds is None or not measure.WRK:
        plain, streamed = int(count * 0.8), count - int(count * 0.8)
        bound = seconds if seconds is not None else max(120.0, count / 50)
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(
                measure.loadgen, url, body=plain_body, auth=target.auth, connections=12, requests=plain, seconds=bound
            )
            b = pool.submit(
                measure.loadgen,
                url,
                body=stream_body,
                auth=target.auth,
                connections=4,
                requests=streamed,
                seconds=bound,
            )
            ra, rb = a.result(), b.result()
    else:
        ra = {"requests": 0, "errors": 0, "rps": 0.0}
        rb = {"requests": 0, "errors": 0, "rps": 0.0}
        deadline = time.monotonic() + seconds
        rate = 100.0  # first guess; then the rate of the previous slice
        while ra["requests"] + rb["requests"] < count:
            left = deadline - time.monotonic()
            if left < 2:
                break
            slice_seconds = max(2.0, min(left, 60.0, (count - ra["requests"] - rb["requests"]) / rate))
            with ThreadPoolExecutor(2) as pool:
                a = pool.submit(
                    measure.wrk, url, connections=12, seconds=slice_seconds, body=plain_body, auth=target.auth
                )
                b = pool.submit(
                    measure.wrk, url, connections=4, seconds=slice_seconds, body=stream_body, auth=target.auth
                )
                sa, sb = a.result(), b.result()
            for acc, part in ((ra, sa), (rb, sb)):
                acc["requests"] += part["requests"]
                acc["errors"] += part["errors"]
            rate = max(20.0, (sa["requests"] + sb["requests"]) / slice_seconds)
        elapsed = seconds - max(0.0, deadline - time.monotonic())
        ra["rps"], rb["rps"] = ra["requests"] / elapsed, rb["requests"] / elapsed
    log(
        f"  sent {ra['requests'] + rb['requests']:,} ok, errors {ra['errors'] + rb['errors']}, "
        f"{ra['rps']:.0f}+{rb['rps']:.0f} req/s"
    )
    return {"plain": ra, "stream": rb}


def memory(stack: Stack, cfg: Config, log: Log) -> Point:
    first_n = 1000
    point = Point("memory", f"Memory: RSS per worker after {first_n:,} vs {cfg.memory_requests:,} requests")
    server = stack.start_ours("modeldesk-memory")
    try:
        sent = {"warm": _traffic(stack, server.base, first_n, log)}
        pids = [p for p in server.worker_pids() if p != server.proc.pid] or server.worker_pids()
        before = {pid: rss_kib(pid) for pid in pids}
        log(f"  RSS after {first_n}: {before}")
        sent["rest"] = _traffic(stack, server.base, max(0, cfg.memory_requests - first_n), log, cfg.memory_seconds)
        after = {pid: rss_kib(pid) for pid in pids}
        done = first_n + sent["rest"]["plain"]["requests"] + sent["rest"]["stream"]["requests"]
        log(f"  RSS after {done}: {after}")
    finally:
        server.stop()
    point.raw = {"sent": sent, "before_kib": before, "after_kib": after}
    errors = sum(part[k]["errors"] for part in sent.values() for k in part)
    point.table = [["worker pid", f"RSS after {first_n:,} (MiB)", f"after {done:,} (MiB)", "growth"]]
    if done < cfg.memory_requests:
        point.notes.append(
            f"Time cap (BENCH_MEMORY_SECONDS={cfg.memory_seconds:g}) reached after {done:,} of "
            f"{cfg.memory_requests:,} requests."
        )
    growths = []
    for pid in pids:
        b, a = before.get(pid), after.get(pid)
        growth = None if not b or a is None else (a - b) / b * 100
        growths.append(growth)
        point.table.append([str(pid), fmt(b and b / 1024, 1), fmt(a and a / 1024, 1), fmt(growth, 1, " %")])
    worst = max((g for g in growths if g is not None), default=None)
    point.checks.append(
        Check(
            "RSS growth of each worker (80 % plain, 20 % streamed requests)",
            "≤ 10 %",
            f"worst {fmt(worst, 1)} % after {done:,} requests, {errors} errors",
            None
            if worst is None or (worst <= 10 and errors == 0 and done < cfg.memory_requests)
            else worst <= 10 and errors == 0,
        )
    )
    return point
