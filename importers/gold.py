"""Read a gold file: samples with known answers, the control items of the quality loop.

Adapter (reads files). A gold file is a sample file (any format :mod:`.samples` reads) whose
samples and candidates may carry a ``gold`` object with the known answer to some rubric
questions, keyed like ``judge``:

.. code-block:: json

    {"id": "gold-7", "category": "customer_complaint", "prompt": "...",
     "candidates": [{"id": "g7-a", "text": "...", "gold": {"tone_zone": 0, "liability_flags": []}},
                    {"id": "g7-b", "text": "...", "gold": {"tone_zone": -2}}],
     "gold": {"preference": "g7-a"}}

Gold answers are checked against the rubric exactly like judge answers (a value the rubric does
not allow is a one-line error with file, line and field). ``gold`` never reaches a platform: the
samples returned carry no gold, and the answers come back as a table
(``item_id, candidate_id, question, value``) for :func:`brun_label.agreement.gold.gold_scores`.

Examples
--------
>>> import json, os, tempfile
>>> from brun_label.rubrics import load_rubric
>>> p = os.path.join(tempfile.mkdtemp(), "gold.jsonl")
>>> _ = open(p, "w").write(json.dumps({"id": "g1", "prompt": "Refund now!", "gold": {"preference": "a"},
...     "candidates": [{"id": "a", "text": "I can help.", "gold": {"tone_zone": 0}}, {"id": "b", "text": "No."}]}) + "\\n")
>>> samples, answers = read_gold(p, load_rubric("de-escalation"))
>>> [s.id for s in samples], answers.values.tolist()
(['g1'], [['g1', 'a', 'tone_zone', 0], ['g1', '', 'preference', 'a']])
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from brun_label.errors import InputError, ValidationFailed
from brun_label.importers.samples import iter_records
from brun_label.model import Sample, SampleError, sample_from_dict
from brun_label.rubric import Rubric
from brun_label.sample_rubric import sample_problems

GOLD_COLUMNS = ("item_id", "candidate_id", "question", "value")


def _split_gold(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, list[Any]]:
    rec = copy.copy(record)
    item_gold = rec.pop("gold", None)
    cand_gold: list[Any] = []
    cands = rec.get("candidates")
    if isinstance(cands, list):
        rec["candidates"] = []
        for cand in cands:
            if isinstance(cand, dict):
                cand = dict(cand)
                cand_gold.append(cand.pop("gold", None))
            else:
                cand_gold.append(None)
            rec["candidates"].append(cand)
    return rec, item_gold, cand_gold


def _iter_gold(path: str | Path, rubric: Rubric, fmt: str | None) -> Iterator[tuple[Sample, list[tuple[str, str, Any]]] | InputError]:
    seen: set[str] = set()
    for line, rec in iter_records(path, fmt):
        if isinstance(rec, InputError):
            yield rec
            continue
        if not isinstance(rec, dict):
            yield InputError("must be a JSON object", path=str(path), line=line, field="(sample)")
            continue
        plain, item_gold, cand_gold = _split_gold(rec)
        try:
            sample = sample_from_dict(plain)
        except SampleError as exc:
            yield InputError(exc.message, path=str(path), line=line, field=exc.field)
            continue
        if sample.id in seen:
            yield InputError(f"duplicate sample id {sample.id!r}", path=str(path), line=line, field="id")
            continue
        seen.add(sample.id)
        for where, value in [("gold", item_gold), *((f"candidates[{i}].gold", g) for i, g in enumerate(cand_gold))]:
            if value is not None and not isinstance(value, dict):
                yield InputError(f"must be an object, got {type(value).__name__}", path=str(path), line=line, field=where)
                break
        else:
            # Checked with the judge rules (same keys and values), then dropped from the sample.
            as_judged = replace(sample, judge=item_gold, candidates=tuple(
                replace(c, judge=g) for c, g in zip(sample.candidates, cand_gold, strict=True)))
            problems = sample_problems(as_judged, rubric)
            if problems:
                for field, message in problems:
                    yield InputError(message, path=str(path), line=line, field=field.replace("judge", "gold"))
                continue
            if not item_gold and not any(cand_gold):
                yield InputError("a gold sample needs at least one known answer", path=str(path), line=line,
                                 field="gold")
                continue
            answers = [(sample.id, "", q, v) for q, v in (item_gold or {}).items()]
            answers = [(sample.id, c.id, q, v) for c, g in zip(sample.candidates, cand_gold, strict=True)
                       for q, v in (g or {}).items()] + answers
            yield sample, [(cid, q, v) for _, cid, q, v in answers]


def read_gold(path: str | Path, rubric: Rubric, fmt: str | None = None) -> tuple[list[Sample], pd.DataFrame]:
    """Return the gold samples (without their answers) and the answers as a table."""
    samples: list[Sample] = []
    rows: list[tuple[str, str, str, Any]] = []
    problems: list[InputError] = []
    for item in _iter_gold(path, rubric, fmt):
        if isinstance(item, InputError):
            problems.append(item)
            continue
        sample, answers = item
        samples.append(sample)
        rows += [(sample.id, cid, q, v) for cid, q, v in answers]
    if problems:
        raise ValidationFailed(problems)
    if not samples:
        raise InputError("gold file has no samples", path=str(path))
    return samples, pd.DataFrame(rows, columns=list(GOLD_COLUMNS))
