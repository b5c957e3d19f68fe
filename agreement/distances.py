"""Difference functions δ(c, k) between values: the four measurement levels and MASI for sets.

Pure core. Krippendorff's α is ``1 - D_o / D_e`` for a squared difference function δ that says
how far apart two values are; the level of measurement picks δ (Krippendorff 2011, section E):

``nominal``   δ = 0 if c == k else 1
``ordinal``   δ = (Σ_{g=c..k} n_g − (n_c + n_k) / 2)², ranks weighted by how often each value
              was used (so it depends on the marginal counts ``n_v``, not on the numbers)
``interval``  δ = (c − k)²
``ratio``     δ = ((c − k) / (c + k))²  (0 when c = k = 0)

For sets of labels (multi-label flags) δ is the MASI distance (Passonneau 2006):
``1 − J · M`` with ``J`` the Jaccard index and ``M`` = 1 for equal sets, 2/3 when one contains
the other, 1/3 when they overlap otherwise and 0 when disjoint.

Examples
--------
>>> ordinal_distances(np.array([3.0, 1.0, 2.0])).tolist()
[[0.0, 4.0, 12.25], [4.0, 0.0, 2.25], [12.25, 2.25, 0.0]]
>>> interval_distances(np.array([1.0, 3.0])).tolist()
[[0.0, 4.0], [4.0, 0.0]]
>>> round(masi_distance({"a", "b"}, {"a"}), 4)
0.6667
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def check_level(level: str) -> str:
    """Return ``level`` if it is a known measurement level, else raise ``ValueError``.

    >>> check_level("ordinal")
    'ordinal'
    >>> check_level("likert")
    Traceback (most recent call last):
    ...
    ValueError: level must be one of nominal, ordinal, interval, ratio; got 'likert'
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")
    return level


def nominal_distances(n_values: int) -> np.ndarray:
    """δ for nominal data: 1 off the diagonal.

    >>> nominal_distances(2).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    return 1.0 - np.eye(n_values)


def ordinal_distances(n_v: np.ndarray) -> np.ndarray:
    """δ for ordinal data from the marginal counts ``n_v`` (values in scale order).

    Accepts a batch: ``n_v`` of shape ``(..., V)`` gives ``(..., V, V)``. With the midpoint rank
    ``r_g = Σ_{h≤g} n_h − n_g / 2`` the definition reduces to ``δ = (r_k − r_c)²``.
    """
    n_v = np.asarray(n_v, dtype=np.float64)
    mid = np.cumsum(n_v, axis=-1) - n_v / 2.0
    diff = mid[..., None, :] - mid[..., :, None]
    return np.asarray(diff * diff)


def interval_distances(domain: np.ndarray) -> np.ndarray:
    """δ for interval data: squared difference of the values."""
    x = _numeric(domain, "interval")
    diff = x[None, :] - x[:, None]
    return np.asarray(diff * diff)


def ratio_distances(domain: np.ndarray) -> np.ndarray:
    """δ for ratio data: squared difference over the sum (0 for two zeros).

    >>> ratio_distances(np.array([0.0, 1.0, 3.0])).tolist()
    [[0.0, 1.0, 1.0], [1.0, 0.0, 0.25], [1.0, 0.25, 0.0]]
    """
    x = _numeric(domain, "ratio")
    if (x < 0).any():
        raise ValueError("ratio level needs non-negative values (a true zero)")
    num = x[None, :] - x[:, None]
    den = x[None, :] + x[:, None]
    out = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    return np.asarray(out * out)


def _numeric(domain: np.ndarray, level: str) -> np.ndarray:
    if domain.dtype.kind not in "iuf":
        raise ValueError(f"{level} level needs numeric values, got labels")
    return domain.astype(np.float64)


def level_distances(level: str, domain: np.ndarray, n_v: np.ndarray) -> np.ndarray:
    """Return the V × V δ matrix of ``level`` for the values ``domain`` with marginals ``n_v``."""
    check_level(level)
    if level == "nominal":
        return nominal_distances(len(domain))
    if level == "ordinal":
        return ordinal_distances(n_v)
    if level == "interval":
        return interval_distances(domain)
    return ratio_distances(domain)


def masi_distance(a: Iterable[Any], b: Iterable[Any]) -> float:
    """MASI distance between two label sets (0 for two equal sets, including two empty ones).

    >>> masi_distance([], []), masi_distance(["x"], []), masi_distance(["x", "y"], ["y", "z"])
    (0.0, 1.0, 0.8888888888888888)
    """
    sa, sb = set(a), set(b)
    if sa == sb:
        return 0.0
    inter = len(sa & sb)
    union = len(sa | sb)
    if inter == 0:
        return 1.0
    monotonicity = 2.0 / 3.0 if sa <= sb or sb <= sa else 1.0 / 3.0
    return 1.0 - (inter / union) * monotonicity


def masi_distances(sets: Sequence[Iterable[Any]]) -> np.ndarray:
    """V × V MASI distances between the label sets of a domain.

    >>> masi_distances([frozenset(), frozenset({"a"})]).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    frozen = [frozenset(s) for s in sets]
    n = len(frozen)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = masi_distance(frozen[i], frozen[j])
    return out
