"""The port every annotation platform adapter implements, and the plugin registry.

A backend is found by name through the ``brun_label.backends`` entry-point group (see
``pyproject.toml``), so a third-party package can add one. Each adapter maps every SDK or HTTP
error to one of :mod:`brun_label.errors`' exceptions; callers never see SDK exception types.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

import pandas as pd

from brun_label.errors import InputError
from brun_label.model import Sample
from brun_label.rubric import Rubric

ENTRY_POINT_GROUP = "brun_label.backends"

#: Called with the number of units just finished (samples pushed, tasks pulled) and the total.
ProgressFn = Callable[[int, int], None]


@dataclass
class PushOptions:
    """Options of a push, common to every backend."""

    target: str
    """Label Studio project title, or Argilla dataset name."""
    workspace: str | None = None
    n_candidates: int | None = None
    """Candidate slots in the config (default: the most candidates any sample has)."""
    update_config: bool = False
    dry_run: bool = False
    annotators_per_item: int | None = None
    seed: int = 0
    """Seed of the per-sample candidate order shown to annotators."""
    chunk_size: int | None = None


@dataclass
class PushResult:
    """What a push did (or, with ``dry_run``, would do)."""

    platform: str
    target: str
    created: bool
    """Whether the project/dataset was created by this push."""
    n_samples: int
    n_existing: int
    """Samples already on the server (not pushed again)."""
    n_added: int
    config_changed: bool = False
    dry_run: bool = False
    url: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict."""
        return dict(self.__dict__)


@dataclass
class PullOptions:
    """Options of a pull, common to every backend."""

    target: str
    workspace: str | None = None
    include_judge: bool = True
    annotator_names: str = "email"
    """How Label Studio annotators are named: ``email`` (default) or ``username`` (Argilla has
    only usernames; use ``username`` to merge people who work on both platforms)."""
    """Include LLM-judge predictions/suggestions as ``judge:<model>`` annotator rows."""


@dataclass
class PullResult:
    """The pulled annotation table and the answers that failed validation against the rubric."""

    table: pd.DataFrame
    invalid: list[str] = field(default_factory=list)
    n_items: int = 0


class Backend(Protocol):
    """An annotation platform adapter."""

    name: str

    def push(
        self, samples: Sequence[Sample], rubric: Rubric, options: PushOptions, progress: ProgressFn | None = None
    ) -> PushResult:
        """Create or reuse the project/dataset and add the samples that are not there yet."""
        ...

    def pull(self, rubric: Rubric | None, options: PullOptions, progress: ProgressFn | None = None) -> PullResult:
        """Return every annotator's answers as the long annotation table.

        With ``rubric=None`` the backend loads the rubric recorded on the items by ``push``.
        """
        ...


def backend_names() -> list[str]:
    """Return the names of the installed backends."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def get_backend(name: str, **kwargs: Any) -> Backend:
    """Instantiate the backend registered under ``name`` (kwargs go to its constructor)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            cls = ep.load()
            backend: Backend = cls(**kwargs)
            return backend
    raise InputError(f"unknown platform {name!r} (installed: {', '.join(backend_names())})", field="--to/--from")
