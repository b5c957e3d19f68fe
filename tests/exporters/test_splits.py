"""Train/test splits: by scenario, stratified by category, seeded."""

from __future__ import annotations

import numpy as np
import pytest

from brun_label.exporters.splits import split_test_mask


def make(n_per_cat: dict[str, int], rows_per_group: int = 3):
    groups, cats = [], []
    for cat, n in n_per_cat.items():
        for g in range(n):
            groups += [f"{cat}-{g}"] * rows_per_group
            cats += [cat] * rows_per_group
    return groups, cats


def test_no_scenario_is_in_both_splits():
    groups, cats = make({"hr": 40, "pr": 25, "billing": 9})
    test = split_test_mask(groups, cats, test_size=0.2, seed=3)
    by_group: dict[str, set] = {}
    for g, t in zip(groups, test, strict=True):
        by_group.setdefault(g, set()).add(bool(t))
    assert all(len(v) == 1 for v in by_group.values())


def test_each_category_gets_its_share_of_scenarios():
    groups, cats = make({"hr": 40, "pr": 20, "billing": 10})
    test = split_test_mask(groups, cats, test_size=0.25, seed=0)
    for cat, n in {"hr": 40, "pr": 20, "billing": 10}.items():
        n_test_groups = len({g for g, c, t in zip(groups, cats, test, strict=True) if c == cat and t})
        assert n_test_groups == round(0.25 * n)


def test_same_seed_same_split_other_seed_other_split():
    groups, cats = make({"hr": 30, "pr": 30})
    a = split_test_mask(groups, cats, test_size=0.3, seed=1)
    b = split_test_mask(groups, cats, test_size=0.3, seed=1)
    c = split_test_mask(groups, cats, test_size=0.3, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_input_order_does_not_change_which_scenarios_are_test():
    groups, cats = make({"hr": 12, "pr": 7})
    test = split_test_mask(groups, cats, test_size=0.3, seed=5)
    chosen = {g for g, t in zip(groups, test, strict=True) if t}
    order = np.random.default_rng(9).permutation(len(groups))
    g2, c2 = [groups[i] for i in order], [cats[i] for i in order]
    test2 = split_test_mask(g2, c2, test_size=0.3, seed=5)
    assert {g for g, t in zip(g2, test2, strict=True) if t} == chosen


def test_small_data_still_gets_a_test_scenario_and_keeps_a_train_one():
    groups, cats = make({"hr": 2, "pr": 1})
    test = split_test_mask(groups, cats, test_size=0.05, seed=0)
    assert 0 < test.sum() < len(test)
    assert not split_test_mask(["only"], ["hr"], test_size=0.2).any()


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5])
def test_test_size_must_be_a_fraction(bad):
    with pytest.raises(ValueError, match="test_size"):
        split_test_mask(["a", "b"], ["x", "x"], test_size=bad)
