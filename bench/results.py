"""Result records of the benchmark points and the statistics used on them (medians and spread)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.measure import Target


@dataclass
class Check:
    """One claim of the issue: what, the target, what we measured, and whether it holds (None: not measurable)."""

    what: str
    target: str
    measured: str
    passed: bool | None


@dataclass
class Point:
    key: str
    title: str
    checks: list[Check] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)  # first row is the header
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def med(values: Sequence[float | None]) -> float | None:
    clean = [v for v in values if v is not None]
    return statistics.median(clean) if clean else None


def spread(values: Sequence[float | None], digits: int = 2) -> str:
    clean = [v for v in values if v is not None]
    if len(clean) < 2:
        return ""
    return f" ({min(clean):.{digits}f}–{max(clean):.{digits}f})"


def fmt(value: float | None, digits: int = 2, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}{unit}"


def with_spread(values: Sequence[float | None], digits: int = 2, unit: str = "") -> str:
    """Median, then min–max over the rounds in brackets."""
    return fmt(med(values), digits, unit) + spread(values, digits)


def alternate(
    targets: list[Target], rounds: int, measure: Callable[[Target], dict], log: Callable[[str], None]
) -> dict[str, list[dict]]:
    """Run `measure` on each target, round by round, rotating the order so no target always goes first."""
    results: dict[str, list[dict]] = {t.name: [] for t in targets}
    for r in range(rounds):
        shift = r % len(targets)
        for target in targets[shift:] + targets[:shift]:
            cpu_before = target.server.cpu_seconds() if target.server is not None else None
            try:
                res = measure(target)
            except Exception as exc:  # a failing target is recorded, the others still run
                res = {"requests": 0, "errors": 1, "error_kinds": {"harness": str(exc)[:300]}, "rps": 0.0}
            if cpu_before is not None and res.get("requests"):
                # the server's own CPU per answered request: stable even when the machine is busy
                res["cpu_ms"] = (target.server.cpu_seconds() - cpu_before) * 1000 / res["requests"]
            results[target.name].append(res)
            log(
                f"  round {r + 1}/{rounds} {target.name:13s} rps={res.get('rps', 0):>9,.1f} "
                f"p50={fmt(res.get('p50'), 3)}ms p99={fmt(res.get('p99'), 3)}ms "
                f"ttfb50={fmt(res.get('ttfb_p50'), 3)} cpu/req={fmt(res.get('cpu_ms'), 3)}ms errors={res.get('errors')}"
            )
    return results


def per_round_diff(results: dict[str, list[dict]], a: str, b: str, key: str) -> list[float | None]:
    """results[a][r][key] - results[b][r][key], per round (None where either is missing)."""
    out = []
    for ra, rb in zip(results.get(a, []), results.get(b, []), strict=False):
        va, vb = ra.get(key), rb.get(key)
        out.append(None if va is None or vb is None or ra.get("requests", 0) == 0 else va - vb)
    return out


def total(results: list[dict], key: str) -> int:
    return sum(int(r.get(key) or 0) for r in results)
