"""Gold (control) items: each person's accuracy against known answers, with a 95% interval.

Pure core (pandas/NumPy). A *gold answer* is a known value for one question of one gold item
(and candidate); the gold table has the annotation table's shape with the annotator column left
out or ignored. Only ``submitted`` rows of people count (``judge:`` raters are scored apart, never
filtered); an annotator's latest answer per unit counts. For each annotator:

* ``n``: gold answers they gave an answer to;
* ``exact``: share equal to gold (flags: the same set);
* ``within_one``: for ordinal scales and ratings, share within one step of gold (other kinds:
  same as exact);
* ``exact_low`` / ``exact_high``: the Wilson score interval of ``exact`` at 95%, which stays inside
  [0, 1] and is honest for small ``n`` (the normal interval is not).

An annotator is *below threshold* when their exact accuracy is below ``min_accuracy`` and they
answered at least ``min_items`` gold answers (too few answers never excludes anyone).

Examples
--------
>>> import pandas as pd
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.table import make_table
>>> gold = pd.DataFrame({"item_id": ["g1", "g1"], "candidate_id": ["a", "b"],
...                      "question": ["tone_zone", "tone_zone"], "value": [0, 2]})
>>> t = make_table([
...     {"item_id": "g1", "candidate_id": "a", "question": "tone_zone", "annotator": "ana", "value": 0},
...     {"item_id": "g1", "candidate_id": "b", "question": "tone_zone", "annotator": "ana", "value": 1},
...     {"item_id": "g1", "candidate_id": "a", "question": "tone_zone", "annotator": "cy", "value": -2},
...     {"item_id": "s9", "candidate_id": "a", "question": "tone_zone", "annotator": "cy", "value": 0}])
>>> s = gold_scores(t, gold, load_rubric("de-escalation"))
>>> s[["annotator", "n", "exact", "within_one"]].values.tolist()
[['ana', 2, 0.5, 1.0], ['cy', 1, 0.0, 0.0]]
>>> round(float(s.loc[0, "exact_low"]), 3), round(float(s.loc[0, "exact_high"]), 3)
(0.095, 0.905)
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import pandas as pd

from brun_label.model import JUDGE_PREFIX
from brun_label.rubric import Rubric

#: z for a two-sided 95% interval.
Z95 = 1.959963984540054
#: Columns of :func:`gold_scores`.
SCORE_COLUMNS = ("annotator", "n", "exact", "exact_low", "exact_high", "within_one", "is_judge")


def wilson_interval(successes: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions (vectorised; ``n == 0`` gives NaN).

    >>> lo, hi = wilson_interval(np.array([8]), np.array([10]))
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.4902, 0.9433)
    >>> lo, hi = wilson_interval(np.array([0, 3]), np.array([3, 3]))
    >>> float(lo[0]), float(hi[1])
    (0.0, 1.0)
    """
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z * z / m
        centre = (p + z * z / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / denom
        # The interval always holds p; rounding can put a bound a hair past it (k = 0: 5.6e-17).
        lo = np.where(m > 0, np.clip(np.minimum(centre - half, p), 0, 1), np.nan)
        hi = np.where(m > 0, np.clip(np.maximum(centre + half, p), 0, 1), np.nan)
    return lo, hi


def _norm(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        return tuple(sorted(str(v) for v in value))
    return value


def gold_scores(table: pd.DataFrame, gold: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    """Score every annotator against ``gold`` (columns ``item_id``, ``candidate_id``, ``question``, ``value``)."""
    for col in ("item_id", "candidate_id", "question", "value"):
        if col not in gold.columns:
            raise ValueError(f"gold answers need a {col!r} column")
    keys = ["item_id", "candidate_id", "question"]
    g = gold[[*keys, "value"]].copy()
    g["candidate_id"] = g["candidate_id"].fillna("").map(str)
    if g.duplicated(keys).any():
        raise ValueError("gold answers give two values for the same item, candidate and question")
    rows = table[(table["status"] == "submitted") & table["value"].notna()]
    rows = rows[rows["item_id"].isin(set(g["item_id"]))]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SCORE_COLUMNS})
    rows = rows.assign(_i=np.arange(len(rows)))
    order = pd.to_datetime(rows["submitted_at"], errors="coerce", utc=True)
    rows = rows.assign(_t=order).sort_values(["_t", "_i"], na_position="first", kind="stable")
    latest = rows.groupby([*keys, "annotator"], sort=False).tail(1)
    merged = latest.merge(g, on=keys, suffixes=("", "_gold"))
    if merged.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SCORE_COLUMNS})
    ordinal = {q.name for q in rubric.questions if q.type in ("scale", "rating")}
    given = merged["value"].map(_norm)
    truth = merged["value_gold"].map(_norm)
    exact = np.fromiter((a == b for a, b in zip(given, truth, strict=True)), dtype=bool, count=len(merged))
    near = exact.copy()
    is_ord = merged["question"].isin(ordinal).to_numpy()
    for i in np.flatnonzero(is_ord & ~exact):
        a, b = given.iloc[i], truth.iloc[i]
        if isinstance(a, numbers.Real) and isinstance(b, numbers.Real) and not isinstance(a, bool):
            near[i] = abs(float(a) - float(b)) <= 1 + 1e-9
    merged = merged.assign(_exact=exact, _near=near)
    agg = merged.groupby("annotator", sort=True).agg(n=("_exact", "size"), k=("_exact", "sum"), near=("_near", "sum"))
    lo, hi = wilson_interval(agg["k"].to_numpy(), agg["n"].to_numpy())
    out = pd.DataFrame({
        "annotator": agg.index.astype(str),
        "n": agg["n"].astype(int).to_numpy(),
        "exact": (agg["k"] / agg["n"]).to_numpy(dtype=float),
        "exact_low": lo,
        "exact_high": hi,
        "within_one": (agg["near"] / agg["n"]).to_numpy(dtype=float),
    })
    out["is_judge"] = out["annotator"].str.startswith(JUDGE_PREFIX)
    return out.reset_index(drop=True)


