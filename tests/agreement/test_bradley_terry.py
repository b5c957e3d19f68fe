"""Bradley–Terry with ties: closed form, gradient, and recovery of simulated strengths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import check_grad

from brun_label.agreement.bradley_terry import BradleyTerryTies


def _simulate(rng: np.random.Generator, theta: dict[str, float], nu: float, n: int) -> tuple[list[list[str]], list[str | None]]:
    names = list(theta)
    options, choices = [], []
    for _ in range(n):
        i, j = rng.choice(len(names), size=2, replace=False)
        a, b = names[i], names[j]
        pa, pb = np.exp(theta[a]), np.exp(theta[b])
        pt = nu * np.sqrt(pa * pb)
        r = rng.random() * (pa + pb + pt)
        options.append([a, b])
        choices.append(a if r < pa else b if r < pa + pb else None)
    return options, choices


def test_maximum_likelihood_reproduces_a_single_pair() -> None:
    bt = BradleyTerryTies(prior=0.0).fit([["a", "b"]] * 12, ["a"] * 6 + ["b"] * 3 + [None] * 3)
    assert float(bt.strengths_["a"] - bt.strengths_["b"]) == pytest.approx(np.log(2.0), abs=1e-5)
    assert bt.tie_ == pytest.approx(3 / np.sqrt(18), abs=1e-5)
    assert bt.predict_proba([["a", "b"]])[0] == pytest.approx([0.5, 0.25, 0.25], abs=1e-5)


def test_recovers_simulated_strengths_and_tie_rate(rng: np.random.Generator) -> None:
    theta = {"w": 0.0, "x": 0.5, "y": 1.0, "z": -0.5}
    options, choices = _simulate(rng, theta, 0.6, 6000)
    bt = BradleyTerryTies(prior=0.0).fit(options, choices)
    fitted = bt.strengths_ - bt.strengths_["w"]
    for name, value in theta.items():
        assert float(fitted[name]) == pytest.approx(value, abs=0.12)
    assert bt.tie_ == pytest.approx(0.6, abs=0.08)


def test_gradient_is_exact(rng: np.random.Generator) -> None:
    options, choices = _simulate(rng, {"a": 0.3, "b": -0.2, "c": 0.0}, 0.4, 60)
    options.append(["a", "b", "c"])
    choices.append("c")
    bt = BradleyTerryTies(prior=0.3).fit(options, choices)
    f = bt._objective
    for _ in range(3):
        x = rng.normal(0, 0.5, 4)
        assert check_grad(lambda p: f(p)[0], lambda p: f(p)[1], x) < 1e-5


def test_prior_shrinks_unanimous_items_and_best_of_three_sums_to_one() -> None:
    bt = BradleyTerryTies(prior=1.0).fit([["a", "b"]] * 3 + [["c", "d", "e"]] * 2, ["a"] * 3 + ["d", None])
    diff = float(bt.strengths_["a"] - bt.strengths_["b"])
    assert 0 < diff < 3
    p = bt.predict_proba([["c", "d", "e"], ["a", "b"]])
    assert p.shape == (2, 4)
    assert p.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert p[1, 2] == 0.0  # the pair has no third slot
    assert p[0].argmax() == 1


def test_no_ties_means_zero_tie_parameter() -> None:
    bt = BradleyTerryTies().fit([["a", "b"]] * 4, ["a", "a", "b", "a"])
    assert bt.tie_ == 0.0
    assert bt.predict_proba([["a", "b"]])[0, 2] == 0.0


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="not one of its candidates"):
        BradleyTerryTies().fit([["a", "b"]], ["c"])
    with pytest.raises(ValueError, match="fewer than two"):
        BradleyTerryTies().fit([["a"]], ["a"])
    with pytest.raises(ValueError, match="option lists"):
        BradleyTerryTies().fit([["a", "b"]], [])
    with pytest.raises(ValueError, match="twice"):
        BradleyTerryTies().fit([["a", "a"]], ["a"])
    with pytest.raises(ValueError, match="no comparisons"):
        BradleyTerryTies().fit([], [])
    with pytest.raises(ValueError, match="prior"):
        BradleyTerryTies(prior=-1)
