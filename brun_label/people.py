"""People, not strings: name each annotation row by the person behind it, on every platform.

Pure core (pandas). Label Studio names an annotator by email, Argilla by username; a project file
(:mod:`brun_label.project`) says which identities are one person. :func:`attribute_people`:

* renames each row's ``annotator`` to the person's name (``platform`` + identity, case-insensitive);
* keeps identities that match no person under their platform name and reports them;
* when the same person answered the same question about the same item/candidate on two platforms,
  keeps only the later answer (by ``submitted_at``; without timestamps, the row pulled last) and
  counts it, so one person is one voter;
* never touches ``judge:`` rows (the judge is not a person).

:func:`pseudonymize` replaces names with stable pseudonyms (the person's own, else a keyed hash
of the name with the project's salt), for exports of teams that do not track individuals.

Examples
--------
>>> import pandas as pd
>>> from brun_label.project import project_from_dict
>>> from brun_label.table import make_table
>>> p = project_from_dict({"samples": "s.jsonl", "rubric": "de-escalation",
...     "platforms": {"label-studio": {"project": "P"}, "argilla": {"dataset": "d"}},
...     "people": [{"name": "Ana", "label-studio": "ana@corp.com", "argilla": "ana"}]})
>>> t = make_table([
...     {"item_id": "s1", "candidate_id": "c1", "question": "tone_zone", "annotator": "ana@corp.com",
...      "value": 0, "platform": "label-studio", "submitted_at": "2026-01-01T10:00:00Z"},
...     {"item_id": "s1", "candidate_id": "c1", "question": "tone_zone", "annotator": "ana",
...      "value": 1, "platform": "argilla", "submitted_at": "2026-01-02T10:00:00Z"},
...     {"item_id": "s1", "candidate_id": "c1", "question": "tone_zone", "annotator": "bob",
...      "value": 1, "platform": "argilla", "submitted_at": "2026-01-02T10:00:00Z"}])
>>> out, report = attribute_people(t, p)
>>> out[["annotator", "value", "platform"]].values.tolist()
[['Ana', 1, 'argilla'], ['argilla:bob', 1, 'argilla']]
>>> report.unmatched, report.cross_platform_duplicates
({'argilla:bob': 1}, 1)
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from brun_label.model import JUDGE_PREFIX
from brun_label.project import Project


@dataclass
class PeopleReport:
    """What :func:`attribute_people` did."""

    matched: dict[str, int] = field(default_factory=dict)
    """Rows per person."""
    unmatched: dict[str, int] = field(default_factory=dict)
    """Rows per ``platform:identity`` that matches no person in the project file."""
    cross_platform_duplicates: int = 0
    """Answers dropped because the same person gave a later one on another platform."""

    def notes(self) -> list[str]:
        """Human-readable lines for the pull's summary."""
        out = []
        for who, n in sorted(self.unmatched.items()):
            out.append(f"{who}: {n} row(s) from an identity that matches no person in the project file (kept under that name)")
        if self.cross_platform_duplicates:
            out.append(f"{self.cross_platform_duplicates} answer(s) given by the same person on both platforms: "
                       "the later one counts, the earlier one is left out")
        return out


def attribute_people(table: pd.DataFrame, project: Project) -> tuple[pd.DataFrame, PeopleReport]:
    """Return the table with ``annotator`` naming people, and what was matched (see module docs)."""
    report = PeopleReport()
    if table.empty:
        return table.copy(), report
    lookup: dict[tuple[str, str], str] = {}
    for person in project.people:
        for platform, ident in person.identities.items():
            lookup[(platform, ident.strip().lower())] = person.name
    platforms = table["platform"].astype("object").where(table["platform"].notna(), "").astype(str)
    annotators = table["annotator"].astype(str)
    # one lookup per distinct (platform, identity), not per row: tables run to millions of rows
    codes, uniques = pd.factorize(platforms + "\x00" + annotators.str.strip().str.lower())
    found = np.array([lookup.get(tuple(u.split("\x00", 1))) for u in uniques], dtype=object)
    names = pd.Series(found[codes] if len(codes) else np.array([], dtype=object), index=table.index)
    judge = annotators.str.startswith(JUDGE_PREFIX)
    unmatched = names.isna() & ~judge
    out = table.copy()
    out["annotator"] = annotators.where(names.isna(), names)
    labels = platforms.where(platforms != "", "unknown") + ":" + annotators
    out.loc[unmatched, "annotator"] = labels[unmatched]
    report.unmatched = {str(k): int(v) for k, v in labels[unmatched].value_counts().items()}
    report.matched = {str(k): int(v) for k, v in out.loc[names.notna(), "annotator"].value_counts().items()}
    # one person, one voter: the latest answer per (item, candidate, question, person) across platforms
    people_rows = out[names.notna()]
    if not people_rows.empty:
        key = ["item_id", "candidate_id", "question", "annotator"]
        order = pd.to_datetime(people_rows["submitted_at"], errors="coerce", utc=True)
        ranked = people_rows.assign(_t=order, _i=range(len(people_rows)))
        ranked = ranked.sort_values(["_t", "_i"], na_position="first", kind="stable")
        n_platforms = ranked.groupby(key, sort=False)["platform"].transform("nunique")
        multi = ranked[n_platforms > 1]
        if not multi.empty:
            keep_idx = multi.groupby(key, sort=False).tail(1)
            # keep every row of the latest platform's answer for that key (a flags answer is one row)
            latest_platform = keep_idx.set_index(key)["platform"]
            merged = multi.join(latest_platform.rename("_keep"), on=key)
            drop = merged.index[merged["platform"] != merged["_keep"]]
            report.cross_platform_duplicates = len(drop)
            out = out.drop(index=drop)
    return out.reset_index(drop=True), report


def pseudonym_for(name: str, project: Project) -> str:
    """Return the stable pseudonym of ``name``: the person's own, else a keyed hash with the project salt.

    >>> from brun_label.project import project_from_dict
    >>> p = project_from_dict({"samples": "s", "rubric": "r", "platforms": {"argilla": {"dataset": "d"}},
    ...     "people": [{"name": "Ana", "argilla": "ana", "pseudonym": "p01"}], "pseudonym_salt": "abc"})
    >>> pseudonym_for("Ana", p), pseudonym_for("argilla:bob", p) == pseudonym_for("argilla:bob", p)
    ('p01', True)
    >>> pseudonym_for("judge:gpt-4o", p)
    'judge:gpt-4o'
    """
    if name.startswith(JUDGE_PREFIX):
        return name
    for person in project.people:
        if person.name == name and person.pseudonym:
            return person.pseudonym
    salt = (project.pseudonym_salt or "").encode("utf-8")
    digest = hmac.new(salt, name.encode("utf-8"), hashlib.sha256).hexdigest()[:10]
    return f"annotator-{digest}"


def pseudonymize(table: pd.DataFrame, project: Project) -> pd.DataFrame:
    """Return a copy of ``table`` whose ``annotator`` column holds pseudonyms (judges stay named)."""
    out = table.copy()
    mapping = {name: pseudonym_for(str(name), project) for name in out["annotator"].unique()}
    out["annotator"] = out["annotator"].map(mapping)
    return out
