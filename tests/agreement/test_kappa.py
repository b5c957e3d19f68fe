"""Cohen's kappa: Wikipedia's worked example and scikit-learn as oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from brun_label.agreement.kappa import cohen_kappa, kappa_from_confusion, pairwise_cohen_kappa
from tests.agreement.examples import NAN, random_ratings


def test_wikipedia_example() -> None:
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-12)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize(("n_units", "n_values"), [(20, 2), (100, 3), (300, 5), (50, 9)])
def test_matches_sklearn(rng: np.random.Generator, weights: str | None, n_units: int, n_values: int) -> None:
    for _ in range(5):
        data = random_ratings(rng, 2, n_units, n_values, 0.0, noise=2)
        ours = cohen_kappa(data[0], data[1], weights=weights)
        theirs = cohen_kappa_score(data[0], data[1], weights=weights)
        assert ours == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_missing_ratings_use_the_shared_units(rng: np.random.Generator, weights: str | None) -> None:
    data = random_ratings(rng, 2, 200, 5, 0.25)
    both = ~np.isnan(data).any(axis=0)
    theirs = cohen_kappa_score(data[0, both], data[1, both], weights=weights)
    assert cohen_kappa(data[0], data[1], weights=weights) == pytest.approx(theirs, abs=1e-9)


def test_labels_set_the_weight_positions() -> None:
    a, b = [1, 2, 3, 3], [1, 3, 3, 2]
    labels = [0, 1, 2, 3, 4]
    theirs = cohen_kappa_score(a, b, weights="linear", labels=labels)
    assert cohen_kappa(a, b, weights="linear", labels=labels) == pytest.approx(theirs, abs=1e-12)


def test_string_labels() -> None:
    a = ["x", "y", "y", "z", None]
    b = ["x", "y", "z", "z", "x"]
    theirs = cohen_kappa_score(a[:4], b[:4])
    assert cohen_kappa(a, b) == pytest.approx(theirs, abs=1e-12)


def test_pairwise_matrix_matches_sklearn_per_pair(rng: np.random.Generator) -> None:
    data = random_ratings(rng, 4, 150, 5, 0.2)
    matrix = pairwise_cohen_kappa(data, weights="quadratic")
    assert matrix.shape == (4, 4)
    assert np.allclose(matrix, matrix.T, equal_nan=True)
    for i in range(4):
        for j in range(4):
            both = ~np.isnan(data[[i, j]]).any(axis=0)
            theirs = cohen_kappa_score(data[i, both], data[j, both], weights="quadratic")
            assert matrix[i, j] == pytest.approx(theirs, abs=1e-9)


def test_edge_cases() -> None:
    assert cohen_kappa([1, 2, 1], [1, 2, 1]) == 1.0
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))  # one value: no chance disagreement
    assert math.isnan(cohen_kappa([1, NAN], [NAN, 2]))  # nothing rated by both
    assert math.isnan(cohen_kappa([], []))
    assert math.isnan(kappa_from_confusion(np.zeros((2, 2))))
    assert math.isnan(pairwise_cohen_kappa([[1, NAN], [NAN, 2]])[0, 1])


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="weights must be"):
        cohen_kappa([1, 2], [1, 2], weights="cubic")
    with pytest.raises(ValueError, match="has 2 ratings but"):
        cohen_kappa([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="outside value_domain"):
        cohen_kappa([1, 2], [1, 3], labels=[1, 2])
    with pytest.raises(ValueError, match="square"):
        kappa_from_confusion([[1, 2, 3]])
