"""Annotator quality: each annotator (and the LLM judge) against the consensus of the others.

Pure core. For annotator *a* and one question, every unit *a* rated that at least one other
human also rated is compared with the **leave-one-out consensus**, the majority vote of the
other humans (so *a* never agrees with itself):

* ``agreement_with_consensus``: the mean credit, 1 when *a*'s value is the others' majority,
  ``1/k`` when it is one of ``k`` tied majority values, 0 otherwise. For flags the credit is
  ``1 − MASI(a's set, the others' per-flag majority set)``;
* ``mean_bias`` (numeric questions): the mean of *a*'s value minus the others' mean, in scale
  units; a consistent sign is drift (e.g. always rating a reply softer than everyone else);
* ``alpha_without``: α of the question without *a*; much higher than α means *a* pulls it down.

An annotator is **flagged** on a question (with the reason) when, over at least
:data:`MIN_UNITS` compared units, their agreement is more than :data:`AGREEMENT_GAP` below the
median annotator's, or α rises by at least :data:`ALPHA_GAIN` without them, or their
``mean_bias`` is at least half a scale step.

The **judge** (``judge:`` annotators) is compared the same way with the consensus of *all*
humans, since it never votes; ``cohen_kappa_vs_consensus`` is κ between the judge and the
humans' untied majority value, and ``alpha_with_judge`` is α with the judge added as one more
rater (next to ``alpha_humans``): close values mean the judge rates like a human would.

Examples
--------
>>> values = np.array([[0.0, 1.0, 2.0, 0.0], [0.0, 1.0, 2.0, 0.0], [1.0, 2.0, 2.0, 1.0]])
>>> stats = loo_agreement(values, numeric=True)
>>> [round(x, 2) for x in stats["agreement_with_consensus"]], stats["mean_bias"].tolist()
([0.62, 0.62, 0.25], [-0.375, -0.375, 0.75])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from brun_label.agreement.flags import flag_names, set_bits
from brun_label.agreement.kappa import cohen_kappa
from brun_label.agreement.questions import QuestionData, missing_mask
from brun_label.agreement.reliability import codes_and_domain, counts_from_codes

MIN_UNITS = 5
AGREEMENT_GAP = 0.15
ALPHA_GAIN = 0.05
BIAS_STEPS = 0.5


def _credit(code: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Credit of each unit's value against the majority of ``others`` (NaN: not comparable).

    ``others`` is units × values; it is read as values × units, so every reduction runs over a
    few long rows instead of a million short ones.
    """
    by_value = np.ascontiguousarray(others.T)
    n_other = by_value.sum(axis=0)
    ok = np.flatnonzero((code >= 0) & (n_other >= 1))
    out = np.full(code.shape, np.nan)
    if not ok.size:
        return out
    modes = by_value == by_value.max(axis=0)
    out[ok] = modes[code[ok], ok] / modes.sum(axis=0)[ok]
    return out


