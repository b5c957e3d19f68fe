"""Krippendorff's α for nominal, ordinal, interval and ratio data, with missing values.

Pure core, vectorised. α = 1 − D_o / D_e where, over the *pairable* values (units rated by at
least two annotators; units with fewer ratings are ignored, as the definition says):

* ``D_o`` is the observed disagreement, Σ_u Σ_{c,k} n_uc n_uk δ(c,k) / (m_u − 1), over n;
* ``D_e`` is the disagreement expected by chance, Σ_{c,k} n_c n_k δ(c,k) / (n − 1), over n;

with ``n_uc`` the number of annotators who gave value c to unit u, ``m_u`` the number of
ratings of unit u, ``n_c`` the pairable count of c and ``n`` the number of pairable values
(Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"). The data is reshaped once
into a units × values count matrix (:mod:`brun_label.agreement.reliability`), so the cost is
linear in the number of ratings; no units × values × values array is ever built.

Why not the ``krippendorff`` package: it is GPL-3.0 (so a test-only oracle here, which the tests
match to 1e-9) and builds a units × values × values array, about 9× slower on a million ratings
(``bench/bench_agreement.py``).

Edge cases (α is ``NaN`` whenever it is undefined, never an exception):

* perfect agreement on at least two distinct values: α = 1;
* a single value everywhere (or all sets equal, for MASI): D_e = 0, α is NaN;
* one annotator, or no unit rated twice: no pairable values, α is NaN;
* empty input (no units or no annotators): α is NaN.

Malformed input raises ``ValueError`` up front: data that is not 2-D, an unknown level, values
outside ``value_domain``, labels at the interval or ratio level, or labels at the ordinal level
without an ordered ``value_domain``.

Examples
--------
Krippendorff (2011), section C: four coders, twelve units, missing values.

>>> nan = float("nan")
>>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
>>> [round(krippendorff_alpha(data, level=lv), 3) for lv in ("nominal", "ordinal", "interval", "ratio")]
[0.743, 0.815, 0.849, 0.797]
>>> krippendorff_alpha([[1, 1, 1], [1, 1, 1]])
nan
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from brun_label.agreement.distances import check_level, level_distances
from brun_label.agreement.reliability import check_counts, codes_and_domain, unit_patterns


def krippendorff_alpha(
    reliability_data: Any,
    *,
    level: str = "nominal",
    value_domain: npt.ArrayLike | None = None,
) -> float:
    """Return Krippendorff's α of annotators × units data (``NaN`` for missing ratings).

    Parameters
    ----------
    reliability_data : array_like, shape (annotators, units)
        One row per annotator, one column per unit; missing ratings are ``NaN`` (``None`` in
        an object array). Numbers, or labels (strings) at the nominal level, or labels with an
        ordered ``value_domain`` at the ordinal level.
    level : {"nominal", "ordinal", "interval", "ratio"}
        The level of measurement, which picks the difference function.
    value_domain : array_like, optional
        All possible values, in scale order. Needed to order labels at the ordinal level; a
        value in the data but not in the domain raises ``ValueError``.

    Returns
    -------
    float
        α in [-1, 1] (it can go below -1 in degenerate cases), or ``NaN`` when undefined.

    Examples
    --------
    >>> round(krippendorff_alpha([["a", "a", "b"], ["a", "b", "b"]]), 4)
    0.4444
    >>> krippendorff_alpha([["low", "high"], ["low", "mid"]], level="ordinal")
    Traceback (most recent call last):
    ...
    ValueError: ordinal level on labels needs an ordered value_domain
    """
    patterns, multiplicity, domain = level_patterns(
        reliability_data, level=level, value_domain=value_domain
    )
    return alpha_from_counts(patterns, level=level, value_domain=domain, multiplicity=multiplicity)


def pair_sums(
    counts: np.ndarray,
    *,
    level: str,
    value_domain: np.ndarray,
    distances: np.ndarray | None = None,
) -> np.ndarray:
    """Return Σ_{c,k} n_c n_k δ(c, k) for each row of ``counts`` (any leading shape).

    With ``distances`` given it is used as δ. Otherwise the nominal and interval levels use
    closed forms that need no V × V matrix (``m² − Σ n_c²`` and ``2 (m Σ n_c x_c² − (Σ n_c
    x_c)²)``), which keeps α linear in the number of distinct values.

    >>> pair_sums(np.array([[2.0, 1.0]]), level="nominal", value_domain=np.array([0.0, 1.0]))
    array([4.])
    """
    if distances is not None:
        return np.asarray(((counts @ distances) * counts).sum(axis=-1))
    m = counts.sum(axis=-1)
    if level == "nominal":
        return np.asarray(m * m - (counts * counts).sum(axis=-1))
    if level == "interval":
        x = value_domain.astype(np.float64)
        return np.asarray(2.0 * (m * (counts @ (x * x)) - (counts @ x) ** 2))
    raise ValueError(f"the {level} level needs an explicit distances matrix")


def level_patterns(
    reliability_data: Any, *, level: str, value_domain: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the level against the data and return ``(patterns, multiplicity, domain)``."""
    check_level(level)
    codes, domain = codes_and_domain(reliability_data, value_domain=value_domain)
    if level != "nominal" and domain.dtype.kind not in "iuf":
        if level == "ordinal" and value_domain is None:
            raise ValueError("ordinal level on labels needs an ordered value_domain")
        if level in ("interval", "ratio"):
            raise ValueError(f"{level} level needs numeric values, got labels")
    patterns, multiplicity = unit_patterns(codes, len(domain))
    return patterns, multiplicity, domain


