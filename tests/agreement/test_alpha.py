"""Krippendorff's α: published worked examples, the krippendorff package as oracle, edge cases."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from brun_label.agreement.alpha import alpha_from_counts, krippendorff_alpha
from brun_label.agreement.reliability import (
    codes_and_domain,
    counts_from_codes,
    unit_patterns,
    value_counts,
)
from tests.agreement.examples import KRIPPENDORFF_C, NAN, package_alpha, random_ratings

LEVELS = ("nominal", "ordinal", "interval", "ratio")


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_section_c(level: str, expected: float) -> None:
    assert round(krippendorff_alpha(KRIPPENDORFF_C, level=level), 3) == expected


def test_krippendorff_2011_section_a_binary_two_observers() -> None:
    data = [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]]
    assert round(krippendorff_alpha(data), 3) == 0.095


def test_krippendorff_2011_section_b_nominal_two_observers() -> None:
    data = [list("aabbdcccedda"), list("babbbcccedd" "d")]
    assert round(krippendorff_alpha(data), 3) == 0.692


def test_wikipedia_three_coders_example() -> None:
    data = [
        [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
        [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
    ]
    assert round(krippendorff_alpha(data, level="nominal"), 3) == 0.691
    assert round(krippendorff_alpha(data, level="interval"), 3) == 0.811


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(
    ("n_annotators", "n_units", "n_values", "missing"),
    [(2, 40, 3, 0.0), (3, 200, 5, 0.1), (5, 500, 7, 0.3), (8, 60, 4, 0.6), (12, 30, 10, 0.5)],
)
def test_matches_krippendorff_package_on_random_data(
    rng: np.random.Generator, level: str, n_annotators: int, n_units: int, n_values: int, missing: float
) -> None:
    for _ in range(3):
        data = random_ratings(rng, n_annotators, n_units, n_values, missing)
        if (np.sum(~np.isnan(data), axis=0) >= 2).sum() == 0:
            continue
        ours = krippendorff_alpha(data, level=level)
        theirs = package_alpha(data, level_of_measurement=level)
        assert ours == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize("level", ("interval", "ratio"))
def test_matches_package_on_non_integer_values(rng: np.random.Generator, level: str) -> None:
    data = rng.gamma(2.0, 1.5, (4, 150)).round(1)
    data[rng.random(data.shape) < 0.2] = np.nan
    ours = krippendorff_alpha(data, level=level)
    assert ours == pytest.approx(package_alpha(data, level_of_measurement=level), abs=1e-9)


def test_matches_package_with_a_value_domain_that_has_unused_values(rng: np.random.Generator) -> None:
    data = random_ratings(rng, 4, 100, 4, 0.2)
    domain = [0, 1, 2, 3, 4, 5, 6]
    for level in LEVELS[:3]:
        ours = krippendorff_alpha(data, level=level, value_domain=domain)
        theirs = package_alpha(data, level_of_measurement=level, value_domain=domain)
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_labels_nominal_and_ordinal_with_a_value_domain(rng: np.random.Generator) -> None:
    names = np.array(["doormat", "soft", "zone", "firm", "defensive"])
    idx = random_ratings(rng, 3, 150, 5, 0.2)
    labels = names[np.nan_to_num(idx, nan=1).astype(int) - 1].astype(object)
    labels[np.isnan(idx)] = None
    for level in ("nominal", "ordinal"):
        ours = krippendorff_alpha(labels, level=level, value_domain=list(names))
        assert ours == pytest.approx(krippendorff_alpha(idx, level=level), abs=1e-12)
    assert krippendorff_alpha(labels) == pytest.approx(krippendorff_alpha(idx), abs=1e-12)


def test_string_array_with_nan_as_text_is_missing() -> None:
    data = np.asarray([["a", "b", "a"], ["a", "b", float("nan")]])  # numpy turns nan into "nan"
    assert data.dtype.kind == "U"
    assert krippendorff_alpha(data) == pytest.approx(krippendorff_alpha([["a", "b", "a"], ["a", "b", None]]))


def test_alpha_from_counts_matches_package_value_counts(rng: np.random.Generator) -> None:
    counts = rng.integers(0, 3, (80, 5))
    for level in LEVELS[:3]:
        ours = alpha_from_counts(counts, level=level)
        theirs = package_alpha(value_counts=counts, level_of_measurement=level)
        assert ours == pytest.approx(theirs, abs=1e-9)


def test_unit_patterns_group_the_count_matrix(rng: np.random.Generator) -> None:
    data = random_ratings(rng, 6, 400, 5, 0.4)
    codes, domain = codes_and_domain(data)
    counts = counts_from_codes(codes, len(domain))
    patterns, mult = unit_patterns(codes, len(domain))
    expected, expected_mult = np.unique(counts, axis=0, return_counts=True)
    order = np.lexsort(patterns.T[::-1])
    assert patterns[order].tolist() == expected.tolist()
    assert mult[order].tolist() == expected_mult.tolist()


def test_value_counts_of_the_krippendorff_example() -> None:
    counts, domain = value_counts(KRIPPENDORFF_C)
    assert domain.tolist() == [1, 2, 3, 4, 5]
    assert counts[0].tolist() == [3, 0, 0, 0, 0]
    assert counts[5].tolist() == [1, 1, 1, 1, 0]
    assert counts[11].tolist() == [0, 0, 1, 0, 0]


# ----- edge cases -------------------------------------------------------------------------------


def test_perfect_agreement_is_one() -> None:
    assert krippendorff_alpha([[1, 2, 3, 1], [1, 2, 3, 1], [1, 2, NAN, 1]], level="ordinal") == 1.0


def test_single_value_everywhere_is_undefined() -> None:
    assert math.isnan(krippendorff_alpha([[2, 2, 2], [2, 2, 2]]))


def test_one_annotator_is_undefined() -> None:
    assert math.isnan(krippendorff_alpha([[1, 2, 3]]))


def test_no_unit_rated_twice_is_undefined() -> None:
    assert math.isnan(krippendorff_alpha([[1, NAN, 3], [NAN, 2, NAN]]))


def test_empty_input_is_undefined() -> None:
    assert math.isnan(krippendorff_alpha(np.empty((0, 0))))
    assert math.isnan(krippendorff_alpha(np.empty((3, 0))))
    assert math.isnan(krippendorff_alpha(np.full((2, 4), np.nan)))


def test_units_with_one_rating_are_ignored() -> None:
    base = [[1, 2, 3, 1], [1, 2, 2, 1]]
    extra = [[1, 2, 3, 1, 5, NAN], [1, 2, 2, 1, NAN, 4]]
    for level in LEVELS:
        assert krippendorff_alpha(extra, level=level) == pytest.approx(
            krippendorff_alpha(base, level=level), abs=1e-12
        )


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        ([1, 2, 3], {}, "must be 2-D"),
        ([[1, 2], [1, 2]], {"level": "likert"}, "level must be one of"),
        ([[1, 2], [1, 3]], {"value_domain": [1, 2]}, "outside value_domain"),
        ([["a", "b"], ["a", "b"]], {"level": "ordinal"}, "needs an ordered value_domain"),
        ([["a", "b"], ["a", "b"]], {"level": "interval"}, "needs numeric values"),
        ([[-1, 2], [1, 2]], {"level": "ratio"}, "non-negative"),
        ([[1, float("inf")], [1, 2]], {}, "infinite"),
        ([[1, 2], [1, 2]], {"value_domain": [1, 1, 2]}, "unique"),
    ],
)
def test_bad_input_raises_a_clear_value_error(data: object, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        krippendorff_alpha(data, **kwargs)


def test_counts_must_be_valid() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        alpha_from_counts([[1, -1]])
    with pytest.raises(ValueError, match="columns"):
        alpha_from_counts([[1, 1]], value_domain=[1, 2, 3])
    with pytest.raises(ValueError, match="multiplicity"):
        alpha_from_counts([[1, 1]], multiplicity=[1, 2])


@pytest.mark.filterwarnings("ignore:A value is trying to be set on a copy")
@pytest.mark.parametrize(("weights", "level"), [("identity", "nominal"), ("quadratic", "interval"), ("ratio", "ratio")])
def test_matches_irrcac_gwet_formulation(rng: np.random.Generator, weights: str, level: str) -> None:
    import pandas as pd
    from irrCAC.raw import CAC

    for missing in (0.0, 0.3):
        data = random_ratings(rng, 4, 60, 5, missing)
        theirs = CAC(pd.DataFrame(data.T), weights=weights, categories=[1.0, 2.0, 3.0, 4.0, 5.0], digits=15)
        expected = theirs.krippendorff()["est"]["coefficient_value"]
        assert krippendorff_alpha(data, level=level) == pytest.approx(expected, abs=1e-9)