def _bias(values: np.ndarray, own: np.ndarray, others_sum: np.ndarray, others_n: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((~np.isnan(own)) & (others_n > 0), own - others_sum / np.maximum(others_n, 1), np.nan)


def _flag_bits(values: np.ndarray, flags: list[str]) -> tuple[np.ndarray, np.ndarray]:
    return set_bits(values, flags)


def masi_similarity(own: np.ndarray, other: np.ndarray) -> np.ndarray:
    """1 − MASI distance between two flags × units bit matrices, per unit.

    >>> masi_similarity(np.array([[1, 1], [0, 1]], bool), np.array([[1, 0], [0, 1]], bool)).round(3).tolist()
    [1.0, 0.333]
    """
    inter = (own & other).sum(axis=0)
    a = own.sum(axis=0)
    b = other.sum(axis=0)
    union = a + b - inter
    mono = np.where((a == b) & (a == inter), 1.0,
                    np.where(inter == np.minimum(a, b), 2.0 / 3.0, np.where(inter > 0, 1.0 / 3.0, 0.0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        jacc = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return np.where(union > 0, jacc * mono, 1.0)


def _flags_credit(
    own_bits: np.ndarray, own_answered: np.ndarray, ticks: np.ndarray, n_answered: np.ndarray
) -> np.ndarray:
    """Credit of a rater's sets against the per-flag strict majority of ``ticks`` / ``n_answered``."""
    majority = ticks * 2 > n_answered[None, :]
    sim = masi_similarity(own_bits, majority)
    return np.where(own_answered & (n_answered >= 1), sim, np.nan)


def loo_agreement(values: np.ndarray, *, numeric: bool = False, flags: bool = False) -> dict[str, Any]:
    """Per-annotator leave-one-out agreement of an annotators × units matrix.

    Returns arrays aligned with the annotators: ``n_units_compared``,
    ``agreement_with_consensus`` and ``mean_bias`` (NaN unless ``numeric``).
    """
    n_ann = values.shape[0]
    credit = np.full(values.shape, np.nan)
    bias = np.full(values.shape, np.nan)
    if flags:
        names = flag_names(values)
        bits, answered = _flag_bits(values, names)
        ticks = bits.sum(axis=1)
        n_ans = answered.sum(axis=0)
        for a in range(n_ann):
            others_ticks = ticks - bits[:, a, :]
            others_n = n_ans - answered[a]
            credit[a] = _flags_credit(bits[:, a, :], answered[a], others_ticks, others_n)
    else:
        codes, domain = codes_and_domain(values)
        counts = counts_from_codes(codes, len(domain))
        v = len(domain)
        for a in range(n_ann):
            own = np.zeros_like(counts)
            rated = codes[a] >= 0
            own[np.flatnonzero(rated), codes[a, rated]] = 1
            credit[a] = _credit(codes[a], counts - own)
        if numeric and v:
            total = counts @ domain.astype(np.float64)
            n_all = counts.sum(axis=1)
            for a in range(n_ann):
                own_v = values[a].astype(np.float64)
                has = ~np.isnan(own_v)
                others_sum = total - np.where(has, own_v, 0.0)
                others_n = n_all - has
                bias[a] = _bias(values, own_v, others_sum, others_n)
    compared = ~np.isnan(credit)
    with np.errstate(invalid="ignore"):
        agree = [float(np.nanmean(credit[a])) if compared[a].any() else math.nan for a in range(n_ann)]
        mean_bias = np.array([
            float(np.nanmean(bias[a])) if numeric and (~np.isnan(bias[a])).any() else math.nan
            for a in range(n_ann)
        ])
    return {
        "n_units_compared": compared.sum(axis=1).astype(int),
        "agreement_with_consensus": agree,
        "mean_bias": mean_bias,
    }


def scale_step(q: QuestionData) -> float:
    """The typical distance between adjacent values of a numeric question (1 for most scales)."""
    dom = q.domain if q.domain else sorted({float(x) for x in q.values[~np.isnan(q.values)]}) if q.numeric else []
    steps = np.diff(np.asarray(sorted(float(x) for x in dom)))
    return float(np.median(steps)) if steps.size else 1.0


def annotator_stats(q: QuestionData, *, alpha: float, alpha_without: list[float]) -> dict[str, dict[str, Any]]:
    """Return ``{annotator: stats}`` for one question, with ``flagged`` and ``reasons``."""
    res = loo_agreement(q.agreement_values(), numeric=q.numeric and q.level != "nominal",
                        flags=q.kind == "flags")
    agree = np.array(res["agreement_with_consensus"], dtype=np.float64)
    enough = res["n_units_compared"] >= MIN_UNITS
    median = float(np.median(agree[enough & ~np.isnan(agree)])) if (enough & ~np.isnan(agree)).any() else math.nan
    step = scale_step(q) if q.numeric else 1.0
    out: dict[str, dict[str, Any]] = {}
    rated = ~missing_mask(q.values)
    for a, name in enumerate(q.annotators):
        reasons: list[str] = []
        if enough[a]:
            if not math.isnan(agree[a]) and not math.isnan(median) and agree[a] < median - AGREEMENT_GAP:
                reasons.append(f"agrees with the others' majority {agree[a]:.0%} of the time (median {median:.0%})")
            if not math.isnan(alpha_without[a]) and not math.isnan(alpha) and alpha_without[a] - alpha >= ALPHA_GAIN:
                reasons.append(f"α rises from {alpha:.3f} to {alpha_without[a]:.3f} without them")
            bias = float(res["mean_bias"][a])
            if not math.isnan(bias) and abs(bias) >= BIAS_STEPS * step:
                reasons.append(f"rates {abs(bias):.2f} {'higher' if bias > 0 else 'lower'} than the others on average")
        out[name] = {
            "n_ratings": int(rated[a].sum()),
            "n_units_compared": int(res["n_units_compared"][a]),
            "agreement_with_consensus": float(agree[a]),
            "mean_bias": float(res["mean_bias"][a]),
            "alpha_without": float(alpha_without[a]),
            "flagged": bool(reasons),
            "reasons": reasons,
        }
    return out


def judge_stats(q: QuestionData, *, alpha_humans: float, alpha_with: float, kappa_weights: str | None) -> dict[str, Any]:
    """Compare the judge rows of one question with the human consensus (see the module docstring)."""
    humans = q.agreement_values()
    judges = q.agreement_values(q.judge_values)
    n_h, n_j = humans.shape[0], judges.shape[0]
    stacked = np.concatenate([humans, judges], axis=0) if humans.dtype == judges.dtype else np.concatenate(
        [humans.astype(object), judges.astype(object)], axis=0)
    per_judge: dict[str, dict[str, Any]] = {}
    credit_all: list[np.ndarray] = []
    if q.kind == "flags":
        names = flag_names(stacked)
        bits, answered = _flag_bits(stacked, names)
        ticks = bits[:, :n_h].sum(axis=1)
        n_ans = answered[:n_h].sum(axis=0)
        credits = [_flags_credit(bits[:, n_h + j, :], answered[n_h + j], ticks, n_ans) for j in range(n_j)]
        consensus_codes = None
    else:
        codes, domain = codes_and_domain(stacked, value_domain=q.agreement_domain())
        counts = counts_from_codes(codes[:n_h], len(domain))
        credits = [_credit(codes[n_h + j], counts) for j in range(n_j)]
        top = counts.max(axis=1) if counts.size else np.zeros(counts.shape[0])
        untied = ((counts == top[:, None]).sum(axis=1) == 1) & (top > 0)
        consensus_codes = np.where(untied, counts.argmax(axis=1) if counts.size else -1, -1)
    for j, name in enumerate(q.judges):
        c = credits[j]
        credit_all.append(c)
        entry: dict[str, Any] = {
            "n_units": int((~np.isnan(c)).sum()),
            "agreement_with_consensus": float(np.nanmean(c)) if (~np.isnan(c)).any() else math.nan,
        }
        if consensus_codes is not None:
            jc = codes[n_h + j]
            both = (jc >= 0) & (consensus_codes >= 0)
            entry["cohen_kappa_vs_consensus"] = (
                cohen_kappa(jc[both], consensus_codes[both], weights=kappa_weights, labels=np.arange(len(domain)))
                if both.any() else math.nan
            )
            conf = np.zeros((len(domain), len(domain)), dtype=int)
            np.add.at(conf, (consensus_codes[both], jc[both]), 1)
            entry["confusion"] = {"labels": [_label(x) for x in domain], "consensus_by_judge": conf.tolist()}
        if q.numeric and q.level != "nominal":
            hv = np.where(np.isnan(q.values), 0.0, q.values)
            hn = (~np.isnan(q.values)).sum(axis=0)
            jv = q.judge_values[j]
            with np.errstate(invalid="ignore", divide="ignore"):
                diff = np.where((~np.isnan(jv)) & (hn > 0), jv - hv.sum(axis=0) / np.maximum(hn, 1), np.nan)
            entry["mean_bias"] = float(np.nanmean(diff)) if (~np.isnan(diff)).any() else math.nan
        per_judge[name] = entry
    pooled = np.concatenate(credit_all) if credit_all else np.zeros(0)
    return {
        "judges": list(q.judges),
        "n_units": int((~np.isnan(pooled)).sum()),
        "agreement_with_consensus": float(np.nanmean(pooled)) if (~np.isnan(pooled)).any() else math.nan,
        "alpha_humans": alpha_humans,
        "alpha_with_judge": alpha_with,
        "by_judge": per_judge,
    }


def _label(x: Any) -> Any:
    if isinstance(x, float | np.floating) and float(x).is_integer():
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    return x
