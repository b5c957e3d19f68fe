"""Fleiss' kappa: Wikipedia's worked example, statsmodels (equal counts) and irrCAC (uneven)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from irrCAC.raw import CAC
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from brun_label.agreement.fleiss import fleiss_kappa
from brun_label.agreement.reliability import value_counts
from tests.agreement.examples import KRIPPENDORFF_C, random_ratings

WIKIPEDIA = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]

# irrCAC writes into a slice of its input frame; pandas warns about it, not about us.
pytestmark = pytest.mark.filterwarnings("ignore:A value is trying to be set on a copy")


def test_wikipedia_example() -> None:
    assert round(fleiss_kappa(WIKIPEDIA), 3) == 0.210
    assert fleiss_kappa(WIKIPEDIA) == pytest.approx(sm_fleiss_kappa(np.array(WIKIPEDIA)), abs=1e-12)


def test_gwet_four_raters_example_with_missing_ratings() -> None:
    counts, _ = value_counts(KRIPPENDORFF_C)
    assert round(fleiss_kappa(counts), 5) == 0.76117  # Gwet (2014) / irrCAC documentation


@pytest.mark.parametrize(("n_raters", "n_cats"), [(2, 2), (3, 4), (6, 5), (14, 3)])
def test_matches_statsmodels_on_equal_counts(rng: np.random.Generator, n_raters: int, n_cats: int) -> None:
    for _ in range(5):
        probs = rng.dirichlet(np.ones(n_cats), size=60)
        table = np.array([rng.multinomial(n_raters, p) for p in probs])
        assert fleiss_kappa(table) == pytest.approx(sm_fleiss_kappa(table), abs=1e-9)


def test_matches_irrcac_on_uneven_counts(rng: np.random.Generator) -> None:
    for _ in range(5):
        data = random_ratings(rng, 5, 80, 4, 0.35)
        counts, domain = value_counts(data)
        theirs = CAC(pd.DataFrame(data.T), categories=domain.tolist(), digits=15).fleiss()
        assert fleiss_kappa(counts) == pytest.approx(theirs["est"]["coefficient_value"], abs=1e-9)


def test_uneven_counts_are_refused_by_statsmodels_but_defined_here() -> None:
    table = np.array([[2, 0], [0, 3], [1, 1], [3, 0], [0, 2]])
    with pytest.raises(AssertionError):
        sm_fleiss_kappa(table)
    assert -1.0 <= fleiss_kappa(table) <= 1.0


def test_edge_cases() -> None:
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0
    assert math.isnan(fleiss_kappa([[3, 0], [3, 0]]))  # one category everywhere
    assert math.isnan(fleiss_kappa([[1, 0], [0, 1]]))  # no unit rated twice
    assert math.isnan(fleiss_kappa(np.zeros((0, 3))))
    assert fleiss_kappa([[3, 0], [0, 3], [0, 0]]) == 1.0  # unrated units are ignored
    with pytest.raises(ValueError, match="non-negative"):
        fleiss_kappa([[1, -1]])
    with pytest.raises(ValueError, match="2-D"):
        fleiss_kappa([1, 2])
