"""Position bias: does a person (or the LLM judge) favour a candidate for the slot it was shown in?

Pure core (NumPy, pandas, SciPy). Candidate order is randomised per sample, so with no position
bias every slot gets its fair share of preference votes, and a candidate's scale rating does not
depend on where it was shown. :func:`position_bias` measures both from the annotation table's
optional ``position`` and ``shown_order`` columns (:data:`brun_label.model.OPTIONAL_COLUMNS`), per
rater, humans and ``judge:`` raters alike:

**Preferences.** The share of a rater's preference votes for each shown slot (``tie`` and
``both_bad`` are counted apart: they name no slot), with a 95% Clopper–Pearson interval, grouped
by how many candidates were shown. The test is an *exact* test of the first-slot share against no
preference: under no bias a vote on an item with ``k`` candidates lands in the first slot with
probability ``1/k``, so the first-slot count is Poisson-binomial (binomial when every item shows
the same number of candidates, e.g. ``Binomial(n, 1/2)`` for pairs); the two-sided p-value sums
the probabilities of every count no more likely than the one observed (as ``scipy.stats.binomtest``
does, which it equals for pairs).

**Scales** (per-candidate ``scale`` and ``rating`` questions, e.g. the tone zone). The mean value a
rater gives by slot, with a 95% t interval, and an exact sign test: on each item where the rater
rated the first slot and at least one other, the first slot's value minus the mean of the others;
under no bias a positive and a negative difference are equally likely (zero differences are
dropped), so the count of positive ones is ``Binomial(n, 1/2)``.

**Multiple comparisons.** Every rater is tested at once, so the p-values of each question are
adjusted with Holm's step-down method across its raters (family-wise error ≤ ``alpha``); a rater
is *flagged* on a question when the Holm-adjusted p-value is below ``alpha`` (0.05) and the
effect is at least :data:`MIN_EFFECT` (5 points of first-slot share, or 0.2 of a scale step):
on a large table a negligible deviation is significant, and not worth a flag.

Positions. A row's ``position`` is the 0-based slot of its candidate (for a preference, of the
preferred one); when it is empty but ``shown_order`` is given it is read from the order. The
number of candidates shown is ``len(shown_order)``, else the item's candidates in the table. The
judge saw its own order (``Sample.judge_order``): pass ``judge_orders`` (from the samples file)
and the judge rows' positions come from it. A table without positions is not an error: the result
says ``"not measurable: the table has no positions"``.

Examples
--------
>>> from brun_label.table import make_table
>>> rows = [{"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": a,
...          "value": f"c{i}-{p}", "position": p, "shown_order": f'["c{i}-0", "c{i}-1"]'}
...         for i in range(40) for a, p in (("ann1", 0), ("ann2", i % 2))]
>>> pb = position_bias(make_table(rows))
>>> r = pb["questions"]["preference"]["raters"]
>>> r["ann1"]["first_share"], r["ann1"]["flagged"], r["ann2"]["first_share"], r["ann2"]["flagged"]
(1.0, True, 0.5, False)
>>> [f["rater"] for f in pb["flagged"]]
['ann1']
>>> position_bias(make_table([{"item_id": "s1", "question": "preference", "annotator": "a", "value": "c1"}]))["reason"]
'not measurable: the table has no positions'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.questions import NON_CANDIDATE
from brun_label.model import JUDGE_PREFIX
from brun_label.rubric import Rubric
from brun_label.table import TableError, normalize_table


def _stats() -> Any:
    """``scipy.stats``, imported on first use (it costs more than a second to import)."""
    from scipy import stats

    return stats

#: Significance level of the flags (after Holm's adjustment).
ALPHA = 0.05
#: Smallest effect worth a flag: a first-slot share this far from no bias (preferences), or a mean
#: first-minus-rest difference this large in scale steps. With thousands of votes a 49% share of
#: pairs is significant but no bias worth acting on.
MIN_EFFECT = {"preference": 0.05, "scale": 0.2}
NOT_MEASURABLE = "not measurable: the table has no positions"
CORRECTION = "Holm's step-down adjustment across the raters of each question"


def holm(p_values: Sequence[float]) -> list[float]:
    """Return Holm's step-down adjusted p-values (NaN stays NaN and is not counted).

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if not m:
        return out.tolist()
    order = ok[np.argsort(p[ok], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out.tolist()


def clopper_pearson(k: int, n: int, level: float = 0.95) -> list[float | None]:
    """Return the exact (Clopper–Pearson) interval of a share ``k / n`` (``[None, None]`` for n = 0).

    >>> [round(x, 4) for x in clopper_pearson(8, 10)]
    [0.4439, 0.9748]
    """
    if n <= 0:
        return [None, None]
    ci = _stats().binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="exact")
    return [float(ci.low), float(ci.high)]


def first_slot_test(first: int, n_by_k: Mapping[int, int]) -> float:
    """Exact two-sided p-value of ``first`` first-slot votes among ``n_by_k`` votes (``{k: n}``).

    Under no position bias each vote on an item with ``k`` candidates is in the first slot with
    probability ``1/k``; the count is a sum of binomials, whose distribution is built by
    convolution. Equals ``scipy.stats.binomtest(first, n, 1/k).pvalue`` when only one ``k`` occurs.

    >>> round(first_slot_test(16, {2: 20}), 6), round(float(_stats().binomtest(16, 20, 0.5).pvalue), 6)
    (0.011818, 0.011818)
    """
    pmf = np.ones(1)
    for k, n in sorted(n_by_k.items()):
        if n > 0:
            pmf = np.convolve(pmf, _stats().binom.pmf(np.arange(n + 1), n, 1.0 / k))
    if len(pmf) == 1:
        return math.nan
    observed = pmf[first]
    return float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum()))


