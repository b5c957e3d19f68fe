"""The port every annotation platform adapter implements, and the plugin registry.

A backend is found by name through the ``brun_label.backends`` entry-point group (see
``pyproject.toml``), so a third-party package can add one. Each adapter maps every SDK or HTTP
error to one of :mod:`brun_label.errors`' exceptions; callers never see SDK exception types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol

import pandas as pd

from brun_label.errors import InputError
from brun_label.model import OPTIONAL_COLUMNS, Sample
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
    show_judge: bool = False
    """Show the LLM judge's answers to annotators (Label Studio pre-labels tasks with the
    predictions, Argilla pre-selects the suggestions). Off by default: the answers are stored
    for pull, but annotators are not anchored on them."""


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
    notes: list[str] = field(default_factory=list)
    """What the user should know about the pull (e.g. a rubric recorded by name only, unverified)."""
    item_keys: dict[str, str] = field(default_factory=dict)
    """The platform's own key of each pulled item (a Label Studio task id, as text) -> item id, for
    incremental pulls (:mod:`brun_label.backends.label_studio_changes`); empty when not needed."""


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


def recorded_rubric(recorded: Iterable[str], rubric: Rubric | None, where: str) -> tuple[Rubric, list[str]]:
    """Return the rubric a pull reads answers with, and notes, from what push recorded on the items.

    ``recorded`` holds every rubric value found on the tasks/records (or the project/dataset):
    an identity ``name@fingerprint``, or a bare name (pushes before identities were recorded).
    ``rubric`` is the one given with ``--rubric``, if any. The rule is
    :func:`brun_label.rubrics.resolve_rubric`'s: a given rubric must have the recorded
    fingerprint, else the pull is refused (a user file reusing a pack's name is never swapped for
    the pack); with none given, the shipped pack must match the record. A bare name is read as
    "that pack (or the given rubric of that name), unverified", with a note saying so. Items
    recording different rubrics (a config replaced by ``push --update-config``) are read only with
    a ``--rubric`` that is one of them, with a note.

    >>> from brun_label.rubrics import load_rubric
    >>> pack = load_rubric("de-escalation")
    >>> recorded_rubric([pack.identity], None, "project p")[0].identity == pack.identity
    True
    >>> recorded_rubric(["de-escalation"], None, "project p")[1]
    ['project p records only the rubric name de-escalation (pushed by an older brun-label): read with that pack, unverified']
    >>> recorded_rubric(["deal-closer@000000000000"], pack, "project p")
    Traceback (most recent call last):
    ...
    brun_label.errors.InputError: --rubric: project p was pushed with rubric deal-closer@000000000000, but --rubric de-escalation is de-escalation@c8efd34e179e: pass the rubric it was pushed with
    """
    from brun_label.rubrics import load_rubric, pack_names, resolve_rubric

    values = sorted({str(v) for v in recorded if v})
    if len(values) > 1:
        # A config replaced with --update-config (checked to keep every answer valid) leaves the
        # older tasks recording the older rubric: the user names the one to read them with.
        if rubric is not None and rubric.identity in values:
            return rubric, [f"{where} records {len(values)} rubrics ({', '.join(values[:3])}): read with "
                            f"--rubric {rubric.identity}"]
        raise InputError(f"{where} records {len(values)} different rubrics ({', '.join(values[:3])}): pass "
                         "--rubric with the one to read its answers with", field="--rubric")
    if not values:
        if rubric is None:
            raise InputError(f"{where} records no rubric (not pushed by brun-label?): pass --rubric NAME|FILE",
                             field="--rubric")
        return rubric, []
    value = values[0]
    if "@" not in value:  # recorded by name only: cannot be verified
        if rubric is not None:
            if rubric.name != value:
                raise InputError(f"{where} was pushed with rubric {value}, but --rubric is {rubric.identity}",
                                 field="--rubric")
            return rubric, [f"{where} records only the rubric name {value} (pushed by an older brun-label): "
                            f"read with --rubric {rubric.identity}, unverified"]
        if value not in pack_names():
            raise InputError(f"{where} was pushed with rubric {value!r} (not a shipped pack): pass its file with "
                             "--rubric", field="--rubric")
        return load_rubric(value), [f"{where} records only the rubric name {value} (pushed by an older "
                                    "brun-label): read with that pack, unverified"]
    if rubric is not None:
        if rubric.identity != value:
            raise InputError(f"{where} was pushed with rubric {value}, but --rubric {rubric.name} is "
                             f"{rubric.identity}: pass the rubric it was pushed with", field="--rubric")
        return rubric, []
    return resolve_rubric(value, None, where=where), []


def rubric_change_note(recorded: Iterable[object], rubric: Rubric, where: str) -> str | None:
    """Say that a push adds items under another rubric than the ones already there (else None).

    Pull then reads the target only with a ``--rubric`` naming one of them
    (:func:`recorded_rubric`), so push says so when it happens.

    >>> from brun_label.rubrics import load_rubric
    >>> r = load_rubric("de-escalation")
    >>> rubric_change_note([r.identity, None], r, "project p") is None
    True
    >>> rubric_change_note(["de-escalation"], r, "project p")  # doctest: +ELLIPSIS
    'project p already holds items pushed with rubric de-escalation; the new ones record de-escalation@...'
    """
    others = sorted({v for v in recorded if isinstance(v, str)} - {rubric.identity})
    if not others:
        return None
    return (f"{where} already holds items pushed with rubric {', '.join(others[:3])}; the new ones record "
            f"{rubric.identity}: pull will need --rubric naming the one to read them with")


def pulled_table(
    rubric: Rubric,
    rows: list[dict[str, Any]],
    orders: Mapping[str, Sequence[str]],
    judge_orders: Mapping[str, Sequence[str]] | None = None,
    invalid: list[str] | None = None,
) -> pd.DataFrame:
    """Build a pulled annotation table from decoded rows, the same way for every backend.

    Adds a person's ``[]`` for flags left unticked on a rated candidate
    (:func:`~brun_label.layout.fill_unticked_flags`), then the ``rubric``, ``position`` and
    ``shown_order`` columns (:func:`~brun_label.layout.add_table_columns`); ``position`` is a
    nullable integer column. With ``invalid``, the table is also checked with
    :func:`brun_label.answers.check_answers`, the check ``agreement`` and ``export`` make, so a
    pulled answer is used or not the same way everywhere: rows it rejects are left out and
    described in ``invalid``.

    >>> from brun_label.rubrics import load_rubric
    >>> rows = [{"item_id": "s1", "candidate_id": "", "question": "preference", "annotator": "a", "value": "c9"}]
    >>> problems: list[str] = []
    >>> len(pulled_table(load_rubric("de-escalation"), rows, {"s1": ["c1", "c2"]}, invalid=problems)), problems
    (0, ["item s1, a: value: preference: 'c9' is not tie, both_bad or a candidate of item s1 (c1, c2)"])
    """
    from brun_label.layout import add_table_columns, fill_unticked_flags
    from brun_label.table import make_table

    table = make_table(add_table_columns(rubric, fill_unticked_flags(rubric, rows), orders, judge_orders))
    for column in OPTIONAL_COLUMNS[:3]:
        if column not in table.columns:
            table[column] = pd.Series(dtype="object")
    table["position"] = table["position"].astype("Int64")
    if invalid is not None and len(table):
        from brun_label.answers import check_answers

        kept, problems = check_answers(table, rubric, orders)
        for p in problems:
            row = table.iloc[p.row]
            invalid.append(f"item {row['item_id']}, {row['annotator']}: {p.field}: {p.message}")
        if problems:
            table = kept.reset_index(drop=True)
    return table


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
