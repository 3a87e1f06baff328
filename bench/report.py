"""BENCHMARKS.md: date, machine, commands, and one table per point with target vs measured."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from bench.config import Config
from bench.results import Point


def _cmd(*args: str) -> str:
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return "n/a"
    return (proc.stdout or proc.stderr).strip()


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine(litellm: str | None) -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem = _cmd("free", "-m").splitlines()
    wrk = shutil.which("wrk")
    return {
        "cpus": f"{os.cpu_count()} (nproc {_cmd('nproc')}), {cpu}",
        "memory": mem[1] if len(mem) > 1 else "n/a",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": ", ".join(
            f"{p} {_version(p)}" for p in ("Django", "uvicorn", "uvloop", "httptools", "openai", "httpx2", "psycopg")
        ),
        "load generator": (_cmd(wrk, "--version").splitlines() or ["wrk"])[0] if wrk else "bench/loadgen.py (no wrk)",
        "LiteLLM": litellm or "not run",
    }


def render(cfg: Config, points: list[Point], info: dict[str, str], commands: list[str], started: float) -> str:
    passed = sum(1 for p in points for c in p.checks if c.passed is True)
    failed = sum(1 for p in points for c in p.checks if c.passed is False)
    unknown = sum(1 for p in points for c in p.checks if c.passed is None) + sum(1 for p in points if p.error)
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); see bench/config.py for every knob. "
        'Targets are issue 6\'s. ModelDesk ("modeldesk"), the fake upstream alone ("upstream") and LiteLLM\'s '
        "proxy are measured side by side in one run, against the same fake upstream, with the same number of "
        "worker processes, alternating round by round (order rotated); figures are medians with the min–max "
        "over rounds in brackets.",
        "",
        f"- **Date**: {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(started))}, "
        f"run took {time.time() - started:.0f} s ({'quick' if cfg.quick else 'full'} mode)",
    ]
    out += [f"- **{k}**: {v}" for k, v in info.items()]
    out += [
        f"- **Settings**: {cfg.seconds:g} s per throughput point per target over {cfg.rounds} round(s), "
        f"{cfg.workers} workers each, cache `{cfg.cache_url}`, chat database `{cfg.database_url.split('://')[0]}`, "
        f"open-loop rates {', '.join(f'{r:g}' for r in cfg.open_rates)} req/s, "
        f"memory after {cfg.memory_requests:,} requests",
        f"- **Result**: {passed} passed, {failed} failed, {unknown} not measured",
        "",
        "The machine is shared (2 cores; load generator, upstream and servers on the same cores), so absolute "
        'figures are noisy; the comparisons within one run are what the targets are about. "CPU ms/req" is '
        "the CPU time the answering server (all its processes) spent per answered request during the "
        "measurement: it depends little on how busy the machine is, and shows each system's cost per request.",
        "",
        "## Summary",
        "",
        "| point | claim | target | measured | result |",
        "|---|---|---|---|---|",
    ]
    for p in points:
        if p.error:
            out.append(f"| {p.title} | — | — | {p.error} | not measured |")
        for c in p.checks:
            verdict = {True: "pass", False: "**FAIL**", None: "n/a"}[c.passed]
            out.append(f"| {p.title} | {c.what} | {c.target} | {c.measured} | {verdict} |")
    for p in points:
        out += ["", f"## {p.title}", "", f"_{p.seconds:.0f} s._", ""]
        if p.error:
            out += [f"Not measured: {p.error}", ""]
        if p.table:
            out.append("| " + " | ".join(p.table[0]) + " |")
            out.append("|" + "---|" * len(p.table[0]))
            out += ["| " + " | ".join(row) + " |" for row in p.table[1:]]
            out.append("")
        out += [f"- {n}" for n in p.notes]
    out += ["", "## Commands", "", "```", *commands, "```", ""]
    return "\n".join(out)
