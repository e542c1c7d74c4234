"""Result rows and the printed table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One measurement beside its baseline (both in ``unit``)."""

    benchmark: str
    measure: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    goal: str = ""


def median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def format_table(rows: list[Row]) -> str:
    headers = ["benchmark", "measure", "value", "baseline", "baseline value", "ratio", "goal"]
    lines = []
    for r in rows:
        base = "" if r.baseline_value is None else f"{r.baseline_value:.3g} {r.unit}"
        ratio = "" if not r.baseline_value else f"{r.value / r.baseline_value:.2f}x"
        lines.append([r.benchmark, r.measure, f"{r.value:.3g} {r.unit}", r.baseline, base, ratio,
                      r.goal])
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(headers)]
    out = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
           "-+-".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)