def alpha_from_counts(
    counts: npt.ArrayLike,
    *,
    level: str = "nominal",
    value_domain: npt.ArrayLike | None = None,
    distances: npt.ArrayLike | None = None,
    multiplicity: npt.ArrayLike | None = None,
) -> float:
    """Return α from a units × values count matrix (``counts[u, v]`` annotators gave value v).

    ``value_domain`` (default ``0..V-1``) gives the values of the columns, needed for the
    interval and ratio levels. ``distances`` overrides the level with a fixed V × V δ matrix
    (e.g. MASI distances between label sets). ``multiplicity`` says how many units each row
    stands for (rows are then distinct count patterns, see
    :func:`~brun_label.agreement.reliability.unit_patterns`); by default each row is one unit.

    >>> alpha_from_counts([[2, 0], [0, 2], [1, 1]])
    0.4444444444444444
    """
    arr = check_counts(counts)
    domain = np.arange(arr.shape[1], dtype=np.float64) if value_domain is None else np.asarray(value_domain)
    if domain.shape != (arr.shape[1],):
        raise ValueError(f"value_domain has {domain.size} values but counts has {arr.shape[1]} columns")
    if distances is None:
        check_level(level)
    else:
        fixed = np.asarray(distances, dtype=np.float64)
        if fixed.shape != (arr.shape[1], arr.shape[1]):
            raise ValueError("distances must be a V × V matrix matching the counts columns")
    if multiplicity is None:
        weight = np.ones(arr.shape[0])
    else:
        weight = np.asarray(multiplicity, dtype=np.float64)
        if weight.shape != (arr.shape[0],) or (weight < 0).any():
            raise ValueError("multiplicity must hold one non-negative number per row of counts")
    m = arr.sum(axis=1)
    pairable = (m >= 2) & (weight > 0)
    c = arr[pairable]
    m = m[pairable]
    w = weight[pairable]
    if c.shape[0] == 0:
        return float("nan")
    n_v = w @ c
    n = float(n_v.sum())
    if distances is not None:
        delta: np.ndarray | None = fixed
    elif level in ("nominal", "interval"):
        delta = None  # closed forms, no V × V matrix
    else:
        delta = level_distances(level, domain, n_v)
    observed = float(w @ (pair_sums(c, level=level, value_domain=domain, distances=delta) / (m - 1.0)))
    expected = float(pair_sums(n_v, level=level, value_domain=domain, distances=delta)) / (n - 1.0)
    if expected <= 0.0:
        return float("nan")
    return 1.0 - observed / expected
