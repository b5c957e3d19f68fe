"""Bootstrap CIs for α: the vectorised kernel against α on replicated units, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brun_label.agreement.alpha import krippendorff_alpha
from brun_label.agreement.bootstrap import (
    alpha_for_weights,
    bootstrap_alpha,
)
from brun_label.agreement.distances import masi_distances
from brun_label.agreement.reliability import value_counts
from tests.agreement.examples import KRIPPENDORFF_C, package_alpha, random_ratings


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_kernel_equals_alpha_on_replicated_units(rng: np.random.Generator, level: str) -> None:
    data = random_ratings(rng, 4, 60, 5, 0.3)
    counts, domain = value_counts(data)
    weights = rng.integers(0, 4, (6, counts.shape[0]))
    fast = alpha_for_weights(counts, weights, level=level, value_domain=domain)
    for row, value in zip(weights, fast, strict=True):
        replicated = np.repeat(counts, row, axis=0)
        theirs = package_alpha(value_counts=replicated, value_domain=domain, level_of_measurement=level)
        assert value == pytest.approx(theirs, abs=1e-9)


def test_kernel_with_masi_distances(rng: np.random.Generator) -> None:
    sets = [frozenset(), frozenset({"a"}), frozenset({"a", "b"}), frozenset({"b"})]
    delta = masi_distances(sets)
    counts = rng.integers(0, 3, (30, 4))
    weights = rng.integers(0, 3, (4, 30))
    fast = alpha_for_weights(counts, weights, distances=delta)
    for row, value in zip(weights, fast, strict=True):
        replicated = np.repeat(counts, row, axis=0)
        theirs = float(
            package_alpha(
                value_counts=replicated,
                level_of_measurement=lambda v1, v2, i1, i2, n_v, dtype=None: delta[i1, i2],
            )
        )
        assert value == pytest.approx(theirs, abs=1e-9)


def test_interval_is_reproducible_and_covers_the_estimate() -> None:
    a = bootstrap_alpha(KRIPPENDORFF_C, level="interval", n_resamples=1000, seed=11)
    b = bootstrap_alpha(KRIPPENDORFF_C, level="interval", n_resamples=1000, seed=11)
    c = bootstrap_alpha(KRIPPENDORFF_C, level="interval", n_resamples=1000, seed=12)
    assert a.estimate == pytest.approx(krippendorff_alpha(KRIPPENDORFF_C, level="interval"))
    assert np.array_equal(a.samples, b.samples, equal_nan=True)
    assert not np.array_equal(a.samples, c.samples, equal_nan=True)
    assert a.low < a.estimate < a.high <= 1.0
    assert a.n_resamples == 1000 and a.confidence == 0.95


def test_matches_a_naive_bootstrap_in_distribution(rng: np.random.Generator) -> None:
    data = random_ratings(rng, 3, 300, 5, 0.15)
    pairable = np.flatnonzero((~np.isnan(data)).sum(axis=0) >= 2)
    naive = []
    loop_rng = np.random.default_rng(5)
    for _ in range(400):
        pick = loop_rng.choice(pairable, size=pairable.size, replace=True)
        naive.append(package_alpha(data[:, pick], level_of_measurement="ordinal"))
    fast = bootstrap_alpha(data, level="ordinal", n_resamples=4000, seed=5)
    sd_naive = float(np.std(naive))
    assert float(np.std(fast.samples)) == pytest.approx(sd_naive, rel=0.2)
    assert float(np.mean(fast.samples)) == pytest.approx(float(np.mean(naive)), abs=0.5 * sd_naive)


def test_unit_index_path_gives_the_same_distribution(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = random_ratings(rng, 4, 600, 5, 0.2)
    multinomial = bootstrap_alpha(data, level="ordinal", n_resamples=3000, seed=1)
    monkeypatch.setattr("brun_label.agreement.bootstrap._MAX_MULTINOMIAL_PATTERNS", 3)
    indices = bootstrap_alpha(data, level="ordinal", n_resamples=3000, seed=1)
    assert indices.estimate == multinomial.estimate
    assert not np.array_equal(indices.samples, multinomial.samples)
    sd = float(np.std(multinomial.samples))
    assert float(np.std(indices.samples)) == pytest.approx(sd, rel=0.1)
    assert indices.low == pytest.approx(multinomial.low, abs=0.3 * sd)
    assert indices.high == pytest.approx(multinomial.high, abs=0.3 * sd)


def test_many_distinct_interval_values(rng: np.random.Generator) -> None:
    data = rng.normal(0.0, 1.0, (3, 1000)).round(2)
    data[1] = data[0] + rng.normal(0.0, 0.5, 1000).round(2)
    ci = bootstrap_alpha(data, level="interval", n_resamples=200, seed=1)
    assert ci.estimate == pytest.approx(float(krippendorff_alpha(data, level="interval")))
    assert ci.low < ci.estimate < ci.high


def test_undefined_alpha_gives_an_undefined_interval() -> None:
    ci = bootstrap_alpha([[1, 1, 1], [1, 1, 1]], n_resamples=50)
    assert math.isnan(ci.estimate) and math.isnan(ci.low) and math.isnan(ci.high)
    assert ci.as_list() == [None, None]


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_alpha(KRIPPENDORFF_C, n_resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_alpha(KRIPPENDORFF_C, confidence=1.5)
    with pytest.raises(ValueError, match="resamples × patterns"):
        alpha_for_weights([[1, 1]], [[1, 2]])
