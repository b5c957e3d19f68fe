"""Train/test splits by scenario, stratified by category, seeded.

Pure core. Rows that share a *group* (a scenario: the sample id, or ``metadata["scenario"]`` when
several samples share one) always land in the same split, so no scenario leaks from train into
test. Within each category, the groups are shuffled with ``numpy.random.default_rng(seed)`` and
``round(test_size * n_groups)`` of them go to test; when that rounds to zero everywhere but there
are at least two groups, the largest category gives one group, so ``test_size > 0`` never yields an
empty test set. A group whose rows span several categories is stratified under its first one.

scikit-learn's ``GroupShuffleSplit`` keeps groups apart but does not stratify, and
``StratifiedGroupKFold`` only makes ``1/k`` folds; this small function does both for any
``test_size``.

Examples
--------
>>> groups = ["s1", "s1", "s2", "s3", "s4", "s5", "s6"]
>>> cats = ["hr", "hr", "hr", "hr", "pr", "pr", "pr"]
>>> test = split_test_mask(groups, cats, test_size=0.34, seed=0)
>>> test.tolist()
[False, False, False, True, False, False, True]
>>> bool(test[0] == test[1])  # s1's two rows stay together
True
>>> split_test_mask(groups, cats, test_size=0.34, seed=0).tolist() == test.tolist()  # seeded
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def split_test_mask(
    groups: Sequence[str] | pd.Series,
    categories: Sequence[str] | pd.Series,
    *,
    test_size: float,
    seed: int = 0,
) -> np.ndarray:
    """Return a boolean array, True for the rows that go to the test split.

    ``test_size`` is the fraction of groups (scenarios) per category that go to test, in (0, 1).

    >>> split_test_mask(["a", "b"], ["x", "x"], test_size=0.0)
    Traceback (most recent call last):
    ...
    ValueError: test_size must be between 0 and 1 (exclusive), got 0.0
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {test_size!r}")
    g = pd.Series(list(groups), dtype=object)
    c = pd.Series(list(categories), dtype=object)
    if len(g) != len(c):
        raise ValueError("groups and categories must have the same length")
    if g.empty:
        return np.zeros(0, dtype=bool)
    first = pd.DataFrame({"group": g, "category": c}).drop_duplicates("group", keep="first")
    rng = np.random.default_rng(seed)
    test_groups: list[str] = []
    largest: tuple[int, list[str]] = (0, [])
    for _, sub in first.groupby("category", sort=True):
        names = sorted(sub["group"].tolist())
        order = [names[i] for i in rng.permutation(len(names))]
        k = round(test_size * len(order))
        k = min(k, len(order) - 1) if len(order) > 1 else k
        test_groups.extend(order[:k])
        if len(order) > largest[0]:
            largest = (len(order), order)
    if not test_groups and len(first) >= 2:
        test_groups = largest[1][:1] if largest[0] >= 2 else [first["group"].iloc[0]]
    return np.asarray(g.isin(set(test_groups)).to_numpy(), dtype=bool)
