"""The suite's table and the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Row:
    """One figure: a count, or a value with the baseline it is divided by (same run)."""

    section: str
    figure: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) by nearest rank; values need not be sorted."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}" if baseline else "n/a"


def table(rows: list[Row]) -> str:
    headers = ("section", "figure", "value", "baseline", "ratio", "target")
    cells = [headers] + [
        (r.section, r.figure, r.value, r.baseline, r.ratio, r.target) for r in rows
    ]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if index == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> str:
    """`nproc`, memory, CPU model and the load average when the suite started."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False).stdout
    total = next((line.split()[1] for line in memory.splitlines() if line.startswith("Mem:")), "?")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}; memory {total}; CPU {model}; "
        f"Python {platform.python_version()}; load average at start {load}"
    )