def _t_ci(values: np.ndarray, level: float = 0.95) -> list[float | None]:
    n = len(values)
    if n < 2:
        return [None, None]
    mean = float(values.mean())
    half = float(_stats().t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return [mean - half, mean + half]


def _order_cell(v: Any) -> tuple[str, ...] | None:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, str):
        if not v.strip():
            return None
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            return ()
    if hasattr(v, "tolist"):
        v = v.tolist()
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        return ()
    return tuple(v)


def _bad_row(table: pd.DataFrame, idx: Any, column: str, message: str) -> ValueError:
    row = int(idx) + 1 if isinstance(idx, int | np.integer) else idx
    return ValueError(f"{message} (data row {row}, field {column})")


def _dedupe(rows: pd.DataFrame) -> pd.DataFrame:
    """Keep each rater's last answer per unit (latest ``submitted_at``, else the last row), as agreement does."""
    if rows["submitted_at"].notna().any():
        when = pd.to_datetime(rows["submitted_at"], errors="coerce", utc=True)
        rows = rows.iloc[np.argsort(when.fillna(pd.Timestamp.min.tz_localize("UTC")).to_numpy(), kind="stable")]
    return rows[~rows.duplicated(["item_id", "candidate_id", "annotator"], keep="last")]


def _kinds(table: pd.DataFrame, rubric: Rubric | None) -> dict[str, str]:
    """``{question: "preference" | "scale"}``: from the rubric, else from the rows' shape."""
    if rubric is not None:
        out = {}
        for q in rubric.questions:
            if q.type == "preference":
                out[q.name] = "preference"
            elif q.type in ("scale", "rating") and q.scope == "candidate":
                out[q.name] = "scale"
        return out
    out = {}
    for name, rows in table.groupby("question", sort=True):
        vals = rows["value"].tolist()
        if (rows["candidate_id"] == "").all() and all(isinstance(v, str) for v in vals):
            out[str(name)] = "preference"
        elif (rows["candidate_id"] != "").all() and all(
                isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in vals):
            out[str(name)] = "scale"
    return out


