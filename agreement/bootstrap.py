"""Bootstrap confidence intervals for Krippendorff's α, resampling units, fully vectorised.

Pure core. A resample draws the pairable units (units with at least two ratings) with
replacement, as many as there are, and recomputes α; the interval is the percentile interval
of the resampled α values. Units are the independent draws of an annotation study, so
resampling them keeps each unit's ratings together (a cluster bootstrap).

How it avoids calling α a thousand times: α is a function of per-unit sums, and a unit only
enters through its count pattern (how many annotators gave each value). Units are grouped by
pattern once (:func:`~brun_label.agreement.reliability.unit_patterns`); a resample of U units
is then exactly a multinomial draw of how many times each pattern is picked, so all resamples
are one ``(resamples × patterns)`` weight matrix and every sum becomes a matrix product. The
ordinal difference function depends on the marginal counts, so it is rebuilt per resample (in
batches) instead of being frozen at the full-sample marginals.

When there are many patterns (e.g. interval data with many distinct values) the weights come
from drawn unit indices instead of the multinomial; the result has the same distribution.

Examples
--------
>>> nan = float("nan")
>>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
>>> ci = bootstrap_alpha(data, level="ordinal", n_resamples=2000, seed=1)
>>> round(ci.estimate, 3), ci.low < ci.estimate < ci.high, ci.high <= 1.0
(0.815, True, True)
>>> bootstrap_alpha(data, level="ordinal", n_resamples=500, seed=7).as_list() == \\
...     bootstrap_alpha(data, level="ordinal", n_resamples=500, seed=7).as_list()
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from brun_label.agreement.alpha import alpha_from_counts, level_patterns, pair_sums
from brun_label.agreement.distances import check_level, level_distances, ordinal_distances
from brun_label.agreement.reliability import check_counts

#: Above this many patterns, draw unit indices rather than a multinomial over patterns.
_MAX_MULTINOMIAL_PATTERNS = 4096
#: Size (in float64 cells) of the per-batch work arrays.
_BATCH_CELLS = 4_000_000


@dataclass(frozen=True)
class BootstrapCI:
    """A point estimate with its percentile bootstrap interval.

    ``samples`` holds the resampled values (``NaN`` where α was undefined in a resample).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int
    samples: np.ndarray = field(repr=False, compare=False)

    def as_list(self) -> list[float | None]:
        """Return ``[low, high]`` with ``None`` for an undefined bound (JSON-friendly)."""
        return [None if math.isnan(x) else float(x) for x in (self.low, self.high)]


