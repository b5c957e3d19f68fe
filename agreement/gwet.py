"""Gwet's AC1 (nominal) and AC2 (weighted): agreement coefficients robust to skewed prevalence.

Pure core. Gwet (2008; 2014, *Handbook of Inter-Rater Reliability*, ch. 4-5), for any number of
annotators with missing ratings. With ``r_ik`` the number of ratings of unit i in category k,
``r_i`` = Σ_k r_ik, q categories and agreement weights W (identity for AC1):

* ``p_a`` = mean over units with r_i ≥ 2 of Σ_k r_ik (r*_ik − 1) / (r_i (r_i − 1)),
  where ``r*_ik = Σ_l w_kl r_il``;
* ``π_k`` = mean over units with r_i ≥ 1 of r_ik / r_i;
* ``p_e`` = (Σ_kl w_kl) / (q (q − 1)) · Σ_k π_k (1 − π_k);
* AC = (p_a − p_e) / (1 − p_e).

Why it matters here: κ and α compare agreement with the agreement expected from the marginal
distribution, so when nearly every rating is the same value (most good drafts sit *in* the tone
zone) chance agreement is close to 1 and they collapse towards 0 even when annotators almost
always agree (the "prevalence paradox"). AC1's chance term shrinks as prevalence becomes
extreme, so it stays close to the percent agreement. q counts the *possible* categories: pass
``categories`` (e.g. the rubric's options), otherwise only the values that occur are used.

Why not ``irrCAC``: it is GPL-3.0 and pins an old SciPy, so it is a test-only oracle (matched to
1e-9 with missing ratings and every weighting).

Edge cases: ``NaN`` when no unit has two ratings or fewer than two categories are known. When
all ratings are one value but ``categories`` lists at least two, AC1 = 1 (p_e = 0).

Examples
--------
Gwet's (2014) four raters × twelve units example and 3 × 3 pregnancy-type table (both also in
the ``irrCAC`` documentation): AC1 = 0.7754 and 0.8493, AC2 (quadratic) = 0.9402.

>>> nan = float("nan")
>>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
>>> round(gwet_ac1(data), 4)
0.7754
>>> table = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]  # rows: abstractor 1, columns: abstractor 2
>>> pairs = [(i, j) for i in range(3) for j in range(3) for _ in range(table[i][j])]
>>> two = [[p[0] for p in pairs], [p[1] for p in pairs]]
>>> round(gwet_ac1(two), 4), round(gwet_ac2(two, weights="quadratic"), 4)
(0.8493, 0.9402)
>>> gwet_ac1([[1, 1, 1], [1, 1, 1]], categories=[0, 1])
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from brun_label.agreement.reliability import _weights, check_counts, value_counts, weighted_mean

WEIGHT_KINDS = ("identity", "linear", "quadratic", "ordinal", "radical", "ratio")


def agreement_weights(kind: str, categories: npt.ArrayLike) -> np.ndarray:
    """Return Gwet's q × q agreement weights (1 on the diagonal) for ``categories`` in order.

    Numeric categories use their values; labels use their positions 1..q. Definitions follow
    Gwet (2014, ch. 3) and ``irrCAC.weights``.

    >>> agreement_weights("linear", [1, 2, 3]).tolist()
    [[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]]
    >>> agreement_weights("ordinal", ["lo", "mid", "hi"]).tolist()
    [[1.0, 0.6666666666666667, 0.0], [0.6666666666666667, 1.0, 0.6666666666666667], [0.0, 0.6666666666666667, 1.0]]
    """
    if kind not in WEIGHT_KINDS:
        raise ValueError(f"weights must be one of {', '.join(WEIGHT_KINDS)} or a q × q matrix; got {kind!r}")
    cats = np.asarray(categories)
    q = cats.size
    if q < 1:
        raise ValueError("categories is empty")
    x = cats.astype(np.float64) if cats.dtype.kind in "iuf" else np.arange(1, q + 1, dtype=np.float64)
    if kind == "identity" or q == 1:
        return np.eye(q)
    diff = x[:, None] - x[None, :]
    span = float(x.max() - x.min())
    if kind == "linear":
        return np.asarray(1.0 - np.abs(diff) / span)
    if kind == "quadratic":
        return np.asarray(1.0 - (diff / span) ** 2)
    if kind == "radical":
        return np.asarray(1.0 - np.sqrt(np.abs(diff)) / np.sqrt(span))
    if kind == "ordinal":
        pos = np.arange(q, dtype=np.float64)
        nkl = np.abs(pos[:, None] - pos[None, :]) + 1.0
        w = nkl * (nkl - 1.0) / 2.0
        return np.asarray(1.0 - w / w.max())
    if (x <= 0).any():
        raise ValueError("ratio weights need positive categories")
    ratio = (diff / (x[:, None] + x[None, :])) ** 2
    return np.asarray(1.0 - ratio / ((x.max() - x.min()) / (x.max() + x.min())) ** 2)


def gwet_from_counts(
    counts: npt.ArrayLike, *, weights: npt.ArrayLike | None = None, multiplicity: npt.ArrayLike | None = None
) -> float:
    """Return Gwet's AC1 (``weights`` None) or AC2 from a units × categories count matrix.

    The columns of ``counts`` are all q possible categories, including unused ones.
    ``multiplicity`` says how many units each row stands for (rows of
    :func:`~brun_label.agreement.reliability.count_patterns`).

    >>> round(gwet_from_counts([[2, 0], [2, 0], [2, 0], [1, 1]]), 4)
    0.68
    """
    c = check_counts(counts)
    q = c.shape[1]
    w = np.eye(q) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (q, q):
        raise ValueError(f"weights must be {q} × {q} to match the counts columns")
    if q < 2:
        return float("nan")
    m = _weights(multiplicity, c.shape[0])
    r = c.sum(axis=1)
    rated = r >= 1 if m is None else (r >= 1) & (m > 0)
    c, r = c[rated], r[rated]
    m = None if m is None else m[rated]
    pairable = r >= 2
    if not pairable.any():
        return float("nan")
    cp, rp = c[pairable], r[pairable]
    weighted = cp @ w.T
    p_a = float(weighted_mean((cp * (weighted - 1.0)).sum(axis=1) / (rp * (rp - 1.0)),
                              None if m is None else m[pairable]))
    pi = weighted_mean(c / r[:, None], m)
    p_e = float(w.sum() * (pi * (1.0 - pi)).sum() / (q * (q - 1.0)))
    if p_e >= 1.0 - 1e-15:
        return float("nan")
    return (p_a - p_e) / (1.0 - p_e)


def _counts(reliability_data: Any, categories: npt.ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
    counts, domain = value_counts(reliability_data, value_domain=categories)
    return counts, domain


def gwet_ac1(reliability_data: Any, *, categories: npt.ArrayLike | None = None) -> float:
    """Return Gwet's AC1 of annotators × units data (nominal; ``NaN`` marks a missing rating).

    ``categories`` lists every possible value (it sets q); by default the values that occur.
    """
    counts, _ = _counts(reliability_data, categories)
    return gwet_from_counts(counts)


def gwet_ac2(
    reliability_data: Any,
    *,
    weights: str | npt.ArrayLike = "quadratic",
    categories: npt.ArrayLike | None = None,
) -> float:
    """Return Gwet's weighted AC2 of annotators × units data.

    ``weights`` is one of :data:`WEIGHT_KINDS` or a q × q agreement-weight matrix (1 on the
    diagonal) for ``categories`` in order.

    >>> round(gwet_ac2([[1, 2, 3, 3], [1, 3, 3, 2]], weights="linear", categories=[1, 2, 3]), 4)
    0.4783
    """
    counts, domain = _counts(reliability_data, categories)
    w = agreement_weights(weights, domain) if isinstance(weights, str) else np.asarray(weights)
    return gwet_from_counts(counts, weights=w)
