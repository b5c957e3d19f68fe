"""Dawid–Skene: recovers the truth and annotator confusion on simulated crowds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brun_label.agreement.dawid_skene import DawidSkene


def _simulate(rng: np.random.Generator, accuracies: list[float | str], n_units: int = 500, k: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    truth = rng.choice(k, size=n_units, p=[0.6, 0.3, 0.1][:k] if k == 3 else None)
    rows = []
    for a, acc in enumerate(accuracies):
        for u in range(n_units):
            if acc == "swap":  # swaps classes 0 and 1, otherwise right
                label = {0: 1, 1: 0}.get(int(truth[u]), int(truth[u]))
            elif rng.random() < float(acc):
                label = int(truth[u])
            else:
                label = int(rng.integers(k))
            rows.append((f"u{u:04d}", f"ann{a}", label))
    return pd.DataFrame(rows, columns=["unit", "annotator", "value"]), truth


def _majority(data: pd.DataFrame) -> pd.Series:
    return data.groupby("unit")["value"].agg(lambda s: s.value_counts().sort_index().idxmax())


def test_beats_majority_vote_with_spammers(rng: np.random.Generator) -> None:
    data, truth = _simulate(rng, [0.9, 0.85, 0.0, 0.0, 0.0])
    ds = DawidSkene().fit(data)
    units = sorted(data["unit"].unique())
    ds_acc = float((ds.labels_.loc[units].to_numpy() == truth).mean())
    mv_acc = float((_majority(data).loc[units].to_numpy() == truth).mean())
    assert ds_acc > mv_acc + 0.05
    assert ds_acc > 0.9
    good, spam = ds.annotators_.index("ann0"), ds.annotators_.index("ann3")
    assert np.diag(ds.errors_[good]).min() > 0.8
    assert np.allclose(ds.errors_.sum(axis=2), 1.0)
    assert ds.errors_[spam][0].max() < 0.6  # a spammer's answers say little about the truth


def test_learns_a_systematic_swap(rng: np.random.Generator) -> None:
    data, truth = _simulate(rng, [0.9, 0.9, "swap"])
    ds = DawidSkene().fit(data)
    swapper = ds.annotators_.index("ann2")
    assert ds.errors_[swapper][0, 1] > 0.9 and ds.errors_[swapper][1, 0] > 0.9
    assert float((ds.labels_.to_numpy() == truth).mean()) > 0.97


def test_unanimous_answers_are_kept(rng: np.random.Generator) -> None:
    rows = [(u, a, v) for u, v in [("x", "yes"), ("y", "no"), ("z", "yes")] for a in ("a", "b", "c")]
    ds = DawidSkene().fit(pd.DataFrame(rows, columns=["unit", "annotator", "value"]))
    assert ds.labels_.to_dict() == {"x": "yes", "y": "no", "z": "yes"}
    assert (ds.probas_.max(axis=1) > 0.99).all()
    assert ds.fit_predict_proba(pd.DataFrame(rows, columns=["unit", "annotator", "value"])).shape == (3, 2)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="missing annotator"):
        DawidSkene().fit(pd.DataFrame({"unit": [1], "value": [1]}))
    with pytest.raises(ValueError, match="no answers"):
        DawidSkene().fit(pd.DataFrame({"unit": [1], "annotator": ["a"], "value": [None]}))
    with pytest.raises(ValueError, match="n_iter"):
        DawidSkene(n_iter=0)


@pytest.mark.parametrize("n_iter", [1, 5, 50])
def test_matches_crowd_kit_without_smoothing(rng: np.random.Generator, n_iter: int) -> None:
    # crowd-kit's own stopping rule can stop early when its clipped ELBO dips, so both run a
    # fixed number of EM iterations; crowd-kit clips posteriors at 1e-10 when it reports them.
    from crowdkit.aggregation import DawidSkene as CrowdKitDawidSkene

    data, _ = _simulate(rng, [0.9, 0.8, 0.6, 0.0], n_units=200)
    data = data.sample(frac=0.8, random_state=1)  # uneven numbers of answers per unit
    theirs = CrowdKitDawidSkene(n_iter=n_iter, tol=-np.inf).fit(
        data.rename(columns={"unit": "task", "annotator": "worker", "value": "label"})
    )
    ours = DawidSkene(n_iter=n_iter, tol=1e-300, smoothing=0.0).fit(data)
    assert theirs.probas_ is not None and theirs.labels_ is not None
    p_theirs = theirs.probas_.sort_index()
    p_ours = ours.probas_.loc[p_theirs.index, p_theirs.columns]
    assert ours.n_iter_ == n_iter
    assert np.abs(p_ours.to_numpy() - p_theirs.to_numpy()).max() < 1e-9
    assert (ours.labels_.loc[p_theirs.index] == theirs.labels_.sort_index()).all()


def test_anchors_hold_their_class_and_teach_the_confusion(rng: np.random.Generator) -> None:
    data, truth = _simulate(rng, [0.9, 0.5, "swap"], n_units=200)
    units = sorted(data["unit"].unique())
    known = pd.Series(truth[:40], index=units[:40])
    ds = DawidSkene().fit(data, known=known)
    assert (ds.labels_.loc[units[:40]].to_numpy() == truth[:40]).all()
    assert np.allclose(ds.probas_.loc[units[:40]].max(axis=1), 1.0)
    plain = DawidSkene().fit(data)
    # anchored, the learned accuracy of the careful annotator is closer to its true 0.9 + 0.1/3
    careful = ds.annotators_.index("ann0")
    assert abs(np.diag(ds.errors_[careful]).mean() - 0.933) <= abs(np.diag(plain.errors_[careful]).mean() - 0.933) + 0.02
    # known units nobody answered are ignored; a class nobody answered is refused
    DawidSkene().fit(data, known=pd.Series({"nobody": 0}))
    with pytest.raises(ValueError, match="not an answered value"):
        DawidSkene().fit(data, known=pd.Series({units[0]: 7}))
