"""Per-unit consensus: majority vote, Dawid–Skene, and Bradley–Terry with ties for preferences.

Pure core. :func:`consensus` turns the long annotation table into one row per (item, candidate,
question) with the consensus ``value`` and how many of the human annotators stand behind it
(``support`` share, ``n_support`` count, ``n_annotators``) and whether the vote was ``tied``.
Only human ratings vote: ``judge:`` rows never do (compare the judge with this consensus
instead). Two methods:

``majority``
    The most frequent answer. A tie between answers is broken deterministically: on ordinal,
    interval and ratio questions towards the unit's median rating (then the lower value), on
    nominal ones by the first value in sorted order; ``tied`` says it happened. For **flags**
    each flag is decided by a strict majority of the annotators who answered (a 50/50 flag is
    left out and marks the unit ``tied``); ``support`` is the share whose whole set equals the
    consensus set.
``dawid_skene``
    A probabilistic vote (:class:`~brun_label.agreement.dawid_skene.DawidSkene`) that weighs
    annotators by their estimated confusion matrices, for nominal and scale questions (values
    as classes) and per flag for flags. **Preferences** use
    :class:`~brun_label.agreement.bradley_terry.BradleyTerryTies` instead: candidates get
    strengths, "tie" is a modelled outcome, and the tie rate is learned across items (so an
    item split between "A" and "tie" is resolved by how readily annotators call ties overall);
    when "no winner" is most probable the value is ``tie``, or ``both_bad`` if more annotators
    said so.
    ``probability`` is the model's probability of the chosen value.

``support`` always counts the annotators who gave exactly the consensus value, whatever the
method, so it can be read the same way.

Examples
--------
>>> from brun_label.table import make_table
>>> rows = [{"item_id": "s1", "candidate_id": "c1", "question": "tone", "annotator": a, "value": v}
...         for a, v in [("ann1", 0), ("ann2", 0), ("ann3", 1), ("judge:gpt", 2)]]
>>> out = consensus(make_table(rows))
>>> out[["item_id", "candidate_id", "question", "value", "n_support", "n_annotators", "tied"]].to_dict("records")
[{'item_id': 's1', 'candidate_id': 'c1', 'question': 'tone', 'value': 0, 'n_support': 2, 'n_annotators': 3, 'tied': False}]
>>> round(float(out.loc[0, "support"]), 3)
0.667
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.flags import flag_names, set_bits
from brun_label.agreement.questions import QuestionData, split_questions
from brun_label.agreement.reliability import codes_and_domain, counts_from_codes
from brun_label.rubric import BOTH_BAD, TIE, Rubric

METHODS = ("majority", "dawid_skene")
#: Prior precision on candidate log-strengths in the preference model: weak, so that an item's
#: own votes dominate, while unanimous items stay finite.
PREFERENCE_PRIOR = 0.1
COLUMNS = (
    "item_id", "candidate_id", "question", "value", "support", "n_support", "n_annotators",
    "tied", "probability", "method",
)


@dataclass
class UnitConsensus:
    """Consensus of every unit of one question (arrays aligned with the units)."""

    value: list[Any]
    support: np.ndarray
    n_support: np.ndarray
    n_annotators: np.ndarray
    tied: np.ndarray
    probability: np.ndarray


def _native(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        f = float(v)
        return int(f) if f.is_integer() else f
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, frozenset | set):
        return sorted(v)
    return v


def _support(values: np.ndarray, chosen: list[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Share and count of annotators whose value equals the chosen one, and the raters count."""
    n_units = values.shape[1]
    if values.dtype.kind == "f":
        present = ~np.isnan(values)
        target = np.array([np.nan if c is None else float(c) for c in chosen], dtype=np.float64)
        same = present & (values == target[None, :])
    else:
        targets = np.empty(n_units, dtype=object)
        for u, c in enumerate(chosen):
            targets[u] = frozenset(c) if isinstance(c, list) else c
        # One factorisation of the cells and the targets: equal values share a code.
        codes, _ = pd.factorize(pd.Series(np.concatenate([values.ravel(), targets]), dtype=object),
                                use_na_sentinel=True)
        cell = np.asarray(codes[: values.size], dtype=np.int64).reshape(values.shape)
        tcode = np.asarray(codes[values.size:], dtype=np.int64)
        present = cell >= 0
        same = present & (cell == tcode[None, :]) & (tcode[None, :] >= 0)
    n_ann = present.sum(axis=0).astype(np.int64)
    n_sup = same.sum(axis=0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n_ann > 0, n_sup / np.maximum(n_ann, 1), np.nan)
    return share, n_sup, n_ann


