"""The export's reliability-weighted consensus (``Gates(consensus="dawid-skene")``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from brun_label.exporters.pairs import (
    Anchors,
    GateConfigError,
    Gates,
    candidates_frame,
    select_pairs,
)
from brun_label.quality_sim import Worker, answer_rows, make_world
from brun_label.rubrics import load_rubric
from brun_label.table import make_table
from tests.exporters.helpers import item_rows

RUBRIC = load_rubric("de-escalation")
DS = Gates(min_annotators=2, consensus="dawid-skene")
CAREFUL = [Worker(f"careful-{i}", "careful", 0.03) for i in range(3)]
CARELESS = Worker("careless", "careless", 0.1)


def _history(seed: int = 0, n: int = 120) -> list[dict]:
    """A table's worth of answers that lets the model learn who is reliable."""
    rng = np.random.default_rng(seed)
    world = make_world(n, seed=seed, prefix="h")
    return [row for item in world for w in [*CAREFUL, CARELESS] for row in answer_rows(w, item, rng)]


def _select(rows: list[dict], items: dict[str, list[str]], gates: Gates):
    world_items = {}
    for r in rows:
        if r["candidate_id"]:
            world_items.setdefault(r["item_id"], []).append(r["candidate_id"])
    world_items = {k: list(dict.fromkeys(v)) for k, v in world_items.items()}
    world_items.update(items)
    return select_pairs(make_table(rows), candidates_frame(world_items.items()), RUBRIC, gates)


def _pairs_of(sel, item: str) -> list[tuple[str, str]]:
    p = sel.pairs[sel.pairs["item_id"] == item]
    return list(zip(p["chosen_id"], p["rejected_id"], strict=True))


def test_two_careful_people_settle_an_item_a_careful_and_a_careless_one_cannot() -> None:
    history = _history()
    two_careful = item_rows("x1", {"a": [0, 0], "b": [-2, -2]}, pref=["a", "a"], annotators=["careful-0", "careful-1"])
    mixed = item_rows("x2", {"a": [0, 0], "b": [-2, -2]}, pref=["a", "a"], annotators=["careful-0", "careless"])
    sel = _select(history + two_careful + mixed, {"x1": ["a", "b"], "x2": ["a", "b"]}, DS)
    assert _pairs_of(sel, "x1") == [("a", "b")]
    assert _pairs_of(sel, "x2") == []
    reasons = dict(zip(sel.items["item_id"], sel.items["reason"], strict=True))
    assert reasons["x2"] == "split"
    cands = sel.candidates.set_index(["item_id", "candidate_id"])

    def sure(item: str) -> float:
        return min(cands.loc[(item, "a"), "p_good"], 1 - cands.loc[(item, "b"), "p_good"])

    assert sure("x1") > 0.99 > sure("x2")
    # counted votes cannot tell the two apart
    share = _select(history + two_careful + mixed, {"x1": ["a", "b"], "x2": ["a", "b"]}, Gates(min_annotators=2))
    assert _pairs_of(share, "x1") == _pairs_of(share, "x2") == [("a", "b")]


def test_a_careless_dissent_does_not_block_what_careful_people_agree_on() -> None:
    rows = _history() + item_rows(
        "x1", {"a": [0, 0, 0, -2], "b": [-2, -2, -2, 0]}, pref=["a", "a", "a", "b"],
        annotators=["careful-0", "careful-1", "careful-2", "careless"])
    assert _pairs_of(_select(rows, {"x1": ["a", "b"]}, DS), "x1") == [("a", "b")]
    # counted, one dissent in four blocks the pair (80% share) and the vote for b contradicts it
    assert _pairs_of(_select(rows, {"x1": ["a", "b"]}, Gates()), "x1") == []


def test_preference_votes_of_careful_people_still_contradict_a_pair() -> None:
    rows = _history() + item_rows(
        "x1", {"a": [0, 0, 0], "b": [-2, -2, -2]}, pref=["b", "both_bad", "a"],
        annotators=["careful-0", "careful-1", "careful-2"])
    sel = _select(rows, {"x1": ["a", "b"]}, DS)
    assert _pairs_of(sel, "x1") == []
    assert dict(zip(sel.items["item_id"], sel.items["reason"], strict=True))["x1"] == "preference_contradicts"
    row = sel.candidates.set_index(["item_id", "candidate_id"]).loc[("x1", "a")]
    assert row["verdict"] == "good"


def test_below_min_annotators_is_thin_whatever_the_posterior() -> None:
    rows = _history() + item_rows("x1", {"a": [0], "b": [-2]}, annotators=["careful-0"])
    sel = _select(rows, {"x1": ["a", "b"]}, DS)
    assert _pairs_of(sel, "x1") == []
    assert set(sel.candidates.set_index("item_id").loc["x1", "verdict"]) == {"thin"}


