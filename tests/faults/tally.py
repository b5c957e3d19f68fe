"""The fault-injection figures of a test session: faults tried, survived, rows lost or invented.

A fault is *survived* when the run under it succeeded exactly, or failed with one line and the
re-run succeeded exactly, with nothing lost (a sample or annotation row missing) and nothing
invented (a sample twice, a row that is not in the clean pull).
"""

from __future__ import annotations

from collections import Counter

TALLY: Counter[str] = Counter()
#: (what, fault kind, outcome) of every fault tried.
RUNS: list[tuple[str, str, str]] = []


def record(what: str, kind: str, outcome: str, *, lost: int, invented: int) -> None:
    """Count one fault tried on ``what`` (e.g. "label-studio push")."""
    TALLY["tried"] += 1
    TALLY["rows lost"] += lost
    TALLY["rows invented"] += invented
    TALLY[outcome] += 1
    if lost == 0 and invented == 0:
        TALLY["survived"] += 1
    RUNS.append((what, kind, outcome))


def summary() -> str:
    """One line of figures, e.g. for the README."""
    return (f"faults tried {TALLY['tried']}, survived {TALLY['survived']} "
            f"(run ok {TALLY['ok']}, failed with one line then re-run ok {TALLY['failed cleanly']}), "
            f"rows lost {TALLY['rows lost']}, rows invented {TALLY['rows invented']}")
