"""Print the fault-injection figures (:mod:`tests.faults.tally`) at the end of the session."""

from __future__ import annotations

from typing import Any

from tests.faults.tally import TALLY, summary


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY["tried"]:
        terminalreporter.write_line(f"fault injection: {summary()}")
