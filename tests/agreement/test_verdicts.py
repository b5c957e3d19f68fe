"""Reliability-weighted verdicts: Dawid–Skene posteriors per candidate and vote weights per annotator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from brun_label.agreement.dawid_skene import DawidSkene
from brun_label.agreement.verdicts import SMOOTHING, verdict_posteriors


def _crowd(rng: np.random.Generator, n_cand: int, flip: list[float]) -> tuple[np.ndarray, ...]:
    """Every annotator judges every candidate; annotator ``a`` flips the truth with ``flip[a]``."""
    truth = rng.random(n_cand) < 0.5
    cand = np.repeat(np.arange(n_cand), len(flip))
    ann = np.tile(np.arange(len(flip)), n_cand)
    good = np.where(rng.random(len(cand)) < np.asarray(flip)[ann], ~truth[cand], truth[cand])
    return cand, ann, good, truth


def test_posteriors_are_dawid_skenes_and_weights_the_log_odds_of_balanced_accuracy() -> None:
    cand, ann, good, _ = _crowd(np.random.default_rng(1), 300, [0.03, 0.03, 0.2, 0.45])
    p, w = verdict_posteriors(cand, ann, good, n_candidates=300, n_annotators=4)
    ds = DawidSkene(smoothing=SMOOTHING).fit(pd.DataFrame({"unit": cand, "annotator": ann, "value": good}))
    np.testing.assert_allclose(p, ds.probas_[True].to_numpy())
    cls = list(ds.probas_.columns)
    hit = (ds.errors_[:, cls.index(True), cls.index(True)] + ds.errors_[:, cls.index(False), cls.index(False)]) / 2
    np.testing.assert_allclose(w, np.maximum(0, np.log(hit / (1 - hit))))
    assert min(w[0], w[1]) > w[2] > w[3] >= 0


def test_careful_agreement_settles_a_candidate_a_near_random_one_cannot() -> None:
    cand, ann, good, truth = _crowd(np.random.default_rng(2), 300, [0.04, 0.04, 0.04, 0.45])
    extra_c, extra_a = np.array([300, 300, 301, 301]), np.array([0, 1, 0, 3])
    p, _ = verdict_posteriors(np.r_[cand, extra_c], np.r_[ann, extra_a], np.r_[good, [True] * 4],
                              n_candidates=303, n_annotators=4)
    assert p[300] > 0.99 > p[301]
    assert np.isnan(p[302])  # nobody judged it
    # with three careful voters the majority is the truth
    assert ((p[:300] > 0.5) == truth).mean() > 0.99


def test_an_annotator_without_verdicts_gets_the_mean_weight() -> None:
    cand, ann, good, _ = _crowd(np.random.default_rng(3), 100, [0.05, 0.2])
    _, w = verdict_posteriors(cand, ann, good, n_candidates=100, n_annotators=3)
    assert w[2] == pytest.approx((w[0] + w[1]) / 2)


def test_one_class_only_is_what_the_table_says_with_plain_counting() -> None:
    p, w = verdict_posteriors(np.array([0, 1]), np.array([0, 1]), np.array([False, False]),
                              n_candidates=2, n_annotators=2)
    assert p.tolist() == [0.0, 0.0] and w.tolist() == [1.0, 1.0]
    p, w = verdict_posteriors(np.array([], dtype=int), np.array([], dtype=int), np.array([], dtype=bool),
                              n_candidates=1, n_annotators=0)
    assert np.isnan(p).all() and len(w) == 0


@pytest.mark.parametrize(("cand", "ann", "message"), [
    ([0, 1], [0], "differ in length"),
    ([0, 5], [0, 0], "out of range"),
    ([0, 0], [0, -1], "out of range"),
])
def test_malformed_codes_are_refused_up_front(cand: list[int], ann: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        verdict_posteriors(np.array(cand), np.array(ann), np.ones(len(cand), bool), n_candidates=2, n_annotators=1)


@given(st.integers(0, 2**31 - 1), st.permutations(range(4)))
def test_renaming_annotators_and_reordering_rows_changes_nothing(seed: int, perm: list[int]) -> None:
    rng = np.random.default_rng(seed)
    cand, ann, good, _ = _crowd(rng, 40, [0.05, 0.15, 0.3, 0.5])
    p, w = verdict_posteriors(cand, ann, good, n_candidates=40, n_annotators=4)
    order = rng.permutation(len(cand))
    renamed = np.asarray(perm)[ann]
    p2, w2 = verdict_posteriors(cand[order], renamed[order], good[order], n_candidates=40, n_annotators=4)
    np.testing.assert_allclose(p2, p, atol=1e-6)
    np.testing.assert_allclose(w2[np.asarray(perm)], w, atol=1e-5)
    assert ((p >= 0) & (p <= 1)).all() and (w >= 0).all()
