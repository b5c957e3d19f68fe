"""Shared benchmark plumbing: every bench module exposes ``run(quick: bool) -> list[Result]``.

A result compares our measurement with a baseline measured in the same run on the same data,
so ratios stay meaningful across machines. ``bench/run.py`` collects and prints them.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Result:
    """One benchmark line.

    ``ratio`` is ours/baseline for times (lower is better) unless ``higher_is_better``;
    ``target`` is the ratio the issue asks for and ``passed`` whether we met it.
    """

    name: str
    ours: float
    baseline: float
    unit: str
    target: float
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float:
        """ours / baseline."""
        return self.ours / self.baseline if self.baseline else float("inf")

    @property
    def passed(self) -> bool:
        """Whether the target ratio is met."""
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Return (best wall time in seconds over ``repeat`` runs, last result)."""
    best = float("inf")
    out = None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_rss_mb_of(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``cmd`` as a child process; return (wall seconds, its own peak RSS in MB).

    The peak is the child's ``VmHWM`` polled from ``/proc`` (the high-water mark of its own
    address space after exec). ``ru_maxrss`` from ``wait4`` is not used: a forked child inherits
    the parent's high-water mark, so a benchmark runner that already grew would be reported.
    """
    import subprocess

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    peak_kb = 0
    status_path = f"/proc/{proc.pid}/status"
    while proc.poll() is None:
        try:
            with open(status_path) as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
                        break
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 2):
        raise RuntimeError(f"{cmd} failed with exit code {proc.returncode}")
    return wall, peak_kb / 1024.0


def traced_peak_mb(fn: Callable[[], Any]) -> float:
    """Peak Python-allocated memory of ``fn()`` in MB (tracemalloc)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
