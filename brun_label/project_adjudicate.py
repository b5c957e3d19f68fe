"""``adjudicate``: send the disputed items to an adjudication project where a named person decides.

Adapter (platforms through the backend port) around a pure core (:func:`answers_digest`,
:func:`adjudication_samples`, :func:`decision_rows`). The items worth a second look are the agreement
engine's low-agreement units (:func:`brun_label.agreement.summary.summarize`) and the items
``route`` gave up on at ``max_overlap``, never gold items. Each is pushed, with its candidates in
the order the adjudicator will see them, to

* Label Studio: the project ``<title> (adjudication)`` (titles are cut to the server's 50 chars),
* Argilla: the dataset ``<dataset>-adjudication`` in the same workspace,

with every annotator's answers shown as text under the scenario (as text: answers and names are
untrusted and never markup). The next project pull brings the decisions back; only people named in
the project's ``adjudicators`` count (others are reported), as ``adjudicator:<name>`` rows, which
``export`` treats as final (:mod:`brun_label.exporters.adjudicated`).

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.table import make_table
>>> s = sample_from_dict({"id": "s1", "prompt": "Refund now!", "candidates": [{"id": "a", "text": "Sure."},
...                                                                          {"id": "b", "text": "No."}]})
>>> t = make_table([{"item_id": "s1", "candidate_id": "a", "question": "tone_zone", "annotator": "ana", "value": -1},
...                 {"item_id": "s1", "candidate_id": "a", "question": "tone_zone", "annotator": "bo", "value": 1},
...                 {"item_id": "s1", "question": "preference", "annotator": "ana", "value": "b"}])
>>> print(answers_digest(t, s, load_rubric("de-escalation"), ["b", "a"]))
Answers so far (2 annotators):
Candidate B · Tone zone: ana -1 Soft; bo +1 Firm
Which reply would you send?: ana A
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from brun_label.backends.base import Backend, PullOptions, PushOptions, PushResult
from brun_label.exporters.adjudicated import ADJUDICATOR_PREFIX
from brun_label.layout import candidate_order, prompt_display
from brun_label.model import JUDGE_PREFIX, Sample, candidate_label
from brun_label.people import attribute_people
from brun_label.project import Project
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric

BackendFactory = Callable[[str, Any], Backend]
#: Label Studio's longest project title.
MAX_TITLE = 50


def adjudication_target(platform: str, target: str) -> str:
    """The adjudication project/dataset name for a platform's target.

    >>> adjudication_target("label-studio", "Crisis replies v1"), adjudication_target("argilla", "crisis-v1")
    ('Crisis replies v1 (adjudication)', 'crisis-v1-adjudication')
    """
    if platform == "label-studio":
        suffix = " (adjudication)"
        return target[: MAX_TITLE - len(suffix)] + suffix
    return f"{target}-adjudication"


def _show(q: Question, value: Any, letters: dict[str, str]) -> str:
    if q.type == "preference":
        if value in (TIE, BOTH_BAD):
            return "tie" if value == TIE else "both bad"
        return letters.get(str(value), str(value))
    if q.type == "flags":
        return ", ".join(str(v) for v in value) if value else "none"
    if q.type in ("scale", "choice"):
        try:
            opt = q.option(value)
        except KeyError:
            return str(value)
        number = f"{value:+d}" if isinstance(value, int) and value else str(value)
        return f"{number} {opt.label}" if q.type == "scale" else opt.label
    return " ".join(str(value).split())[:300]


def answers_digest(table: pd.DataFrame, sample: Sample, rubric: Rubric, order: Sequence[str]) -> str:
    """Every person's submitted answers about ``sample``, as plain text lines (candidates by letter)."""
    rows = table[(table["item_id"] == sample.id) & (table["status"] == "submitted") & table["value"].notna()]
    rows = rows[~rows["annotator"].astype(str).str.startswith((JUDGE_PREFIX, ADJUDICATOR_PREFIX))]
    letters = {cid: candidate_label(i) for i, cid in enumerate(order)}
    people = sorted(rows["annotator"].astype(str).unique())
    lines = [f"Answers so far ({len(people)} annotator{'s' if len(people) != 1 else ''}):"]
    for cid in order:
        for q in rubric.questions:
            if q.scope != "candidate":
                continue
            got = rows[(rows["candidate_id"] == cid) & (rows["question"] == q.name)]
            if got.empty:
                continue
            parts = [f"{a} {_show(q, v, letters)}" for a, v in zip(got["annotator"], got["value"], strict=True)]
            lines.append(f"Candidate {letters[cid]} · {q.title}: " + "; ".join(parts))
    for q in rubric.questions:
        if q.scope != "item":
            continue
        got = rows[(rows["question"] == q.name) & (rows["candidate_id"] == "")]
        if not got.empty:
            lines.append(f"{q.title}: " + "; ".join(f"{a} {_show(q, v, letters)}"
                                                     for a, v in zip(got["annotator"], got["value"], strict=True)))
    return "\n".join(lines)


