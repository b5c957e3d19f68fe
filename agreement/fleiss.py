"""Fleiss' kappa on a units × categories count table.

Pure core. Fleiss (1971): with ``r_i`` ratings of unit i and ``r_ik`` of them in category k,

* observed agreement ``p_a`` = mean over units of Σ_k r_ik (r_ik − 1) / (r_i (r_i − 1));
* chance agreement ``p_e`` = Σ_k π_k², with π_k the share of ratings in category k;
* κ = (p_a − p_e) / (1 − p_e).

With the same number of ratings per unit this is Fleiss' kappa exactly (and equals
``statsmodels.stats.inter_rater.fleiss_kappa``). **Uneven counts** (missing ratings) are
handled as in Gwet (2014, *Handbook of Inter-Rater Reliability*, ch. 5) and the ``irrCAC``
package: ``p_a`` averages over the units with at least two ratings, and ``π_k`` is the mean
over the units with at least one rating of ``r_ik / r_i`` (each unit weighs the same, however
many annotators rated it). statsmodels' ``fleiss_kappa`` refuses such tables (it asserts that
every row has the same count). Units with no rating are ignored.

Why not statsmodels: it is heavy for one formula and refuses uneven counts; it is the test oracle
for equal counts, irrCAC for uneven ones.

Edge cases: κ is ``NaN`` when no unit has two ratings, or when every rating is in one category
(``p_e`` = 1). Perfect agreement over at least two categories gives 1.

Examples
--------
Wikipedia's worked example (10 subjects, 14 raters, 5 categories):

>>> table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
...          [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
...          [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
>>> round(fleiss_kappa(table), 3)
0.21
"""

from __future__ import annotations

import numpy.typing as npt

from brun_label.agreement.reliability import _weights, check_counts, weighted_mean


def fleiss_kappa(table: npt.ArrayLike, *, multiplicity: npt.ArrayLike | None = None) -> float:
    """Return Fleiss' κ of a units × categories table of rating counts.

    Parameters
    ----------
    table : array_like, shape (units, categories)
        ``table[i, k]`` is how many annotators put unit i in category k (non-negative).

    multiplicity : array_like, optional
        How many units each row stands for (rows of
        :func:`~brun_label.agreement.reliability.count_patterns`).

    Returns
    -------
    float
        κ, or ``NaN`` when undefined.
    """
    counts = check_counts(table)
    w = _weights(multiplicity, counts.shape[0])
    r = counts.sum(axis=1)
    rated = r >= 1 if w is None else (r >= 1) & (w > 0)
    if not rated.any():
        return float("nan")
    counts, r = counts[rated], r[rated]
    w = None if w is None else w[rated]
    pairable = r >= 2
    if not pairable.any():
        return float("nan")
    cp, rp = counts[pairable], r[pairable]
    p_a = float(weighted_mean((cp * (cp - 1.0)).sum(axis=1) / (rp * (rp - 1.0)), None if w is None else w[pairable]))
    pi = weighted_mean(counts / r[:, None], w)
    p_e = float((pi * pi).sum())
    if p_e >= 1.0 - 1e-15:
        return float("nan")
    return (p_a - p_e) / (1.0 - p_e)
