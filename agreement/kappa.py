"""Cohen's kappa for two annotators (unweighted, linear, quadratic) and the pairwise matrix.

Pure core. κ = 1 − Σ w·O / Σ w·E over the confusion matrix O of the two annotators' values and
the matrix E expected from their marginals, with disagreement weights w = [i ≠ j] (unweighted),
|i − j| (linear) or (i − j)² (quadratic) on the *positions* of the values in ``labels``, exactly
as ``sklearn.metrics.cohen_kappa_score`` does (for a scale of consecutive integers positions and
values coincide).

Missing ratings (``NaN`` / ``None``) are allowed: only units that both annotators rated count.

Why not call scikit-learn (a runtime dependency, and the test oracle): it has no notion of a
missing rating and re-encodes the labels on every call, while the pairwise matrix here encodes
all annotators once and builds each pair's confusion matrix with one ``bincount``.

Edge cases: κ is ``NaN`` when no unit was rated by both, and when chance disagreement is zero
(both annotators used one and the same value everywhere: perfect agreement that cannot be told
apart from chance). Perfect agreement with at least two values gives 1.

Examples
--------
Wikipedia's worked example: 50 proposals, yes/yes 20, yes/no 5, no/yes 10, no/no 15.

>>> a = ["yes"] * 25 + ["no"] * 25
>>> b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
>>> round(cohen_kappa(a, b), 4)
0.4
>>> round(cohen_kappa([1, 2, 3, 4], [1, 2, 4, 4], weights="quadratic"), 4)
0.9167
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from brun_label.agreement.reliability import as_matrix, codes_and_domain

WEIGHTS = (None, "linear", "quadratic")


def _check_weights(weights: str | None) -> None:
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be None, 'linear' or 'quadratic'; got {weights!r}")


def disagreement_weights(n_values: int, weights: str | None) -> np.ndarray:
    """Return the V × V disagreement weights on value positions.

    >>> disagreement_weights(3, "linear").tolist()
    [[0.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 0.0]]
    """
    _check_weights(weights)
    pos = np.arange(n_values, dtype=np.float64)
    diff = np.abs(pos[:, None] - pos[None, :])
    if weights is None:
        return (diff > 0).astype(np.float64)
    if weights == "linear":
        return diff
    return diff * diff


def kappa_from_confusion(confusion: npt.ArrayLike, *, weights: str | None = None) -> float:
    """Return κ of a V × V confusion matrix (rows: first annotator, columns: second).

    >>> kappa_from_confusion([[20, 5], [10, 15]])
    0.4
    """
    conf = np.asarray(confusion, dtype=np.float64)
    if conf.ndim != 2 or conf.shape[0] != conf.shape[1]:
        raise ValueError("confusion must be a square matrix")
    total = conf.sum()
    if total <= 0:
        return float("nan")
    w = disagreement_weights(conf.shape[0], weights)
    expected = np.outer(conf.sum(axis=1), conf.sum(axis=0)) / total
    chance = float((w * expected).sum())
    if chance <= 0:
        return float("nan")
    return float(1.0 - (w * conf).sum() / chance)


def _pair_confusion(codes_a: np.ndarray, codes_b: np.ndarray, n_values: int) -> np.ndarray:
    both = (codes_a >= 0) & (codes_b >= 0)
    flat = codes_a[both] * n_values + codes_b[both]
    return np.bincount(flat, minlength=n_values * n_values).reshape(n_values, n_values)


def cohen_kappa(
    rater_a: npt.ArrayLike,
    rater_b: npt.ArrayLike,
    *,
    weights: str | None = None,
    labels: npt.ArrayLike | None = None,
) -> float:
    """Return Cohen's κ between two annotators' ratings of the same units.

    Parameters
    ----------
    rater_a, rater_b : array_like, shape (units,)
        The two annotators' values; ``NaN``/``None`` where a unit was not rated.
    weights : {None, "linear", "quadratic"}
        Disagreement weights on value positions (as scikit-learn).
    labels : array_like, optional
        All values in scale order; by default the sorted values that occur. A value outside
        ``labels`` raises ``ValueError``.
    """
    _check_weights(weights)
    a = np.asarray(rater_a, dtype=object if not _is_numeric(rater_a) else np.float64)
    b = np.asarray(rater_b, dtype=object if not _is_numeric(rater_b) else np.float64)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("rater_a and rater_b must be 1-D sequences of ratings")
    if a.shape != b.shape:
        raise ValueError(f"rater_a has {a.size} ratings but rater_b has {b.size}")
    pair = np.empty((2, a.size), dtype=object if (a.dtype == object or b.dtype == object) else np.float64)
    pair[0], pair[1] = a, b
    codes, domain = codes_and_domain(pair, value_domain=labels)
    return kappa_from_confusion(_pair_confusion(codes[0], codes[1], len(domain)), weights=weights)


def _is_numeric(values: Any) -> bool:
    arr = np.asarray(values)
    return arr.dtype.kind in "iufb"


def pairwise_cohen_kappa(
    reliability_data: Any,
    *,
    weights: str | None = None,
    labels: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Return the annotators × annotators matrix of Cohen's κ on the units each pair shares.

    ``reliability_data`` is annotators × units as for α. Entry (i, j) is κ between annotators i
    and j over the units both rated (``NaN`` when undefined); the diagonal is an annotator
    against itself (1, or ``NaN`` when it used a single value).

    >>> m = pairwise_cohen_kappa([[1, 2, 1, 2], [1, 2, 2, 2], [1, 2, 1, float("nan")]])
    >>> m.round(3).tolist()
    [[1.0, 0.5, 1.0], [0.5, 1.0, 0.4], [1.0, 0.4, 1.0]]
    """
    _check_weights(weights)
    codes, domain = codes_and_domain(as_matrix(reliability_data), value_domain=labels)
    n_ann = codes.shape[0]
    v = len(domain)
    out = np.full((n_ann, n_ann), np.nan)
    for i in range(n_ann):
        for j in range(i, n_ann):
            out[i, j] = out[j, i] = kappa_from_confusion(
                _pair_confusion(codes[i], codes[j], v), weights=weights
            )
    return out
