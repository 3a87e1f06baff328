"""The chat benchmark points of issue 6: latency, throughput, slow upstream, open loop, TTFB, buffering.

Each function measures upstream alone, ModelDesk and LiteLLM (when running) side by
side, alternating round by round, and returns a `Point` with the issue's checks.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import measure
from bench.config import Config
from bench.results import Check, Point, alternate, fmt, med, per_round_diff, total, with_spread
from bench.stack import UPSTREAMS, Stack

Log = Callable[[str], None]
#: Reference figures from the issue, used only when LiteLLM is not run here.
LITELLM_REFERENCE_RPS = {False: 250.0, True: 148.0}


def _rps_table(results: dict[str, list[dict]]) -> list[list[str]]:
    rows = [["target", "requests", "errors", "req/s median (min–max)", "p50 ms", "p99 ms", "server CPU ms/req"]]
    for name, res in results.items():
        rows.append(
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
    return rows


def latency(stack: Stack, cfg: Config, log: Log) -> Point:
    point = Point("latency", "Added latency at concurrency 1 (non-streamed)")
    targets = stack.targets(floor=True)
    results = alternate(
        targets, cfg.rounds, lambda t: measure.closed(t, connections=1, seconds=cfg.latency_seconds), log
    )
    point.raw = results
    point.table = _rps_table(results)
    point.table[0].append("added p50 ms (per-round median)")
    for row in point.table[1:]:
        added = per_round_diff(results, row[0], "upstream", "p50") if row[0] != "upstream" else []
        row.append(with_spread(added, 3) if added else "—")
    ours = per_round_diff(results, "modeldesk", "upstream", "p50")
    n = total(results.get("modeldesk", []), "requests")
    value = med(ours)
    point.checks.append(
        Check(
            "added latency, median of ≥ 500 requests (ours p50 − upstream p50)",
            "≤ 1.5 ms",
            f"{fmt(value, 3)} ms over {n:,} requests",
            # the quick run sends fewer: judged on its median, the count is shown
            None
            if value is None
            else (value <= 1.5 and (n >= 500 or cfg.quick) and total(results["modeldesk"], "errors") == 0),
        )
    )
    lite = med(per_round_diff(results, "litellm", "upstream", "p50"))
    if lite is not None:
        point.notes.append(f"LiteLLM adds {lite:.2f} ms at concurrency 1 (issue: about 10 ms).")
    return point


def throughput(stack: Stack, cfg: Config, log: Log) -> Point:
    point = Point("throughput", "Throughput at concurrency 16 and 32 (non-streamed and streamed)")
    header = ["mode", "c", "target", "requests", "errors", "req/s median (min–max)", "p50 ms", "p99 ms", "CPU ms/req"]
    point.table = [header]
    for stream in (False, True):
        for conns in (16, 32):
            mode = "streamed" if stream else "non-streamed"
            log(f" {mode} c={conns}")
            targets = stack.targets(floor=not stream and conns == 16)
            results = alternate(
                targets,
                cfg.rounds,
                lambda t, s=stream, c=conns: measure.closed(t, connections=c, seconds=cfg.round_seconds, stream=s),
                log,
            )
            point.raw[f"{mode}-c{conns}"] = results
            for row in _rps_table(results)[1:]:
                point.table.append([mode, str(conns), *row])
            ours = med([r.get("rps") for r in results.get("modeldesk", [])])
            errors = total(results.get("modeldesk", []), "errors")
            lite = med([r.get("rps") for r in results["litellm"]]) if "litellm" in results else None
            source = "LiteLLM measured here"
            if lite is None:
                lite, source = LITELLM_REFERENCE_RPS[stream], "LiteLLM reference figure from the issue"
            ratio = None if ours is None or not lite else ours / lite
            ours_cpu = med([r.get("cpu_ms") for r in results.get("modeldesk", [])])
            lite_cpu = med([r.get("cpu_ms") for r in results["litellm"]]) if "litellm" in results else None
            if ours_cpu and lite_cpu:
                point.notes.append(
                    f"{mode} c={conns}: CPU per request LiteLLM {lite_cpu:.2f} ms, ours {ours_cpu:.2f} ms "
                    f"(ours needs {lite_cpu / ours_cpu:.1f}× less CPU per request; both are CPU-bound here, "
                    "so this is the throughput ratio the machine's noise blurs)."
                )
            point.checks.append(
                Check(
                    f"{mode} c={conns}: ours ÷ LiteLLM ({source}), zero errors",
                    "≥ 3×, 0 errors",
                    f"{fmt(ours, 0)} ÷ {fmt(lite, 0)} req/s = {fmt(ratio, 1)}×, {errors} errors",
                    None if ratio is None else (ratio >= 3 and errors == 0),
                )
            )
    return point


def slow_upstream(stack: Stack, cfg: Config, log: Log) -> Point:
    delay = UPSTREAMS["bench-slow"]["delay_ms"]
    point = Point("slow", f"Realistic upstream ({delay} ms per answer), 32 connections")
    results = alternate(
        stack.targets("bench-slow"),
        cfg.rounds,
        lambda t: measure.closed(t, connections=32, seconds=cfg.round_seconds),
        log,
    )
    point.raw = results
    point.table = _rps_table(results)
    up = med([r.get("rps") for r in results["upstream"]])
    ours = med([r.get("rps") for r in results.get("modeldesk", [])])
    ratio = None if not up or ours is None else ours / up
    errors = total(results.get("modeldesk", []), "errors")
    point.checks.append(
        Check(
            "ours ÷ upstream alone (throughput)",
            "≥ 95 %",
            f"{fmt(ours, 1)} ÷ {fmt(up, 1)} req/s = {fmt(None if ratio is None else ratio * 100, 1)} %, "
            f"{errors} errors",
            None if ratio is None else (ratio >= 0.95 and errors == 0),
        )
    )
    point.notes.append("Issue's reference: upstream 315, LiteLLM 113, sync Django on 2 gunicorn workers 19.5 req/s.")
    return point


def open_loop(stack: Stack, cfg: Config, log: Log) -> Point:
    point = Point("open", "Open loop: fixed arrival rates, latency from the scheduled send time")
    targets = stack.targets()
    names = [t.name for t in targets]
    point.table = [["rate/s", *(f"{n} p99 ms" for n in names), *(f"{n} added p99" for n in names[1:]), "errors"]]
    for i, rate in enumerate(cfg.open_rates):
        seconds = min(12.0, max(cfg.open_seconds, cfg.open_min_requests / rate))
        log(f" rate {rate:g}/s for {seconds:g}s")
        shift = i % len(targets)
        res: dict[str, dict] = {}
        for target in targets[shift:] + targets[:shift]:
            body = target.body_file(False)
            try:
                res[target.name] = measure.loadgen(target.url, body=body, auth=target.auth, rate=rate, seconds=seconds)
            except Exception as exc:
                res[target.name] = {"requests": 0, "errors": 1, "error_kinds": {"harness": str(exc)[:300]}}
            r = res[target.name]
            log(f"  {target.name:13s} p50={fmt(r.get('p50'), 3)} p99={fmt(r.get('p99'), 3)} errors={r.get('errors')}")
        point.raw[str(rate)] = res
        base = res["upstream"].get("p99")
        added = {n: (None if res[n].get("p99") is None or base is None else res[n]["p99"] - base) for n in names[1:]}
        errors = ", ".join(f"{n}: {res[n].get('errors', 0)}" for n in names)
        point.table.append(
            [
                f"{rate:g}",
                *(fmt(res[n].get("p99"), 2) for n in names),
                *(fmt(added[n], 2) for n in names[1:]),
                errors,
            ]
        )
        if rate <= 200 and "modeldesk" in added:
            value = added["modeldesk"]
            ok = value is not None and value < 5 and res["modeldesk"].get("errors", 1) == 0
            point.checks.append(
                Check(
                    f"{rate:g} req/s: p99 added latency (ours − upstream)",
                    "< 5 ms",
                    f"{fmt(value, 2)} ms",
                    None if value is None else ok,
                )
            )
    point.notes.append(
        "Python load generator (bench/loadgen.py): its own timer lag (~0.5–1 ms) is in every target's "
        "latency and cancels in the differences. Issue's reference: LiteLLM p99 262 ms at 200 req/s."
    )
    return point


def ttfb(stack: Stack, cfg: Config, log: Log) -> Point:
    point = Point("ttfb", "Streaming: time to first byte (first SSE `data:` event), concurrency 1")
    per_round = max(20, cfg.ttfb_requests // cfg.rounds)
    results = alternate(
        stack.targets(),
        cfg.rounds,
        lambda t: measure.loadgen(t.url, body=t.body_file(True), auth=t.auth, requests=per_round, seconds=120),
        log,
    )
    point.raw = results
    point.table = [["target", "requests", "errors", "TTFB p50 ms", "TTFB p99 ms", "added TTFB p50 ms"]]
    for name, res in results.items():
        added = per_round_diff(results, name, "upstream", "ttfb_p50") if name != "upstream" else []
        point.table.append(
            [
                name,
                f"{total(res, 'requests'):,}",
                str(total(res, "errors")),
                with_spread([r.get("ttfb_p50") for r in res], 3),
                with_spread([r.get("ttfb_p99") for r in res], 3),
                with_spread(added, 3) if added else "—",
            ]
        )
    value = med(per_round_diff(results, "modeldesk", "upstream", "ttfb_p50"))
    point.checks.append(
        Check(
            "added time to first byte, median",
            "≤ 2 ms",
            f"{fmt(value, 3)} ms",
            None if value is None else (value <= 2 and total(results["modeldesk"], "errors") == 0),
        )
    )
    return point


def buffering(stack: Stack, cfg: Config, log: Log) -> Point:
    opts = UPSTREAMS["bench-chunky"]
    point = Point(
        "buffering", f"No buffering: upstream spaces {opts['chunks']} chunks {opts['chunk_delay_ms']} ms apart"
    )
    point.table = [["target", "first data ms (median)", "last byte ms (median)", "gaps ≥ 25 ms", "first before end"]]
    gap_needed = opts["chunks"] - 1
    for target in stack.targets("bench-chunky"):
        try:
            data = measure.loadgen(target.url, body=target.body_file(True), auth=target.auth, trace=5, seconds=60)
        except Exception as exc:
            point.table.append([target.name, "n/a", "n/a", "n/a", f"harness error: {str(exc)[:120]}"])
            continue
        traces = data["traces"]
        point.raw[target.name] = data
        if not traces:
            point.table.append([target.name, "n/a", "n/a", "n/a", f"errors {data['error_kinds']}"])
            continue
        firsts = [t["ttfb_ms"] for t in traces]
        ends = [t["total_ms"] for t in traces]
        gaps = [sum(1 for a, b in zip(t["chunks_ms"], t["chunks_ms"][1:], strict=False) if b - a >= 25) for t in traces]
        early = all(f is not None and f < e - 100 for f, e in zip(firsts, ends, strict=True))
        streamed = early and min(gaps) >= gap_needed
        log(f"  {target.name:13s} first={med(firsts)} end={med(ends)} gaps={gaps}")
        point.table.append(
            [target.name, fmt(med(firsts), 1), fmt(med(ends), 1), str(min(gaps)), "yes" if early else "NO"]
        )
        if target.name == "modeldesk":
            point.checks.append(
                Check(
                    "first chunk arrives before the upstream finishes, chunk spacing kept",
                    f"first < end − 100 ms; ≥ {gap_needed} gaps ≥ 25 ms",
                    f"first {fmt(med(firsts), 1)} ms, end {fmt(med(ends), 1)} ms, {min(gaps)} gaps",
                    streamed and data["errors"] == 0,
                )
            )
    return point
