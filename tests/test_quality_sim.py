"""The quality-loop simulation: decisions see only the table; gold and routing behave as documented."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from brun_label import quality_sim
from brun_label.agreement.gold import below_threshold, gold_scores, wilson_interval
from brun_label.quality_sim import TrueCandidate, default_pool, make_world, run_strategy
from brun_label.routing import plan_routing
from brun_label.rubrics import load_rubric
from brun_label.table import make_table


def test_the_truth_never_reaches_the_decisions(monkeypatch):
    world = make_world(80, seed=3)
    original = quality_sim.answer_rows
    answers: dict[tuple[str, str, int], list] = {}

    def recorded(worker, item, rng):  # answers depend on the worker and item id only
        key = (worker.name, item.id, 0)
        if key not in answers:
            answers[key] = original(worker, item, np.random.default_rng(abs(hash(key)) % 2**32))
        return answers[key]

    monkeypatch.setattr(quality_sim, "answer_rows", recorded)
    first = run_strategy(world, default_pool(), "adaptive", seed=5)
    flipped = [dataclasses.replace(it, candidates=tuple(TrueCandidate(c.id, 2 - abs(c.zone), c.flags)
                                                        for c in it.candidates)) for it in world]
    second = run_strategy(flipped, default_pool(), "adaptive", seed=5)
    # same table -> same spending and same pairs; only the score against the truth changes
    assert (first.judgments, first.pairs) == (second.judgments, second.pairs)
    assert first.correct_pairs != second.correct_pairs


def test_adaptive_spends_less_per_pair_and_gold_removes_the_careless_worker():
    world = make_world(150, seed=11)
    fixed = run_strategy(world, default_pool(), "fixed", seed=1)
    adaptive = run_strategy(world, default_pool(), "adaptive", seed=1)
    gold = run_strategy(world, default_pool(), "adaptive", seed=1, n_gold=20)
    assert fixed.judgments == 3 * 150
    assert adaptive.judgments_per_pair < fixed.judgments_per_pair
    assert gold.excluded == ["sim-careless"]
    assert gold.judgments > adaptive.judgments  # gold answers are paid for


@given(st.integers(0, 50), st.integers(1, 50))
def test_wilson_interval_contains_the_estimate(k, extra):
    n = k + extra
    lo, hi = wilson_interval(np.array([k]), np.array([n]))
    assert 0 <= lo[0] <= k / n <= hi[0] <= 1


def test_gold_scores_use_the_latest_answer_and_skip_judges_in_the_threshold():
    gold = pd.DataFrame({"item_id": ["g1"], "candidate_id": ["a"], "question": ["tone_zone"], "value": [0]})
    t = make_table([
        {"item_id": "g1", "candidate_id": "a", "question": "tone_zone", "annotator": "ana", "value": 2,
         "submitted_at": "2026-01-01T00:00:00Z"},
        {"item_id": "g1", "candidate_id": "a", "question": "tone_zone", "annotator": "ana", "value": 0,
         "submitted_at": "2026-01-02T00:00:00Z"},
        {"item_id": "g1", "candidate_id": "a", "question": "tone_zone", "annotator": "judge:m", "value": 2},
        {"item_id": "g1", "candidate_id": "a", "question": "tone_zone", "annotator": "bo", "value": 1,
         "status": "draft"}])
    s = gold_scores(t, gold, load_rubric("de-escalation"))
    assert s[["annotator", "n", "exact"]].values.tolist() == [["ana", 1, 1.0], ["judge:m", 1, 0.0]]
    assert below_threshold(s, 0.5, min_items=1) == []


@settings(max_examples=50)
@given(st.lists(st.tuples(st.sampled_from(["exported", "split", "tie", "both_bad", "too_few_annotators"]),
                          st.integers(0, 6), st.integers(1, 5)), min_size=1, max_size=20))
def test_routing_gives_each_unclear_finished_item_exactly_one_more(rows):
    items = pd.DataFrame({"item_id": [f"s{i}" for i in range(len(rows))], "reason": [r for r, _, _ in rows]})
    voters = {f"s{i}": v for i, (_, v, _) in enumerate(rows)}
    targets = {f"s{i}": t for i, (_, _, t) in enumerate(rows)}
    plan = plan_routing(items, voters, targets, max_overlap=5)
    states = plan.extend + plan.clear + plan.exhausted + plan.waiting
    assert sorted(states) == sorted(items["item_id"])  # every item in exactly one state
    for item in plan.extend:
        assert plan.targets[item] == targets[item] + 1 <= 5
    for i, (reason, v, t) in enumerate(rows):
        if f"s{i}" in plan.clear:
            assert reason in ("exported", "tie", "both_bad") and v >= t


def test_the_weighted_consensus_lets_adaptive_overlap_stop_at_two_without_losing_precision():
    world = make_world(200, seed=21)
    counted = run_strategy(world, default_pool(), "adaptive", seed=2)
    weighed = run_strategy(world, default_pool(), "adaptive", seed=2, consensus="dawid-skene")
    fixed = run_strategy(world, default_pool(), "fixed", seed=2)
    assert weighed.strategy == "adaptive (dawid-skene)"
    # 200 items give ~200 pairs: one wrong pair is half a point, so compare wrong pairs, not shares
    assert weighed.pairs - weighed.correct_pairs <= counted.pairs - counted.correct_pairs
    assert weighed.precision >= 0.99 and weighed.pairs > counted.pairs
    assert weighed.judgments_per_pair < 0.8 * fixed.judgments_per_pair
