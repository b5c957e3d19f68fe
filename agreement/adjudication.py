"""Which units need a second look: low-agreement units for adjudication.

Pure core. A unit (one candidate's answer to one question, or one item's preference) with at
least two human ratings is listed when

* **no majority**: no value was given by more than half of its annotators (for flags: no set of
  flags was), or
* **wide spread** (ordinal, interval and ratio questions): the ratings span at least
  ``max(2, ⌈steps / 3⌉)`` scale steps, where ``steps`` is the width of the scale, e.g. a −2..+2
  tone zone lists a unit rated −1 by one annotator and +1 by another even if others agree.

Each entry carries the answers of every annotator (and of the judge, apart), the consensus and
its support, and ``disagreement``, the share of annotator pairs that disagree. Entries are
ordered most contested first: lowest support, then widest spread, then most disagreement.

Examples
--------
>>> from brun_label.table import make_table
>>> from brun_label.agreement.questions import split_questions
>>> from brun_label.agreement.consensus import majority_vote
>>> rows = [{"item_id": f"s{u}", "candidate_id": "c", "question": "tone", "annotator": a, "value": v}
...         for u, votes in enumerate([(0, 0, 0), (-1, 1, 0), (0, 0, 1)])
...         for a, v in zip(["ann1", "ann2", "ann3"], votes)]
>>> q = split_questions(make_table(rows), levels={"tone": "ordinal"})[0]["tone"]
>>> [(e["item_id"], e["reasons"]) for e in low_agreement_units(q, majority_vote(q.values, level="ordinal"))]
[('s1', ['no majority (1 of 3 agree)', 'ratings span 2 scale steps (-1 to 1)'])]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.annotators import scale_step
from brun_label.agreement.consensus import UnitConsensus
from brun_label.agreement.metrics import category_counts
from brun_label.agreement.percent import unit_agreement
from brun_label.agreement.questions import QuestionData


def _native(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float | np.floating):
        if math.isnan(v):
            return None
        return int(v) if float(v).is_integer() else float(v)
    if isinstance(v, frozenset | set):
        return sorted(v)
    return v


def _natives(values: np.ndarray) -> list[list[Any]]:
    """:func:`_native` of every cell (rows of lists), converting each distinct value once."""
    if values.size == 0:
        return [[] for _ in range(values.shape[0])]
    codes, uniques = pd.factorize(pd.Series(values.ravel(), dtype=object), use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=object)
    for k, v in enumerate(uniques.tolist()):
        table[k] = _native(v)
    table[-1] = None
    return table[np.asarray(codes)].reshape(values.shape).tolist()


def spread_threshold(q: QuestionData) -> float:
    """Number of scale steps from which a unit's spread counts as wide."""
    step = scale_step(q)
    dom = q.domain if q.domain else q.values[~np.isnan(q.values)].tolist()
    width = (max(dom) - min(dom)) / step if dom else 0.0
    return float(max(2.0, math.ceil(width / 3.0)))


def low_agreement_units(
    q: QuestionData, cons: UnitConsensus, *, limit: int | None = None, total: list[int] | None = None
) -> list[dict[str, Any]]:
    """Return the units of one question that need adjudication (see the module docstring).

    ``limit`` keeps only the most contested ones (the first ``limit`` of the full, sorted list;
    entries are built only for them); ``total``, when given, gets the number of all listed units
    appended.
    """
    counts, _ = category_counts(q)
    n = counts.sum(axis=1)
    pair_agree = unit_agreement(counts)
    spread_steps = np.zeros(len(n))
    wide = np.zeros(len(n), dtype=bool)
    threshold = math.inf
    lo = hi = np.full(len(n), np.nan)
    if q.numeric and q.level != "nominal" and q.values.size:
        step = scale_step(q)
        with np.errstate(invalid="ignore"):
            lo = np.fmin.reduce(q.values, axis=0)
            hi = np.fmax.reduce(q.values, axis=0)
        spread_steps = np.nan_to_num((hi - lo) / step)
        threshold = spread_threshold(q)
        wide = spread_steps >= threshold - 1e-9
    no_majority = np.nan_to_num(cons.support, nan=1.0) <= 0.5
    listed = np.flatnonzero((n >= 2) & (no_majority | wide))
    if total is not None:
        total.append(len(listed))
    if limit is not None and len(listed) > limit:
        # The sort below, done on arrays first: support, then widest spread, most disagreement, ids.
        support = np.asarray(cons.support, dtype=np.float64)[listed]
        order = np.lexsort((
            q.unit_candidates[listed].astype(str), q.unit_items[listed].astype(str),
            -(1.0 - pair_agree[listed]), -spread_steps[listed], support,
        ))
        listed = np.sort(listed[order[:limit]])
    # Native answers of the listed units, each distinct value converted once.
    human = _natives(q.values[:, listed])
    judged = _natives(q.judge_values[:, listed])
    entries = []
    for j, u in enumerate(listed.tolist()):
        reasons = []
        if no_majority[u]:
            reasons.append(f"no majority ({int(cons.n_support[u])} of {int(cons.n_annotators[u])} agree)")
        if wide[u]:
            reasons.append(
                f"ratings span {spread_steps[u]:g} scale steps ({_native(lo[u])} to {_native(hi[u])})"
            )
        answers = {a: human[i][j] for i, a in enumerate(q.annotators) if human[i][j] is not None}
        judge = {a: judged[i][j] for i, a in enumerate(q.judges) if judged[i][j] is not None}
        entries.append({
            "item_id": str(q.unit_items[u]),
            "candidate_id": str(q.unit_candidates[u]),
            "question": q.name,
            "reasons": reasons,
            "consensus": _native(cons.value[u]),
            "support": float(cons.support[u]),
            "tied": bool(cons.tied[u]),
            "n_annotators": int(cons.n_annotators[u]),
            "disagreement": float(1.0 - pair_agree[u]),
            "spread_steps": float(spread_steps[u]),
            "answers": answers,
            "judge": judge,
        })
    entries.sort(key=lambda e: (e["support"], -e["spread_steps"], -e["disagreement"], e["item_id"], e["candidate_id"]))
    return entries
