"""One measurement against one target: wrk when installed (closed loop), else bench/loadgen.py.

Every function returns a flat dict: requests, errors, rps, p50/p90/p99 latency in ms,
and TTFB for loadgen streams. Traffic only goes to 127.0.0.1 (the URLs built by run.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.servers import PYTHON, ROOT, VAR

#: wrk when installed (BENCH_WRK=0 forces bench/loadgen.py, as on a machine without wrk)
WRK = None if os.environ.get("BENCH_WRK") == "0" else shutil.which("wrk")
BODIES = VAR / "bodies"


@dataclass(frozen=True)
class Target:
    """Where to send a request and what to send: the same prompt to each system."""

    name: str
    url: str
    model: str
    auth: str = ""
    #: the bench.servers.Server answering, for its CPU time per request
    server: Any = field(default=None, compare=False, repr=False)

    def body_file(self, stream: bool) -> Path:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": "You are a terse assistant."},
                {"role": "user", "content": "Say hello in five words."},
            ],
            "max_tokens": 32,
        }
        if stream:
            body["stream"] = True
        BODIES.mkdir(parents=True, exist_ok=True)
        path = BODIES / f"{self.name}-{self.model.replace('/', '_')}-{'stream' if stream else 'plain'}.json"
        path.write_text(json.dumps(body))
        return path


def _run(cmd: list[str], env: dict[str, str] | None, timeout: float) -> str:
    proc = subprocess.run(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout


def wrk(url: str, *, connections: int, seconds: float, body: Path | None = None, auth: str = "") -> dict:
    """Closed loop with wrk (full answers, streams included); latency from wrk's histogram."""
    threads = max(1, min(2, connections))
    script = "post.lua" if body else "get.lua"
    cmd = [WRK, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s"]
    cmd += ["-s", str(ROOT / "bench" / "wrk" / script), url]
    env = {"WRK_AUTH": auth}
    if body:
        env["WRK_BODY_FILE"] = str(body)
    out = _run(cmd, env, seconds + 60)
    line = next((x for x in out.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out[-500:]}")
    data = json.loads(line[len("WRKJSON ") :])
    lat = data["latency_us"]
    duration = data["duration_us"] / 1e6
    return {
        "tool": "wrk",
        "requests": data["requests"],
        "errors": sum(data["errors"].values()),
        "error_kinds": {k: v for k, v in data["errors"].items() if v},
        "rps": round(data["requests"] / duration, 1) if duration else 0.0,
        "p50": lat["p50"] / 1000,
        "p90": lat["p90"] / 1000,
        "p99": lat["p99"] / 1000,
        "mean": lat["mean"] / 1000,
    }


def loadgen(
    url: str,
    *,
    body: Path | None = None,
    auth: str = "",
    connections: int = 1,
    seconds: float = 10,
    requests: int | None = None,
    rate: float | None = None,
    trace: int | None = None,
) -> dict:
    cmd = [PYTHON, str(ROOT / "bench" / "loadgen.py"), url, "-c", str(connections), "-d", str(seconds)]
    if body:
        cmd += ["--body-file", str(body)]
    if auth:
        cmd += ["--auth", auth]
    if requests:
        cmd += ["-n", str(requests)]
    if rate:
        cmd += ["--rate", str(rate)]
    if trace:
        cmd += ["--trace", str(trace)]
    data = json.loads(_run(cmd, None, seconds + 120))
    if trace:
        return data
    lat = data["latency_ms"] or {}
    ttfb = data["ttfb_ms"] or {}
    return {
        "tool": "loadgen",
        "requests": data["requests"],
        "errors": data["errors"],
        "error_kinds": data["error_kinds"],
        "rps": data["rps"],
        "p50": lat.get("p50"),
        "p90": lat.get("p90"),
        "p99": lat.get("p99"),
        "mean": lat.get("mean"),
        "ttfb_p50": ttfb.get("p50"),
        "ttfb_p99": ttfb.get("p99"),
    }


def closed(
    target: Target, *, connections: int, seconds: float, stream: bool = False, force_loadgen: bool = False
) -> dict:
    """Closed loop on `target`: wrk if installed, else loadgen."""
    body = target.body_file(stream)
    if WRK and not force_loadgen:
        return wrk(target.url, connections=connections, seconds=seconds, body=body, auth=target.auth)
    return loadgen(target.url, body=body, auth=target.auth, connections=connections, seconds=seconds)


def get_closed(url: str, *, connections: int, seconds: float, auth: str = "") -> dict:
    if WRK:
        return wrk(url, connections=connections, seconds=seconds, auth=auth)
    return loadgen(url, auth=auth, connections=connections, seconds=seconds)