def bootstrap_alpha(
    reliability_data: Any,
    *,
    level: str = "nominal",
    value_domain: npt.ArrayLike | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapCI:
    """Return α of annotators × units data with a percentile bootstrap interval over units.

    Parameters
    ----------
    reliability_data, level, value_domain
        As for :func:`~brun_label.agreement.alpha.krippendorff_alpha`.
    n_resamples : int
        Number of bootstrap resamples (at least 1).
    seed : int
        Seed of the random generator: the same seed gives the same interval.
    confidence : float
        Coverage of the interval, strictly between 0 and 1.
    """
    patterns, multiplicity, domain = level_patterns(
        reliability_data, level=level, value_domain=value_domain
    )
    estimate = alpha_from_counts(
        patterns, level=level, value_domain=domain, multiplicity=multiplicity
    )
    return _bootstrap(
        patterns, multiplicity, estimate, level=level, domain=domain, distances=None,
        n_resamples=n_resamples, seed=seed, confidence=confidence,
    )


def bootstrap_alpha_counts(
    counts: npt.ArrayLike,
    *,
    level: str = "nominal",
    value_domain: npt.ArrayLike | None = None,
    distances: npt.ArrayLike | None = None,
    multiplicity: npt.ArrayLike | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapCI:
    """Like :func:`bootstrap_alpha` from a units × values count matrix (see ``alpha_from_counts``).

    >>> ci = bootstrap_alpha_counts([[2, 0], [0, 2], [1, 1], [2, 0]], n_resamples=200, seed=3)
    >>> round(ci.estimate, 4), len(ci.samples)
    (0.5333, 200)
    """
    arr = check_counts(counts)
    domain = np.arange(arr.shape[1], dtype=np.float64) if value_domain is None else np.asarray(value_domain)
    estimate = alpha_from_counts(
        arr, level=level, value_domain=domain, distances=distances, multiplicity=multiplicity
    )
    mult = np.ones(arr.shape[0]) if multiplicity is None else np.asarray(multiplicity, dtype=np.float64)
    return _bootstrap(
        arr, mult, estimate, level=level, domain=domain,
        distances=None if distances is None else np.asarray(distances, dtype=np.float64),
        n_resamples=n_resamples, seed=seed, confidence=confidence,
    )


class _Prepared:
    """Per-pattern sums computed once, so that α of any weighting is a few matrix products."""

    def __init__(
        self,
        c: np.ndarray,
        m: np.ndarray,
        level: str,
        domain: np.ndarray,
        distances: np.ndarray | None,
        mult: np.ndarray,
    ) -> None:
        n_pat, n_val = c.shape
        self.c = c
        self.level = level
        self.domain = domain
        self.per_pattern: np.ndarray | None = None
        self.fixed: np.ndarray | None = None
        self.unit_do: np.ndarray | None = None
        if distances is None and level == "ordinal":
            # Per-pattern coincidences (c cᵀ − diag c) / (m − 1), so δ can follow each resample.
            per = (c[:, :, None] * c[:, None, :]) / (m - 1.0)[:, None, None]
            per[:, np.arange(n_val), np.arange(n_val)] -= c / (m - 1.0)[:, None]
            self.per_pattern = per.reshape(n_pat, n_val * n_val)
        else:
            if distances is not None:
                self.fixed = distances
            elif level == "ratio":
                self.fixed = level_distances(level, domain, mult @ c)
            self.unit_do = pair_sums(c, level=level, value_domain=domain, distances=self.fixed) / (m - 1.0)

        self.moments: np.ndarray | None = None
        if distances is None and level == "interval":
            # Interval D_e only needs n, Σ n_v x and Σ n_v x²: no resamples × values product.
            x = domain.astype(np.float64)
            self.moments = np.stack([m, c @ x, c @ (x * x)], axis=1)

    def alpha(self, weights: np.ndarray) -> np.ndarray:
        """α for each row of ``weights`` (how many times each pattern is counted)."""
        if self.moments is not None:
            assert self.unit_do is not None
            n, s1, s2 = (weights @ self.moments).T
            observed = weights @ self.unit_do
            with np.errstate(divide="ignore", invalid="ignore"):
                expected = 2.0 * (n * s2 - s1 * s1) / (n - 1.0)
                return np.where(expected > 0, 1.0 - observed / expected, np.nan)
        n_v = weights @ self.c
        n = n_v.sum(axis=1)
        if self.per_pattern is not None:
            delta = ordinal_distances(n_v)
            observed = ((weights @ self.per_pattern) * delta.reshape(len(weights), -1)).sum(axis=1)
            expected = np.einsum("bv,bvw,bw->b", n_v, delta, n_v)
        else:
            assert self.unit_do is not None
            observed = weights @ self.unit_do
            expected = pair_sums(n_v, level=self.level, value_domain=self.domain, distances=self.fixed)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = expected / (n - 1.0)
            return np.where(expected > 0, 1.0 - observed / expected, np.nan)


def alpha_for_weights(
    patterns: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    level: str = "nominal",
    value_domain: npt.ArrayLike | None = None,
    distances: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Return α for each row of ``weights`` (resamples × patterns) in one vectorised pass.

    Row b counts pattern p ``weights[b, p]`` times; this is the kernel of the bootstrap, exposed
    so that it can be checked against α on explicitly replicated units.

    >>> alpha_for_weights([[2, 0], [0, 2], [1, 1]], [[1, 1, 1], [2, 1, 1]]).round(4).tolist()
    [0.4444, 0.5333]
    """
    c = check_counts(patterns)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if w.ndim != 2 or w.shape[1] != c.shape[0]:
        raise ValueError("weights must be resamples × patterns")
    if distances is None:
        check_level(level)
    domain = np.arange(c.shape[1], dtype=np.float64) if value_domain is None else np.asarray(value_domain)
    m = c.sum(axis=1)
    keep = m >= 2
    fixed = None if distances is None else np.asarray(distances, dtype=np.float64)
    prepared = _Prepared(c[keep], m[keep], level, domain, fixed, w[:, keep].sum(axis=0))
    return prepared.alpha(w[:, keep])


def _check_options(n_resamples: int, confidence: float) -> None:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")


def _bootstrap(
    patterns: np.ndarray,
    multiplicity: np.ndarray,
    estimate: float,
    *,
    level: str,
    domain: np.ndarray,
    distances: np.ndarray | None,
    n_resamples: int,
    seed: int,
    confidence: float,
) -> BootstrapCI:
    _check_options(n_resamples, confidence)
    if distances is None:
        check_level(level)
    c = np.asarray(patterns, dtype=np.float64)
    mult = np.asarray(multiplicity, dtype=np.float64)
    m = c.sum(axis=1)
    keep = (m >= 2) & (mult > 0)
    c, m, mult = c[keep], m[keep], mult[keep]
    rng = np.random.default_rng(seed)
    samples = np.full(n_resamples, np.nan)
    n_units = round(mult.sum())
    if n_units == 0 or math.isnan(estimate):
        return BootstrapCI(estimate, math.nan, math.nan, confidence, n_resamples, samples)
    n_pat, n_val = c.shape
    per_row = n_pat + n_val * (n_val + 1 if level == "ordinal" and distances is None else 2)
    batch = max(1, min(n_resamples, _BATCH_CELLS // per_row))
    probs = mult / mult.sum()
    unit_pattern = None
    if n_pat > _MAX_MULTINOMIAL_PATTERNS:
        unit_pattern = np.repeat(np.arange(n_pat), mult.astype(np.int64))
    prepared = _Prepared(c, m, level, domain, distances, mult)
    for start in range(0, n_resamples, batch):
        size = min(batch, n_resamples - start)
        if unit_pattern is None:
            weights = rng.multinomial(n_units, probs, size=size).astype(np.float64)
        else:
            drawn = unit_pattern[rng.integers(0, n_units, size=(size, n_units))]
            offset = (np.arange(size) * n_pat)[:, None]
            hits = np.bincount((drawn + offset).ravel(), minlength=size * n_pat)
            weights = hits.reshape(size, n_pat).astype(np.float64)
        samples[start:start + size] = prepared.alpha(weights)
    tail = (1.0 - confidence) / 2.0 * 100.0
    finite = samples[~np.isnan(samples)]
    if finite.size == 0:
        return BootstrapCI(estimate, math.nan, math.nan, confidence, n_resamples, samples)
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return BootstrapCI(estimate, float(low), float(high), confidence, n_resamples, samples)