def majority_vote(values: np.ndarray, *, level: str = "nominal") -> UnitConsensus:
    """Majority vote per unit of an annotators × units matrix (``NaN``/``None`` missing).

    >>> mv = majority_vote(np.array([[1.0, 1.0, 2.0], [2.0, 1.0, np.nan], [2.0, 3.0, np.nan]]),
    ...                    level="ordinal")
    >>> mv.value, mv.tied.tolist(), mv.n_support.tolist()
    ([2, 1, 2], [False, False, False], [2, 2, 1])
    """
    codes, domain = codes_and_domain(values)
    if domain.dtype.kind == "O" and any(isinstance(v, frozenset) for v in domain):  # distinct values only
        return flags_majority(values)
    # Values × units: every reduction runs over a few long rows, not over each unit's short one.
    by_value = np.ascontiguousarray(counts_from_codes(codes, len(domain)).T)
    n = by_value.sum(axis=0)
    top = by_value.max(axis=0) if by_value.size else np.zeros(len(n), dtype=np.int64)
    is_mode = (by_value == top) & (top > 0)
    n_modes = is_mode.sum(axis=0)
    if level != "nominal" and domain.dtype.kind == "f" and by_value.size:
        cum = np.cumsum(by_value, axis=0)
        med = domain[np.argmax(cum * 2 >= n, axis=0)]
        dist = np.where(is_mode, np.abs(domain[:, None] - med), np.inf)
        pick = np.argmin(dist, axis=0)
    else:
        pick = np.argmax(is_mode, axis=0) if by_value.size else np.zeros(len(n), dtype=np.intp)
    natives = np.empty(len(domain) + 1, dtype=object)  # the last slot: no rating
    for k, d in enumerate(domain.tolist()):
        natives[k] = _native(d)
    chosen = natives[np.where(n > 0, pick, len(domain))].tolist() if len(n) else []
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, top / np.maximum(n, 1), np.nan)
    return UnitConsensus(
        value=chosen,
        support=share,
        n_support=top.astype(np.int64),
        n_annotators=n.astype(np.int64),
        tied=(n_modes > 1),
        probability=np.full(len(n), np.nan),
    )


def _flag_counts(values: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    flags = flag_names(values)
    bits, answered = set_bits(values, flags)
    return flags, bits.sum(axis=1).astype(np.int64), answered.sum(axis=0)


def flags_majority(values: np.ndarray) -> UnitConsensus:
    """Per-flag strict majority of the annotators who answered (sets of flags, ``None`` missing).

    >>> fs = np.array([[frozenset({"a"}), frozenset()], [frozenset({"a", "b"}), None],
    ...                [frozenset({"a"}), frozenset({"b"})]], dtype=object)
    >>> mv = flags_majority(fs)
    >>> mv.value, mv.tied.tolist(), mv.n_support.tolist()
    ([['a'], []], [False, True], [2, 1])
    """
    flags = flag_names(values)
    bits, cells = set_bits(values, flags)
    ticks, answered = bits.sum(axis=1), cells.sum(axis=0)
    include = ticks * 2 > answered[None, :]
    half = (ticks * 2 == answered[None, :]) & (answered[None, :] > 0)
    # Units share few distinct included-flag patterns: build each sorted list once.
    weights = np.left_shift(np.int64(1), np.arange(len(flags), dtype=np.int64))
    pattern = (include.astype(np.int64) * weights[:, None]).sum(axis=0) if flags else np.zeros(values.shape[1], np.int64)
    lists = {int(p): [f for f, w in zip(flags, weights.tolist(), strict=True) if int(p) & w]
             for p in np.unique(pattern).tolist()}
    # Units with the same pattern share one (read-only) list.
    keys = np.unique(pattern)
    shared = np.empty(len(keys) + 1, dtype=object)
    for k, p in enumerate(keys.tolist()):
        shared[k] = lists[p]
    slot = np.where(answered > 0, np.searchsorted(keys, pattern), len(keys))
    chosen: list[Any] = shared[slot].tolist()
    # Support: the annotators whose whole set is the consensus set (every flag the same).
    same = (bits == include[:, None, :]).all(axis=0) & cells
    n_sup = same.sum(axis=0).astype(np.int64)
    n_ann = answered.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n_ann > 0, n_sup / np.maximum(n_ann, 1), np.nan)
    return UnitConsensus(chosen, share, n_sup, n_ann, half.any(axis=0), np.full(len(chosen), np.nan))


def _long(values: np.ndarray) -> pd.DataFrame:
    rows = [
        (u, a, v) for (a, u), v in np.ndenumerate(values)
        if not (v is None or (isinstance(v, float) and math.isnan(v)))
    ]
    return pd.DataFrame(rows, columns=["unit", "annotator", "value"])