def below_threshold(scores: pd.DataFrame, min_accuracy: float, *, min_items: int = 5) -> list[str]:
    """People (never judges) whose exact gold accuracy is below ``min_accuracy`` over ``min_items``+ answers.

    >>> s = pd.DataFrame({"annotator": ["ana", "cy", "new", "judge:m"], "n": [10, 10, 2, 10],
    ...                   "exact": [0.9, 0.4, 0.0, 0.1], "is_judge": [False, False, False, True]})
    >>> below_threshold(s, 0.7)
    ['cy']
    """
    if not 0 <= min_accuracy <= 1 or math.isnan(min_accuracy):
        raise ValueError(f"min_accuracy must be within 0..1, got {min_accuracy}")
    if scores.empty:
        return []
    mask = (~scores["is_judge"].astype(bool)) & (scores["n"] >= min_items) & (scores["exact"] < min_accuracy)
    return sorted(scores.loc[mask, "annotator"].astype(str))


def known_verdicts(gold: pd.DataFrame, rubric: Rubric) -> pd.DataFrame:
    """The good/bad verdict that the gold answers settle, per gold candidate (anchors for the consensus).

    A candidate is known **good** when its gold answers put it in the zone (the zone question's
    target) and tick no flag in *every* flag question of the rubric; known **bad** when they put it
    out of the zone or tick a flag in any flag question; otherwise (a question it depends on has
    no gold answer) it is left out. Returns ``item_id``, ``candidate_id``, ``good``.

    >>> from brun_label.rubrics import load_rubric
    >>> gold = pd.DataFrame({"item_id": ["g1", "g1", "g1", "g2"], "candidate_id": ["a", "a", "b", "a"],
    ...                      "question": ["tone_zone", "liability_flags", "tone_zone", "tone_zone"],
    ...                      "value": [0, [], -2, 0]})
    >>> known_verdicts(gold, load_rubric("de-escalation")).values.tolist()  # g2's flags are unknown
    [['g1', 'a', True], ['g1', 'b', False]]
    """
    columns = ["item_id", "candidate_id", "good"]
    zq = rubric.zone_question()
    if zq is None or gold.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c != "good" else bool) for c in columns})
    flag_names = {q.name for q in rubric.flag_questions()}
    g = gold[gold["candidate_id"].fillna("").astype(str) != ""]
    out = []
    for (item, cand), answers in g.groupby(["item_id", "candidate_id"], sort=False):
        by_q = dict(zip(answers["question"], answers["value"], strict=True))
        zone = by_q.get(zq.name)
        flags = {q: by_q[q] for q in flag_names if q in by_q}
        ticked = any(len(v) > 0 for v in flags.values() if isinstance(v, list | tuple | np.ndarray))
        if ticked or (zone is not None and zone != zq.target):
            out.append((item, cand, False))
        elif zone == zq.target and len(flags) == len(flag_names):
            out.append((item, cand, True))
    return pd.DataFrame(out, columns=columns).astype({"good": bool})
