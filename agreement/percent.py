"""Percent agreement: the share of agreeing annotator pairs, averaged over units.

Pure core. For a unit rated by ``r_i`` annotators, ``r_ik`` of them choosing value k, the share
of its ``r_i (r_i − 1)`` ordered annotator pairs that agree is Σ_k r_ik (r_ik − 1) /
(r_i (r_i − 1)); percent agreement is its mean over the units with at least two ratings (the
``p_a`` of Fleiss' kappa and Gwet's AC1). It is not chance-corrected: report it next to α, not
instead of it.

Edge cases: ``NaN`` when no unit has two ratings (including one annotator and empty input);
1.0 for perfect agreement, even on a single value.

Examples
--------
>>> nan = float("nan")
>>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
>>> round(percent_agreement(data), 4)  # Gwet (2014): p_a = 0.8182
0.8182
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from brun_label.agreement.reliability import _weights, check_counts, value_counts, weighted_mean


def percent_agreement_from_counts(counts: npt.ArrayLike, *, multiplicity: npt.ArrayLike | None = None) -> float:
    """Return percent agreement from a units × values count matrix.

    ``multiplicity`` says how many units each row stands for (rows of
    :func:`~brun_label.agreement.reliability.count_patterns`).

    >>> percent_agreement_from_counts([[3, 0], [2, 1]]), percent_agreement_from_counts([[3, 0], [2, 1]], multiplicity=[1, 2])
    (0.6666666666666666, 0.5555555555555555)
    """
    c = check_counts(counts)
    w = _weights(multiplicity, c.shape[0])
    r = c.sum(axis=1)
    pairable = r >= 2 if w is None else (r >= 2) & (w > 0)
    if not pairable.any():
        return float("nan")
    cp, rp = c[pairable], r[pairable]
    return float(weighted_mean((cp * (cp - 1.0)).sum(axis=1) / (rp * (rp - 1.0)), None if w is None else w[pairable]))


def unit_agreement(counts: npt.ArrayLike) -> np.ndarray:
    """Return each unit's share of agreeing annotator pairs (``NaN`` below two ratings).

    >>> unit_agreement([[3, 0], [2, 1], [1, 0]]).round(3).tolist()
    [1.0, 0.333, nan]
    """
    c = np.ascontiguousarray(check_counts(counts).T)  # values × units: sums over a few long rows
    r = c.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (c * (c - 1.0)).sum(axis=0) / (r * (r - 1.0))
    return np.where(r >= 2, share, np.nan)


def percent_agreement(reliability_data: Any) -> float:
    """Return percent agreement of annotators × units data (``NaN`` marks a missing rating)."""
    counts, _ = value_counts(reliability_data)
    return percent_agreement_from_counts(counts)