def _position_column(rows: pd.DataFrame, skip: np.ndarray) -> np.ndarray:
    """The ``position`` cells as integers (-1: empty); a cell that is no slot number is an error."""
    raw = rows["position"]
    if raw.dtype.kind in "iuf":
        num = raw.to_numpy(dtype=float)
        blank = np.isnan(num)
        is_bool = np.zeros(len(raw), dtype=bool)
    else:
        blank = (raw.isna() | raw.map(lambda v: isinstance(v, str) and not v.strip())).to_numpy(dtype=bool)
        is_bool = raw.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
        num = pd.to_numeric(raw.where(~blank & ~is_bool), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~blank & ~skip & (is_bool | np.isnan(num) | (num < 0) | (np.mod(num, 1) != 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _bad_row(rows, rows.index[i], "position", f"must be a 0-based slot number, got {raw.iloc[i]!r}")
    return np.where(blank | skip, -1, np.nan_to_num(num, nan=-1)).astype(np.int64)


def _parse_orders(uniques: Sequence[Any]) -> list[tuple[str, ...] | None]:
    """Parse the distinct ``shown_order`` cells (one JSON call for all; cell by cell only on failure)."""
    if all(isinstance(u, str) for u in uniques):
        try:
            parsed = json.loads("[" + ",".join(uniques) + "]")
        except json.JSONDecodeError:
            parsed = None
        if parsed is not None and len(parsed) == len(uniques):
            # element types are checked by the lookup: a non-text id is never found
            return [tuple(v) if type(v) is list else () for v in parsed]
    return [_order_cell(u) for u in uniques]


def _order_codes(table: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, ...] | None]]:
    """Factorised ``shown_order`` cells: a code per row (-1: empty or no column) and each distinct order."""
    if "shown_order" not in table.columns:
        return np.full(len(table), -1, dtype=np.int64), []
    col = table["shown_order"]
    blank = col.map(lambda v: isinstance(v, str) and not v.strip()) if col.dtype == object else None
    if blank is not None and blank.any():
        col = col.where(~blank)
    try:
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
    except TypeError:  # lists (e.g. from Parquet) are not hashable: compare their JSON text
        col = col.map(lambda v: v if v is None or isinstance(v, str | float) else json.dumps(list(v)))
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), _parse_orders(list(uniques))


