"""Gwet's AC1/AC2 and percent agreement: Gwet's book examples and irrCAC as oracle."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from irrCAC.raw import CAC

from brun_label.agreement.alpha import krippendorff_alpha
from brun_label.agreement.gwet import agreement_weights, gwet_ac1, gwet_ac2, gwet_from_counts
from brun_label.agreement.percent import percent_agreement, unit_agreement
from tests.agreement.examples import KRIPPENDORFF_C, NAN, package_alpha, random_ratings

# irrCAC writes into a slice of its input frame; pandas warns about it, not about us.
pytestmark = pytest.mark.filterwarnings("ignore:A value is trying to be set on a copy")


def _irr(data: np.ndarray, weights: str = "identity", categories: list[float] | None = None) -> CAC:
    return CAC(pd.DataFrame(np.asarray(data, dtype=float).T), weights=weights, categories=categories, digits=15)


def test_gwet_four_raters_example() -> None:
    assert round(gwet_ac1(KRIPPENDORFF_C), 5) == 0.77544
    assert round(percent_agreement(KRIPPENDORFF_C), 5) == 0.81818


def test_gwet_three_by_three_abstractors_example() -> None:
    table = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
    pairs = [(i, j) for i in range(3) for j in range(3) for _ in range(table[i][j])]
    two = [[p[0] for p in pairs], [p[1] for p in pairs]]
    assert round(gwet_ac1(two), 5) == 0.84933
    assert round(gwet_ac2(two, weights="quadratic"), 5) == 0.94024
    assert round(percent_agreement(two), 2) == 0.89


def test_bipolar_weights_as_a_matrix() -> None:
    # irrCAC documentation: the four-rater example with bipolar weights gives AC2 = 0.90037.
    x = np.arange(1.0, 6.0)
    k, m = x[:, None], x[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = (k - m) ** 2 / ((k + m - 2 * x.min()) * (2 * x.max() - k - m))
    np.fill_diagonal(raw, 0.0)
    bipolar = 1 - raw / raw.max()
    assert round(gwet_ac2(KRIPPENDORFF_C, weights=bipolar), 5) == 0.90037


@pytest.mark.parametrize("weights", ["identity", "linear", "quadratic", "ordinal", "radical", "ratio"])
def test_matches_irrcac_on_random_data_with_missing_values(rng: np.random.Generator, weights: str) -> None:
    categories = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    for missing in (0.0, 0.3):
        data = random_ratings(rng, 4, 70, 5, missing)
        theirs = _irr(data, weights, categories).gwet()["est"]
        ours = gwet_ac2(data, weights=weights, categories=categories)
        assert ours == pytest.approx(theirs["coefficient_value"], abs=1e-9)
        if weights == "identity":
            assert gwet_ac1(data, categories=categories) == pytest.approx(ours, abs=1e-15)
            assert percent_agreement(data) == pytest.approx(theirs["pa"], abs=1e-9)


def test_weights_match_irrcac() -> None:
    from irrCAC.weights import Weights

    cats = [1, 2, 4, 7]
    for kind in ("identity", "linear", "quadratic", "ordinal", "radical", "ratio"):
        assert np.allclose(agreement_weights(kind, cats), Weights(cats)[kind])


def test_prevalence_paradox_alpha_collapses_ac1_does_not() -> None:
    # 100 drafts, two annotators; 96 rated in zone by both, 4 split between zone and soft.
    a = [0] * 96 + [0, 0, -1, -1]
    b = [0] * 96 + [-1, -1, 0, 0]
    data = [a, b]
    alpha = krippendorff_alpha(data, level="ordinal")
    assert alpha == pytest.approx(package_alpha(data, level_of_measurement="ordinal"))
    assert alpha < 0.0  # chance agreement is ~0.96, so 96% raw agreement looks like noise
    assert percent_agreement(data) == pytest.approx(0.96)
    assert gwet_ac1(data, categories=[-2, -1, 0, 1, 2]) > 0.95


def test_edge_cases() -> None:
    assert gwet_ac1([[1, 1, 1], [1, 1, 1]], categories=[1, 2]) == 1.0
    assert math.isnan(gwet_ac1([[1, 1, 1], [1, 1, 1]]))  # only one category known
    assert math.isnan(gwet_ac1([[1, NAN], [NAN, 2]]))  # no unit rated twice
    assert math.isnan(gwet_from_counts(np.zeros((0, 3))))
    assert math.isnan(percent_agreement([[1, 2, 3]]))
    assert percent_agreement([[2, 2], [2, 2]]) == 1.0
    assert np.isnan(unit_agreement([[1, 0]])).all()
    with pytest.raises(ValueError, match="weights must be one of"):
        gwet_ac2([[1, 2], [1, 2]], weights="cubic")
    with pytest.raises(ValueError, match="3 × 3"):
        gwet_from_counts([[1, 1, 0]], weights=np.eye(2))
    with pytest.raises(ValueError, match="positive categories"):
        agreement_weights("ratio", [0, 1, 2])