def dawid_skene_vote(values: np.ndarray) -> UnitConsensus:
    """Dawid–Skene consensus per unit (per flag for sets of flags)."""
    from brun_label.agreement.dawid_skene import DawidSkene  # only when this method is asked for

    n_units = values.shape[1]
    chosen: list[Any] = [None] * n_units
    prob = np.full(n_units, np.nan)
    tied = np.zeros(n_units, dtype=bool)
    is_flags = values.dtype.kind == "O" and any(isinstance(v, frozenset) for v in values.ravel())
    if is_flags:
        flags, _, answered = _flag_counts(values)
        sets: list[set[str]] = [set() for _ in range(n_units)]
        prob = np.where(answered > 0, 1.0, np.nan)
        for flag in flags:
            binary = np.array(
                [[None if v is None else int(flag in v) for v in row] for row in values], dtype=object
            )
            long = _long(binary)
            ds = DawidSkene().fit(long)
            p1 = ds.probas_[1] if 1 in ds.probas_.columns else pd.Series(0.0, index=ds.probas_.index)
            for u, p in p1.items():
                ui = int(str(u))
                if p > 0.5:
                    sets[ui].add(flag)
                prob[ui] *= max(float(p), 1.0 - float(p))
                tied[ui] |= bool(abs(float(p) - 0.5) < 1e-9)
        chosen = [sorted(s) if answered[u] else None for u, s in enumerate(sets)]
    else:
        long = _long(values)
        if not long.empty:
            ds = DawidSkene().fit(long)
            post = ds.probas_.to_numpy()
            top2 = np.sort(post, axis=1)[:, -2:] if post.shape[1] > 1 else np.column_stack([post[:, 0] * 0, post[:, 0]])
            for row, u in enumerate(ds.probas_.index):
                chosen[int(u)] = _native(ds.labels_.iloc[row])
                prob[int(u)] = float(post[row].max())
                tied[int(u)] = bool(top2[row, 1] - top2[row, 0] < 1e-9)
    share, n_sup, n_ann = _support(values, chosen)
    return UnitConsensus(chosen, share, n_sup, n_ann, tied, prob)


def preference_vote(q: QuestionData) -> UnitConsensus:
    """Bradley–Terry-with-ties consensus of a preference question (see the module docstring)."""
    values = q.values
    n_units = values.shape[1]
    options: list[list[tuple[str, str]]] = []
    picks: list[tuple[str, str] | None] = []
    for (_, u), v in np.ndenumerate(values):
        if v is None:
            continue
        item = str(q.unit_items[u])
        cands = q.candidates_by_item.get(item, [])
        if len(cands) < 2:
            continue
        options.append([(item, c) for c in cands])
        picks.append(None if v in (TIE, BOTH_BAD) else (item, v))
    if not options:
        return majority_vote(values)
    from brun_label.agreement.bradley_terry import BradleyTerryTies  # scipy: only when used

    model = BradleyTerryTies(prior=PREFERENCE_PRIOR).fit(options, picks)
    chosen: list[Any] = [None] * n_units
    prob = np.full(n_units, np.nan)
    tied = np.zeros(n_units, dtype=bool)
    majority = majority_vote(values)
    for u in range(n_units):
        col = [v for v in values[:, u] if v is not None]
        if not col:
            continue
        item = str(q.unit_items[u])
        cands = q.candidates_by_item.get(item, [])
        if len(cands) < 2:
            chosen[u], tied[u] = majority.value[u], bool(majority.tied[u])
            continue
        p = model.predict_proba([[(item, c) for c in cands]])[0]
        outcomes = [*cands, TIE]
        order = np.argsort(-p, kind="stable")
        best = int(order[0])
        tied[u] = bool(p[order[0]] - p[order[1]] < 1e-9)
        prob[u] = float(p[best])
        value = outcomes[best]
        if value == TIE and col.count(BOTH_BAD) > col.count(TIE):
            value = BOTH_BAD
        chosen[u] = value
    share, n_sup, n_ann = _support(values, chosen)
    return UnitConsensus(chosen, share, n_sup, n_ann, tied, prob)


def question_consensus(q: QuestionData, *, method: str = "majority") -> UnitConsensus:
    """Consensus of every unit of one question with ``method`` (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "majority":
        return majority_vote(q.values, level=q.level)
    if q.kind == "preference":
        return preference_vote(q)
    return dawid_skene_vote(q.values)


def consensus(
    table: pd.DataFrame,
    *,
    method: str = "majority",
    levels: Mapping[str, str] | None = None,
    rubric: Rubric | None = None,
) -> pd.DataFrame:
    """Return one row per rated (item_id, candidate_id, question) with its human consensus.

    Columns: ``item_id``, ``candidate_id``, ``question``, ``value`` (native: int for scales, a
    sorted list for flags, a string otherwise), ``support`` (share of the unit's human
    annotators who gave that value), ``n_support``, ``n_annotators``, ``tied``,
    ``probability`` (``NaN`` for majority) and ``method``. Units only a judge rated are left
    out. Only ``submitted`` rows count.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    questions, _ = split_questions(table, levels=levels, rubric=rubric)
    frames = []
    for name, q in questions.items():
        if not q.annotators:
            continue
        res = question_consensus(q, method=method)
        keep = res.n_annotators > 0
        frames.append(pd.DataFrame({
            "item_id": q.unit_items[keep],
            "candidate_id": q.unit_candidates[keep],
            "question": name,
            "value": pd.Series([v for v, k in zip(res.value, keep, strict=True) if k], dtype=object),
            "support": res.support[keep],
            "n_support": res.n_support[keep],
            "n_annotators": res.n_annotators[keep],
            "tied": res.tied[keep],
            "probability": res.probability[keep],
            "method": method,
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]