class _CandidateCounts(Mapping[str, int]):
    """Candidates per item, counted on first use (only rows without ``shown_order`` need it).

    The item's candidates are those rated in the table and those a preference names; a position
    beyond them widens the count (a slot shown must have existed).
    """

    def __init__(self, table: pd.DataFrame, preference: Sequence[str]) -> None:
        self._table = table
        self._preference = list(preference)
        self._counts: dict[str, int] | None = None

    def _get(self) -> dict[str, int]:
        if self._counts is None:
            t = self._table
            named = t[t["question"].isin(self._preference) & ~t["value"].isin(NON_CANDIDATE)]
            pairs = pd.concat([
                pd.DataFrame({"item_id": t.loc[t["candidate_id"] != "", "item_id"].to_numpy(dtype=object),
                              "cid": t.loc[t["candidate_id"] != "", "candidate_id"].to_numpy(dtype=object)}),
                pd.DataFrame({"item_id": named["item_id"].to_numpy(dtype=object),
                              "cid": named["value"].astype(str).to_numpy(dtype=object)})])
            self._counts = {str(k): int(v) for k, v in pairs.groupby("item_id")["cid"].nunique().items()}
            if "position" in t.columns:
                slots = pd.to_numeric(t["position"], errors="coerce")
                top = slots.groupby(t["item_id"]).max()
                for k, v in top.dropna().items():
                    self._counts[str(k)] = max(self._counts.get(str(k), 0), int(v) + 1)
        return self._counts

    def __getitem__(self, key: str) -> int:
        return self._get()[key]

    def __iter__(self) -> Any:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _positions(rows: pd.DataFrame, kind: str, judge_orders: Mapping[str, Sequence[str]],
               n_cands: Mapping[str, int], orders: Sequence[tuple[str, ...] | None],
               flat_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's slot (-1: none, e.g. a tie) and the number of candidates shown (0: unknown).

    ``rows["_order"]`` is the row's code in ``orders``; ``flat_ids`` every order's candidate ids,
    one order after the other.
    """
    n = len(rows)
    targets = (rows["candidate_id"] if kind == "scale" else rows["value"]).to_numpy(dtype=object)
    skip = rows["value"].isin(NON_CANDIDATE).to_numpy(dtype=bool) if kind == "preference" else np.zeros(n, bool)
    pos = np.full(n, -1, dtype=np.int64)
    width = np.zeros(n, dtype=np.int64)
    given = _position_column(rows, skip) if "position" in rows.columns else np.full(n, -1, dtype=np.int64)
    codes = rows["_order"].to_numpy(dtype=np.int64).copy()
    codes[skip] = -1
    has = codes >= 0
    if has.any():
        bad_order = np.array([o == () for o in orders] + [False], dtype=bool)[codes]
        if (bad_order & has).any():
            i = int(np.flatnonzero(bad_order & has)[0])
            raise _bad_row(rows, rows.index[i], "shown_order", "must be a JSON array of candidate ids")
        lens = np.array([len(o or ()) for o in orders], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        ids, _ = pd.factorize(np.concatenate([flat_ids, targets[has]]))
        m = int(ids.max()) + 2 if len(ids) else 2
        order_keys = np.repeat(np.arange(len(orders), dtype=np.int64), lens) * m + ids[:len(flat_ids)]
        found = pd.Index(order_keys).get_indexer(codes[has] * m + ids[len(flat_ids):])
        flat = np.full(n, -1, dtype=np.int64)
        flat[has] = found
        missing = has & (flat < 0)
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise _bad_row(rows, rows.index[i], "shown_order", f"{targets[i]!r} is not in the order shown")
        slots = np.where(has, flat - starts[np.maximum(codes, 0)], -1)
        clash = has & (given >= 0) & (given != slots)
        if clash.any():
            i = int(np.flatnonzero(clash)[0])
            raise _bad_row(rows, rows.index[i], "position",
                           f"slot {given[i]} disagrees with shown_order (slot {slots[i]})")
        pos[has], width[has] = slots[has], lens[codes[has]]
    only_pos = ~has & (given >= 0)
    if only_pos.any():
        known = rows["item_id"].map(n_cands).fillna(0).to_numpy(dtype=np.int64)
        pos[only_pos] = given[only_pos]
        width[only_pos] = np.maximum(np.maximum(known[only_pos], given[only_pos] + 1), 2)
    if judge_orders:
        anns = rows["annotator"].to_numpy(dtype=str)
        items = rows["item_id"].to_numpy(dtype=object)
        for i in np.flatnonzero(np.char.startswith(anns, JUDGE_PREFIX) & ~skip):
            seen = judge_orders.get(items[i])
            if seen is None:
                continue
            seen = tuple(seen)
            if targets[i] not in seen:
                raise ValueError(f"{items[i]}: {targets[i]!r} is not among the candidates the judge was shown")
            pos[i], width[i] = seen.index(targets[i]), len(seen)
    return pos, width


def _preference_entry(pos: np.ndarray, width: np.ndarray, n_no_winner: int) -> dict[str, Any]:
    voted = pos >= 0
    n = int(voted.sum())
    first = int((pos[voted] == 0).sum())
    by_k: dict[str, Any] = {}
    n_by_k: dict[int, int] = {}
    for k in sorted(set(width[voted].tolist())):
        sel = voted & (width == k)
        counts = np.bincount(pos[sel], minlength=k)[:k]
        nk = int(sel.sum())
        n_by_k[int(k)] = nk
        by_k[str(k)] = {"n_votes": nk, "counts": counts.tolist(), "shares": (counts / nk).tolist(),
                        "ci95": [clopper_pearson(int(c), nk) for c in counts]}
    expected = sum(nk / k for k, nk in n_by_k.items()) / n if n else math.nan
    share = first / n if n else math.nan
    p = first_slot_test(first, n_by_k) if n else math.nan
    return {"n_votes": n, "n_no_winner": n_no_winner, "first_share": share,
            "first_share_ci95": clopper_pearson(first, n), "expected_first_share": expected,
            "p_value": p, "direction": None if not n else ("first" if share > expected else "later"),
            "by_candidates": by_k}


def _scale_entry(frame: pd.DataFrame) -> dict[str, Any]:
    """``frame``: one rater's rows with ``pos``, ``width`` and numeric ``v``."""
    shown = frame[frame["pos"] >= 0]
    n_slots = int(shown["width"].max()) if len(shown) else 0
    means: list[float | None] = []
    cis: list[list[float | None]] = []
    counts: list[int] = []
    for s in range(n_slots):
        vals = shown.loc[shown["pos"] == s, "v"].to_numpy(dtype=float)
        counts.append(len(vals))
        means.append(float(vals.mean()) if len(vals) else None)
        cis.append(_t_ci(vals))
    first = shown[shown["pos"] == 0].groupby("item_id")["v"].mean()
    rest = shown[shown["pos"] > 0].groupby("item_id")["v"].mean()
    both = first.index.intersection(rest.index)
    diff = (first.loc[both] - rest.loc[both]).to_numpy(dtype=float)
    n_hi, n_lo = int((diff > 0).sum()), int((diff < 0).sum())
    p = float(_stats().binomtest(n_hi, n_hi + n_lo, 0.5).pvalue) if n_hi + n_lo else math.nan
    mean_diff = float(diff.mean()) if len(diff) else math.nan
    return {"n_ratings": len(shown), "n_by_slot": counts, "mean_by_slot": means, "mean_ci95": cis,
            "n_items": len(diff), "mean_first_minus_rest": mean_diff, "diff_ci95": _t_ci(diff),
            "n_first_higher": n_hi, "n_first_lower": n_lo, "p_value": p,
            "direction": None if not (n_hi + n_lo) else ("first higher" if n_hi > n_lo else "first lower")}


def position_bias(
    table: pd.DataFrame,
    *,
    rubric: Rubric | None = None,
    judge_orders: Mapping[str, Sequence[str]] | None = None,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Return the position-bias measures of every rater (see the module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        The annotation table; its optional ``position`` / ``shown_order`` columns give the slots.
    rubric : Rubric, optional
        Which questions are preferences and per-candidate scales (else read from the rows' shape).
    judge_orders : mapping, optional
        ``{item_id: candidate ids in the order the judge saw them}`` (``Sample.judge_order``).
    alpha : float
        Significance level of the flags, after Holm's adjustment.

    Returns
    -------
    dict
        ``{"measurable", "reason", "alpha", "correction", "questions": {question: {"kind",
        "raters": {rater: {...}}}}, "flagged": [{"question", "rater", "judge", "p_holm", "why"}]}``;
        every undefined number is ``None``.
    """
    judge_orders = dict(judge_orders or {})
    has_columns = any(c in table.columns for c in ("position", "shown_order"))
    out: dict[str, Any] = {"measurable": False, "reason": None, "alpha": alpha, "correction": CORRECTION,
                           "questions": {}, "flagged": []}
    if not has_columns and not judge_orders:
        out["reason"] = NOT_MEASURABLE
        return out
    try:
        table = normalize_table(table)
    except TableError as exc:
        raise ValueError(str(exc)) from None
    used = table[(table["status"] == "submitted").to_numpy() & table["value"].notna().to_numpy()]
    kinds = _kinds(used, rubric)
    used = used[used["question"].isin(list(kinds))]
    codes, orders = _order_codes(used)
    used = used.assign(_order=codes)
    flat_ids = np.array([c for o in orders for c in (o or ())], dtype=object)
    n_cands = _CandidateCounts(used, [q for q, k in kinds.items() if k == "preference"])
    for name, rows in used.groupby("question", sort=False):
        kind = kinds.get(str(name))
        if kind is None:
            continue
        rows = _dedupe(rows)
        pos, width = _positions(rows, kind, judge_orders, n_cands, orders, flat_ids)
        annotators = rows["annotator"].to_numpy(dtype=object)
        raters: dict[str, dict[str, Any]] = {}
        if kind == "preference":
            no_winner = rows["value"].isin(NON_CANDIDATE).to_numpy()
            for ann in sorted(set(annotators.tolist())):
                sel = annotators == ann
                if not (pos[sel] >= 0).any():
                    continue
                raters[ann] = _preference_entry(pos[sel], width[sel], int(no_winner[sel].sum()))
        else:
            frame = pd.DataFrame({"item_id": rows["item_id"].to_numpy(), "annotator": annotators,
                                  "pos": pos, "width": width,
                                  "v": pd.to_numeric(rows["value"], errors="coerce").to_numpy(dtype=float)})
            for ann, f in frame.groupby("annotator", sort=True):
                if (f["pos"] >= 0).any():
                    raters[str(ann)] = _scale_entry(f)
        if not raters:
            continue
        names = list(raters)
        adjusted = holm([raters[a]["p_value"] for a in names])
        for a, p_holm in zip(names, adjusted, strict=True):
            entry = raters[a]
            entry["judge"] = a.startswith(JUDGE_PREFIX)
            entry["p_holm"] = p_holm
            entry["effect"] = _effect(kind, entry)
            entry["flagged"] = bool(not math.isnan(p_holm) and p_holm < alpha
                                    and entry["effect"] is not None and entry["effect"] >= MIN_EFFECT[kind])
            if entry["flagged"]:
                out["flagged"].append({"question": str(name), "rater": a, "judge": entry["judge"],
                                       "p_holm": p_holm, "why": _why(kind, entry)})
        out["questions"][str(name)] = {"kind": kind, "raters": raters}
    out["measurable"] = bool(out["questions"])
    if not out["measurable"]:
        out["reason"] = NOT_MEASURABLE if not has_columns else "not measurable: no row has a position"
    return _clean(out)


def _effect(kind: str, e: Mapping[str, Any]) -> float | None:
    if kind == "preference":
        share, expected = e["first_share"], e["expected_first_share"]
        return None if share is None or math.isnan(share) else abs(share - expected)
    diff = e["mean_first_minus_rest"]
    return None if diff is None or math.isnan(diff) else abs(diff)


def _why(kind: str, e: Mapping[str, Any]) -> str:
    if kind == "preference":
        return (f"picks the first slot in {e['first_share']:.0%} of {e['n_votes']} votes "
                f"(no bias: {e['expected_first_share']:.0%}; Holm p = {e['p_holm']:.2g})")
    return (f"rates the first slot {e['mean_first_minus_rest']:+.2f} against the others on {e['n_items']} items "
            f"({e['n_first_higher']} higher, {e['n_first_lower']} lower; Holm p = {e['p_holm']:.2g})")


def _clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    if isinstance(x, float | np.floating):
        f = float(x)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(x, np.integer):
        return int(x)
    return x


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def text_lines(pb: Mapping[str, Any]) -> list[str]:
    """Return the plain-text lines of the position-bias block (for ``brun-label agreement``).

    >>> text_lines({"measurable": False, "reason": NOT_MEASURABLE})
    ['Position bias: not measurable: the table has no positions']
    """
    if not pb.get("measurable"):
        return [f"Position bias: {pb.get('reason')}"]
    lines = [f"Position bias ({CORRECTION}, alpha {pb['alpha']:g}; flagged from a first-slot share "
             f"{MIN_EFFECT['preference']:.0%} off no bias, or a scale {MIN_EFFECT['scale']:g} step off):"]
    for name, q in pb["questions"].items():
        for rater, e in q["raters"].items():
            mark = "  FLAGGED" if e["flagged"] else ""
            if q["kind"] == "preference":
                ci = e["first_share_ci95"]
                lines.append(f"  {name} {rater}: first slot {_pct(e['first_share'])} of {e['n_votes']} votes "
                             f"[{_pct(ci[0])}, {_pct(ci[1])}], no bias {_pct(e['expected_first_share'])}, "
                             f"Holm p {_p(e['p_holm'])}{mark}")
            else:
                means = ", ".join("—" if m is None else f"{m:+.2f}" for m in e["mean_by_slot"])
                lines.append(f"  {name} {rater}: mean by slot [{means}], first minus rest "
                             f"{_num(e['mean_first_minus_rest'])} on {e['n_items']} items, Holm p {_p(e['p_holm'])}{mark}")
    return lines


def _p(x: float | None) -> str:
    return "—" if x is None else f"{x:.2g}"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:+.2f}"


def _share_bar(shares: Sequence[float], cis: Sequence[Sequence[float | None]], expected: float) -> str:
    """An inline SVG of the share per slot with its interval and the no-bias line."""
    w, h, pad = 34 * len(shares) + 30, 90, 14
    parts = [f"<svg class='chart pb' width='{w}' height='{h + 18}' role='img' aria-label='share per slot'>"]
    y = lambda v: pad + (1 - v) * (h - pad)  # noqa: E731
    for i, (s, ci) in enumerate(zip(shares, cis, strict=True)):
        x = 24 + 34 * i
        parts.append(f"<rect x='{x}' y='{y(s):.1f}' width='22' height='{h - y(s):.1f}' fill='#7f9cc9'/>")
        if ci[0] is not None and ci[1] is not None:
            parts.append(f"<line x1='{x + 11}' x2='{x + 11}' y1='{y(ci[1]):.1f}' y2='{y(ci[0]):.1f}' "
                         "stroke='#1b1b1b' stroke-width='1.5'/>")
        parts.append(f"<text x='{x + 11}' y='{h + 14}' font-size='11' text-anchor='middle'>{chr(65 + i)}</text>")
    parts.append(f"<line x1='18' x2='{w - 4}' y1='{y(expected):.1f}' y2='{y(expected):.1f}' stroke='#c0392b' "
                 "stroke-dasharray='4 3'/>")
    parts.append(f"<line x1='18' x2='18' y1='{pad}' y2='{h}' stroke='#999'/><text x='2' y='{pad + 4}' font-size='10'>1</text>"
                 f"<text x='2' y='{h}' font-size='10'>0</text></svg>")
    return "".join(parts)


def report_section(pb: Mapping[str, Any] | None) -> str:
    """Return the HTML section of the agreement report (every rater's text escaped)."""
    out = ["<h2 id='position'>Position bias</h2>"]
    if not pb or not pb.get("measurable"):
        reason = (pb or {}).get("reason") or NOT_MEASURABLE
        out.append(f"<p class='muted'>{escape(reason)}.</p>")
        return "".join(out)
    out.append("<p class='muted'>Candidates are shown in a random order per sample, so without position bias "
               "every slot gets its fair share of preference votes (red dashed line) and a reply's scale rating "
               "does not depend on its slot. Bars: share of votes per slot with its 95% exact interval. "
               f"Tests: exact binomial (preferences) and sign tests (scales), {escape(CORRECTION)}; "
               f"flagged when the adjusted p-value is below {pb['alpha']:g} and the effect is at least "
               f"{MIN_EFFECT['preference']:.0%} of first-slot share (or {MIN_EFFECT['scale']:g} of a scale step).</p>")
    for name, q in pb["questions"].items():
        out.append(f"<h3>{escape(name)}</h3>")
        if q["kind"] == "preference":
            out.append("<table class='position'><tr><th>rater</th><th>votes</th><th>no winner</th>"
                       "<th>first slot</th><th>95% CI</th><th>no bias</th><th>Holm p</th><th>per slot</th></tr>")
            for rater, e in q["raters"].items():
                cls = " class='flagged'" if e["flagged"] else ""
                ci = e["first_share_ci95"]
                bars = "".join(_share_bar(b["shares"], b["ci95"], 1 / int(k)) for k, b in e["by_candidates"].items())
                out.append(f"<tr{cls}><td>{escape(rater)}</td><td class='num'>{e['n_votes']}</td>"
                           f"<td class='num'>{e['n_no_winner']}</td><td class='num'>{_pct(e['first_share'])}</td>"
                           f"<td>[{_pct(ci[0])}, {_pct(ci[1])}]</td><td class='num'>{_pct(e['expected_first_share'])}</td>"
                           f"<td class='num'>{_p(e['p_holm'])}</td><td>{bars}</td></tr>")
        else:
            out.append("<table class='position'><tr><th>rater</th><th>ratings</th><th>mean by slot (95% CI)</th>"
                       "<th>first − rest</th><th>higher / lower</th><th>Holm p</th></tr>")
            for rater, e in q["raters"].items():
                cls = " class='flagged'" if e["flagged"] else ""
                slots = "<br>".join(
                    f"{chr(65 + i)}: {_num(m)}" + ("" if ci[0] is None else f" [{ci[0]:+.2f}, {ci[1]:+.2f}]")
                    for i, (m, ci) in enumerate(zip(e["mean_by_slot"], e["mean_ci95"], strict=True)))
                out.append(f"<tr{cls}><td>{escape(rater)}</td><td class='num'>{e['n_ratings']}</td><td>{slots}</td>"
                           f"<td class='num'>{_num(e['mean_first_minus_rest'])}</td>"
                           f"<td class='num'>{e['n_first_higher']} / {e['n_first_lower']}</td>"
                           f"<td class='num'>{_p(e['p_holm'])}</td></tr>")
        out.append("</table>")
    return "".join(out)


__all__ = ["ALPHA", "MIN_EFFECT", "NOT_MEASURABLE", "clopper_pearson", "first_slot_test", "holm", "position_bias",
           "report_section", "text_lines"]