def test_reported_vote_counts_stay_counts() -> None:
    rows = _history() + item_rows("x1", {"a": [0, 0, 0], "b": [-2, -2, -2]}, pref=["a", "a", "tie"],
                                  annotators=["careful-0", "careful-1", "careful-2"])
    sel = _select(rows, {"x1": ["a", "b"]}, DS)
    pair = sel.pairs[sel.pairs["item_id"] == "x1"].iloc[0]
    assert (pair["n_preference_votes"], pair["n_contradicting"]) == (3, 1)


def test_gate_settings_are_checked() -> None:
    with pytest.raises(GateConfigError, match="min_posterior"):
        Gates(consensus="dawid-skene", min_posterior=1.0)
    with pytest.raises(GateConfigError, match="consensus"):
        Gates(consensus="mace")
    assert Gates(consensus="dawid-skene").as_dict()["min_posterior"] == 0.99
    assert "min_posterior" not in Gates().as_dict()


def test_a_table_too_small_to_learn_reliabilities_clears_nothing_on_two_votes() -> None:
    # six items, two people who always agree: nothing shows how reliable they are, so the weighted
    # consensus stays unsure and adaptive overlap asks for more people (safe, not cheap)
    rows = [r for i in range(6) for r in item_rows(f"s{i}", {"a": [0, 0], "b": [-2, -2]}, pref=["a", "a"],
                                                   annotators=["ana", "bo"])]
    mixed = item_rows("s6", {"a": [0, -2], "b": [-2, 0]}, pref=["a", "b"], annotators=["ana", "bo"])
    sel = _select(rows + mixed, {}, DS)
    assert sel.pairs.empty and set(sel.items["reason"]) == {"split"}
    assert _select(rows + mixed, {}, Gates(min_annotators=2)).pairs["item_id"].nunique() == 6


def _anchors_for(n: int = 10) -> tuple[list[dict], Anchors]:
    """Gold items that ana always gets right and cy half the time."""
    rows: list[dict] = []
    known = []
    for i in range(n):
        cy = [0, -2] if i % 2 else [-2, 0]
        rows += item_rows(f"g{i}", {"a": [0, cy[0]], "b": [-2, cy[1]]}, pref=["a", "a" if i % 2 else "b"],
                          annotators=["ana", "cy"])
        known += [{"item_id": f"g{i}", "candidate_id": "a", "good": True},
                  {"item_id": f"g{i}", "candidate_id": "b", "good": False}]
    return rows, Anchors(rows=make_table(rows), known=pd.DataFrame(known))


def test_gold_anchors_teach_the_model_who_is_reliable_and_never_become_pairs() -> None:
    # a small table: ana and bo agree on eight items, ana and cy disagree on x1
    x1 = item_rows("x1", {"a": [0, -2], "b": [-2, 0]}, pref=["a", "b"], annotators=["ana", "cy"])
    agree = [r for i in range(8) for r in item_rows(f"y{i}", {"a": [0, 0], "b": [-2, -2]}, pref=["a", "a"],
                                                   annotators=["ana", "bo"])]
    items = {"x1": ["a", "b"], **{f"y{i}": ["a", "b"] for i in range(8)}}
    cands = candidates_frame(items.items())
    plain = select_pairs(make_table(x1 + agree), cands, RUBRIC, DS)
    assert plain.pairs.empty  # too little data to trust anyone yet
    _, anchors = _anchors_for()
    anchored = select_pairs(make_table(x1 + agree), cands, RUBRIC, DS, anchors=anchors)
    # gold shows ana reliable: what she and bo agree on is clear; cy's dissent on x1 says little
    # either way, so x1 (ana's word alone) stays open
    assert sorted(anchored.pairs["item_id"]) == [f"y{i}" for i in range(8)]
    for frame in (anchored.pairs, anchored.kto, anchored.items, anchored.candidates):
        assert not frame["item_id"].astype(str).str.startswith("g").any()
    assert anchored.counts["items"] == 9 and anchored.counts["gold_anchor_items"] == 10
    # the counted consensus ignores anchors entirely
    share = Gates(min_annotators=2)
    with_gold = select_pairs(make_table(x1 + agree), cands, RUBRIC, share, anchors=anchors)
    assert with_gold.counts == select_pairs(make_table(x1 + agree), cands, RUBRIC, share).counts


def test_a_gold_item_that_is_also_a_sample_is_refused() -> None:
    rows, anchors = _anchors_for(2)
    with pytest.raises(ValueError, match="gold item 'g0' is also a sample"):
        select_pairs(make_table(rows), candidates_frame([("g0", ["a", "b"])]), RUBRIC, DS, anchors=anchors)
