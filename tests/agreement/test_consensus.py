"""Consensus: majority vote rules, Dawid–Skene and Bradley–Terry methods on annotation tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from brun_label.agreement.consensus import consensus, flags_majority, majority_vote
from brun_label.rubrics import load_rubric
from brun_label.table import make_table
from tests.agreement.examples import synthetic_table

RUBRIC = load_rubric("de-escalation")


def _rows(question: str, votes: dict[str, list[object]], cand: str = "c") -> list[dict[str, Any]]:
    return [
        {"item_id": f"s{u}", "candidate_id": cand, "question": question, "annotator": a, "value": v}
        for a, vs in votes.items() for u, v in enumerate(vs) if v is not None
    ]


def test_majority_ties_break_towards_the_median_on_ordinal_scales() -> None:
    values = np.array([[-2.0, 1.0], [-2.0, 1.0], [1.0, 2.0], [1.0, 2.0], [0.0, np.nan]])
    mv = majority_vote(values, level="ordinal")
    assert mv.value == [1, 1]  # -2,-2,0,1,1: median 0, nearest mode 1; second unit: 1 vs 2 → median 1
    assert mv.tied.tolist() == [True, True]
    assert mv.support.round(3).tolist() == [0.4, 0.5]
    nominal = majority_vote(values, level="nominal")
    assert nominal.value == [-2, 1]  # first in sorted order


def test_flags_majority_and_support() -> None:
    s = [frozenset({"a"}), frozenset({"a", "b"}), frozenset({"b"}), frozenset()]
    values = np.array([[s[0]], [s[1]], [s[2]], [s[3]]], dtype=object)
    mv = flags_majority(values)
    assert mv.value == [[]]  # a and b are ticked by 2 of 4: no strict majority
    assert mv.tied.tolist() == [True]
    assert mv.n_support.tolist() == [1] and mv.n_annotators.tolist() == [4]


def test_table_consensus_columns_and_judge_exclusion() -> None:
    rows = _rows("tone_zone", {"ann1": [0, 1], "ann2": [0, 2], "ann3": [1, 2], "judge:x": [2, 2]})
    rows += _rows("tone_zone", {"judge:x": [0]}, cand="only_judge")
    rows += [{**_rows("tone_zone", {"ann4": [-2]})[0], "status": "draft"}]
    out = consensus(make_table(rows), rubric=RUBRIC)
    assert list(out.columns) == [
        "item_id", "candidate_id", "question", "value", "support", "n_support", "n_annotators", "tied",
        "probability", "method",
    ]
    assert out["value"].tolist() == [0, 2]
    assert out["n_annotators"].tolist() == [3, 3]  # the judge and the draft row do not vote
    assert "only_judge" not in out["candidate_id"].tolist()
    assert out["probability"].isna().all()
    assert isinstance(out["value"].iloc[0], int)


def test_whole_table_with_every_question_kind(rng: np.random.Generator) -> None:
    table = synthetic_table(rng, 30)
    for method in ("majority", "dawid_skene"):
        out = consensus(table, method=method, rubric=RUBRIC)
        assert set(out["question"]) == {"tone_zone", "liability_flags", "preference"}
        assert len(out) == 30 * 2 * 2 + 30
        flags = out[out["question"] == "liability_flags"]["value"]
        assert all(isinstance(v, list) for v in flags)
        prefs = out[out["question"] == "preference"]
        assert prefs["candidate_id"].eq("").all()
        assert (out["support"] >= 0).all() and (out["support"] <= 1).all()
        if method == "majority":  # a per-flag majority set may be one nobody gave exactly
            assert (out[out["question"] != "liability_flags"]["support"] > 0).all()
        assert (out["n_support"] <= out["n_annotators"]).all()
        if method == "dawid_skene":
            assert out["probability"].between(0, 1).all()


def test_dawid_skene_outvotes_spammers(rng: np.random.Generator) -> None:
    truth = rng.choice(["calm", "curt", "warm"], size=300, p=[0.5, 0.3, 0.2])
    votes: dict[str, list[object]] = {"good1": [], "good2": [], "spam1": [], "spam2": [], "spam3": []}
    for t in truth:
        votes["good1"].append(t if rng.random() < 0.9 else "curt")
        votes["good2"].append(t if rng.random() < 0.85 else "warm")
        for s in ("spam1", "spam2", "spam3"):
            votes[s].append(str(rng.choice(["calm", "curt", "warm"])))
    table = make_table(_rows("register", votes))
    mv = consensus(table, method="majority").sort_values("item_id", key=lambda s: s.str[1:].astype(int))
    ds = consensus(table, method="dawid_skene").sort_values("item_id", key=lambda s: s.str[1:].astype(int))
    mv_acc = float((mv["value"].to_numpy() == truth).mean())
    ds_acc = float((ds["value"].to_numpy() == truth).mean())
    assert ds_acc > mv_acc + 0.05


def _pref_table(votes: dict[str, list[str | None]]) -> Any:
    rows: list[dict[str, Any]] = []
    n_items = max(len(v) for v in votes.values())
    for a, vs in votes.items():
        for u, v in enumerate(vs):
            if v is not None:
                rows.append({"item_id": f"s{u}", "candidate_id": "", "question": "preference", "annotator": a,
                             "value": v})
    for u in range(n_items):
        rows += [{"item_id": f"s{u}", "candidate_id": c, "question": "tone_zone", "annotator": "ann1", "value": 0}
                 for c in (f"a{u}", f"b{u}")]
    return make_table(rows)


def test_preference_model_allows_ties_and_both_bad() -> None:
    votes: dict[str, list[str | None]] = {
        "ann1": ["a0", "a1", "tie", "both_bad", "a4", "b5"],
        "ann2": ["a0", "b1", "tie", "both_bad", "a4", "b5"],
        "ann3": ["a0", "tie", "b2", "tie", "a4", "b5"],
        "ann4": ["b0", None, "tie", "both_bad", "b4", "b5"],
    }
    out = consensus(_pref_table(votes), method="dawid_skene", rubric=RUBRIC)
    pref = out[out["question"] == "preference"].set_index("item_id")
    assert pref.loc["s0", "value"] == "a0"
    assert pref.loc["s2", "value"] == "tie"
    assert pref.loc["s3", "value"] == "both_bad"
    assert pref.loc["s5", "value"] == "b5"
    assert pref.loc["s1", "value"] in ("a1", "b1", "tie")
    assert pref["probability"].between(0, 1).all()
    assert pref.loc["s5", "probability"] > pref.loc["s0", "probability"]


def test_preference_model_pools_the_tie_rate_across_items() -> None:
    # Item s0 is split between "a0" and "tie": majority vote cannot decide, the model can.
    decisive: dict[str, list[str | None]] = {"ann1": ["a0"], "ann2": ["tie"]}
    tie_prone: dict[str, list[str | None]] = {"ann1": ["a0"], "ann2": ["tie"]}
    for u in range(1, 9):
        decisive["ann1"].append(f"a{u}")
        decisive["ann2"].append(f"a{u}")
        tie_prone["ann1"].append("tie")
        tie_prone["ann2"].append("tie")
    rare = consensus(_pref_table(decisive), method="dawid_skene", rubric=RUBRIC)
    common = consensus(_pref_table(tie_prone), method="dawid_skene", rubric=RUBRIC)
    first = lambda df: df[(df["question"] == "preference") & (df["item_id"] == "s0")].iloc[0]  # noqa: E731
    assert first(rare)["value"] == "a0"
    assert first(common)["value"] == "tie"
    majority = consensus(_pref_table(decisive), method="majority", rubric=RUBRIC)
    assert bool(first(majority)["tied"])


def test_bad_method() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        consensus(make_table(_rows("q", {"a": [1]})), method="vote")


def test_empty_result_has_the_columns() -> None:
    out = consensus(make_table(_rows("tone", {"judge:x": [1]})))
    assert out.empty and "support" in out.columns
    assert math.isnan(majority_vote(np.array([[np.nan]])).support[0])
