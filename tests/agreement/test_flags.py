"""Multi-label flags: MASI α against NLTK, per-flag binary α against the krippendorff package."""

from __future__ import annotations

import math

import numpy as np
import pytest
from nltk.metrics.agreement import AnnotationTask
from nltk.metrics.distance import masi_distance as nltk_masi

from brun_label.agreement.distances import masi_distance, masi_distances
from brun_label.agreement.flags import flag_matrix, masi_alpha, per_flag_agreement, set_matrix
from tests.agreement.examples import package_alpha

FLAGS = ["admits_fault", "promises_compensation", "speculates_cause", "blames_customer"]


def _random_sets(rng: np.random.Generator, n_annotators: int, n_units: int, missing: float) -> list[list[object]]:
    truth = rng.random((n_units, len(FLAGS))) < 0.3
    rows: list[list[object]] = []
    for _ in range(n_annotators):
        row: list[object] = []
        for u in range(n_units):
            if rng.random() < missing:
                row.append(None)
                continue
            flip = rng.random(len(FLAGS)) < 0.15
            row.append([f for f, t in zip(FLAGS, truth[u] ^ flip, strict=True) if t])
        rows.append(row)
    return rows


def _nltk_masi(a: frozenset[str], b: frozenset[str]) -> float:
    return 0.0 if a == b else float(nltk_masi(set(a), set(b)))


def test_masi_distance_matches_nltk(rng: np.random.Generator) -> None:
    for _ in range(200):
        a = {f for f in FLAGS if rng.random() < 0.5}
        b = {f for f in FLAGS if rng.random() < 0.5}
        if a or b:
            assert masi_distance(a, b) == pytest.approx(_nltk_masi(frozenset(a), frozenset(b)), abs=1e-12)
    assert masi_distance([], []) == 0.0
    assert masi_distances([[], ["a"], ["a", "b"]]).round(4).tolist() == [
        [0.0, 1.0, 1.0], [1.0, 0.0, 0.6667], [1.0, 0.6667, 0.0]
    ]


@pytest.mark.parametrize("missing", [0.0, 0.25])
def test_masi_alpha_matches_nltk(rng: np.random.Generator, missing: float) -> None:
    for _ in range(3):
        data = _random_sets(rng, 3, 40, missing)
        triples = [
            (str(a), str(u), frozenset(v))  # type: ignore[call-overload]
            for a, row in enumerate(data) for u, v in enumerate(row) if v is not None
        ]
        theirs = AnnotationTask(triples, distance=_nltk_masi).alpha()
        assert masi_alpha(data) == pytest.approx(theirs, abs=1e-9)


def test_per_flag_alpha_matches_the_package(rng: np.random.Generator) -> None:
    data = _random_sets(rng, 4, 120, 0.2)
    result = per_flag_agreement(data, flags=[*FLAGS, "never_used"])
    assert list(result) == [*FLAGS, "never_used"]
    for flag in FLAGS:
        binary = flag_matrix(data, flag)
        theirs = package_alpha(binary, level_of_measurement="nominal")
        assert result[flag]["krippendorff_alpha"] == pytest.approx(theirs, abs=1e-9)
        assert 0.0 < result[flag]["prevalence"] < 1.0
    assert math.isnan(result["never_used"]["krippendorff_alpha"])
    assert result["never_used"]["gwet_ac1"] == 1.0
    assert result["never_used"]["prevalence"] == 0.0


def test_sets_are_order_free_and_missing_is_not_empty() -> None:
    m = set_matrix([[["b", "a"], [], None, float("nan")]])
    assert m.tolist() == [[frozenset({"a", "b"}), frozenset(), None, None]]


def test_edge_cases_and_errors() -> None:
    assert math.isnan(masi_alpha([[["a"], ["a"]], [["a"], ["a"]]]))  # one set everywhere
    assert masi_alpha([[["a"], []], [["a"], []]]) == 1.0
    assert math.isnan(masi_alpha([[["a"], ["b"]]]))  # one annotator
    with pytest.raises(ValueError, match="must be a list of labels"):
        masi_alpha([["a", "b"], ["a", "b"]])
    with pytest.raises(ValueError, match="same length"):
        set_matrix([[["a"]], [["a"], ["b"]]])