def adjudication_samples(table: pd.DataFrame, samples: Sequence[Sample], rubric: Rubric, *, seed: int = 0) -> list[Sample]:
    """The samples as the adjudicator sees them: the scenario followed by everyone's answers, no judge."""
    out = []
    for s in samples:
        order = candidate_order(s, seed=seed)
        text = prompt_display(s) + "\n\n" + answers_digest(table, s, rubric, order)
        out.append(replace(s, prompt=text, judge=None, judge_order=None,
                           candidates=tuple(replace(c, judge=None) for c in s.candidates)))
    return out


def items_to_adjudicate(summary: dict[str, Any], exhausted: Sequence[str], *, gold: Sequence[str] = (),
                        decided: Sequence[str] = ()) -> list[str]:
    """The disputed items: low-agreement units' items and routing's exhausted ones, minus gold and decided.

    >>> items_to_adjudicate({"low_agreement_units": [{"item_id": "s2"}, {"item_id": "s1"}, {"item_id": "g1"}]},
    ...                     ["s3"], gold=["g1"], decided=["s1"])
    ['s2', 's3']
    """
    items = [str(u["item_id"]) for u in summary.get("low_agreement_units", [])] + [str(i) for i in exhausted]
    skip = set(gold) | set(decided)
    return list(dict.fromkeys(i for i in items if i not in skip))


def push_adjudication(project: Project, rubric: Rubric, samples: Sequence[Sample], make_backend: BackendFactory,
                      *, dry_run: bool = False) -> dict[str, PushResult]:
    """Push the adjudication samples to every platform's adjudication project/dataset."""
    out: dict[str, PushResult] = {}
    for platform, target in project.targets.items():
        backend = make_backend(platform, target)
        out[platform] = backend.push(list(samples), rubric, PushOptions(
            target=adjudication_target(platform, target.target), workspace=target.workspace,
            annotators_per_item=1, dry_run=dry_run))
    return out


def decision_rows(table: pd.DataFrame, project: Project) -> tuple[pd.DataFrame, list[str]]:
    """Keep the adjudicators' submitted answers as ``adjudicator:<name>`` rows; report everyone else's."""
    named, _ = attribute_people(table, project)
    allowed = set(project.adjudicators)
    people = ~named["annotator"].astype(str).str.startswith(JUDGE_PREFIX)
    ok = named["annotator"].isin(allowed) & people & (named["status"] == "submitted")
    others = sorted(set(named.loc[people & ~named["annotator"].isin(allowed), "annotator"].astype(str)))
    notes = [f"answers by {who} in the adjudication project are not decisions (not an adjudicator of the project)"
             for who in others]
    out = named[ok].copy()
    out["annotator"] = ADJUDICATOR_PREFIX + out["annotator"].astype(str)
    return out.reset_index(drop=True), notes


def pull_decisions(project: Project, rubric: Rubric, make_backend: BackendFactory) -> tuple[pd.DataFrame, list[str]]:
    """Pull every platform's adjudication project (missing ones are skipped) into decision rows."""
    from brun_label.errors import NotFoundError

    frames: list[pd.DataFrame] = []
    notes: list[str] = []
    for platform, target in project.targets.items():
        backend = make_backend(platform, target)
        try:
            pulled = backend.pull(rubric, PullOptions(target=adjudication_target(platform, target.target),
                                                      workspace=target.workspace, include_judge=False))
        except NotFoundError:
            continue
        frames.append(pulled.table)
        notes += [f"{platform} adjudication: invalid answer (not used): {p}" for p in pulled.invalid]
    if not frames:
        return pd.DataFrame(), notes
    rows, more = decision_rows(pd.concat(frames, ignore_index=True), project)
    return rows, notes + more
