"""Output helpers shared by the commands: JSON to stdout, progress to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click


def echo_json(obj: Any) -> None:
    """Print exactly one JSON object to stdout."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=str, indent=None))


def info(message: str) -> None:
    """Print a log line to stderr."""
    click.echo(message, err=True)


class Progress:
    """A progress bar on stderr (a plain line per 10% when stderr is not a terminal)."""

    def __init__(self, total: int, label: str) -> None:
        self.total = max(total, 0)
        self.label = label
        self.done = 0
        self._tty = sys.stderr.isatty()
        self._last_decile = -1

    def update(self, n: int = 1) -> None:
        """Advance the bar by ``n`` units."""
        self.done += n
        if self.total <= 0:
            return
        frac = min(self.done / self.total, 1.0)
        if self._tty:
            width = 30
            filled = int(frac * width)
            sys.stderr.write(
                f"\r{self.label} [{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total}"
            )
            sys.stderr.flush()
        else:
            decile = int(frac * 10)
            if decile != self._last_decile:
                self._last_decile = decile
                sys.stderr.write(f"{self.label}: {self.done}/{self.total}\n")

    def close(self) -> None:
        """Finish the bar."""
        if self._tty and self.total > 0:
            sys.stderr.write("\n")
            sys.stderr.flush()


@contextmanager
def progress(total: int, label: str) -> Iterator[Progress]:
    """Context manager around :class:`Progress`."""
    bar = Progress(total, label)
    try:
        yield bar
    finally:
        bar.close()
