"""Annotator drift and judge comparison on simulated annotation tables."""

from __future__ import annotations

import numpy as np
import pytest

from brun_label.agreement.annotators import loo_agreement, masi_similarity
from brun_label.agreement.distances import masi_distance
from brun_label.agreement.summary import summarize
from brun_label.rubrics import load_rubric
from brun_label.table import make_table
from tests.agreement.examples import FLAGS, synthetic_table

RUBRIC = load_rubric("de-escalation")


def test_drifter_and_spammer_are_flagged_good_annotators_are_not(rng: np.random.Generator) -> None:
    table = synthetic_table(rng, 80, ("ann1", "ann2", "ann3", "drift", "spam"), drifter="drift", spammer="spam")
    s = summarize(table, rubric=RUBRIC)
    ann = s["annotators"]
    assert ann["drift"]["flagged"] and ann["spam"]["flagged"]
    assert not any(ann[a]["flagged"] for a in ("ann1", "ann2", "ann3"))
    tone = {a: ann[a]["questions"]["tone_zone"] for a in ann}
    assert tone["drift"]["mean_bias"] > 0.5
    assert any("higher than the others" in r for r in tone["drift"]["reasons"])
    assert tone["spam"]["agreement_with_consensus"] < tone["ann1"]["agreement_with_consensus"] - 0.3
    assert tone["spam"]["alpha_without"] > s["questions"]["tone_zone"]["krippendorff_alpha"]


def test_flags_credit_is_one_minus_masi_to_the_others_majority(rng: np.random.Generator) -> None:
    sets = [[frozenset(f for f in FLAGS if rng.random() < 0.35) for _ in range(40)] for _ in range(4)]
    values = np.array(sets, dtype=object)
    res = loo_agreement(values, flags=True)
    for a in range(4):
        credits = []
        for u in range(40):
            others = [values[b, u] for b in range(4) if b != a]
            majority = {f for f in FLAGS if sum(f in o for o in others) * 2 > len(others)}
            credits.append(1.0 - masi_distance(values[a, u], majority))
        assert res["agreement_with_consensus"][a] == pytest.approx(float(np.mean(credits)), abs=1e-12)


def test_masi_similarity_matches_masi_distance(rng: np.random.Generator) -> None:
    a = rng.random((4, 200)) < 0.4
    b = rng.random((4, 200)) < 0.4
    fast = masi_similarity(a, b)
    for u in range(200):
        sa = {i for i in range(4) if a[i, u]}
        sb = {i for i in range(4) if b[i, u]}
        assert fast[u] == pytest.approx(1.0 - masi_distance(sa, sb), abs=1e-12)


def test_a_perfect_judge(rng: np.random.Generator) -> None:
    rows = []
    for u in range(30):
        truth = int(rng.integers(-2, 3))
        for a in ("ann1", "ann2", "ann3", "judge:perfect"):
            value = truth if a != "ann3" or u % 5 else int(np.clip(truth + 1, -2, 2))
            rows.append({"item_id": f"s{u}", "candidate_id": "c", "question": "tone_zone", "annotator": a, "value": value})
    s = summarize(make_table(rows), rubric=RUBRIC)
    j = s["judge"]["tone_zone"]
    assert j["judges"] == ["judge:perfect"]
    assert j["agreement_with_consensus"] == 1.0
    assert j["by_judge"]["judge:perfect"]["cohen_kappa_vs_consensus"] == 1.0
    assert j["by_judge"]["judge:perfect"]["mean_bias"] == pytest.approx(
        -np.mean([1 / 3 if u % 5 == 0 and True else 0 for u in range(30)]), abs=0.1
    )
    assert j["alpha_with_judge"] >= j["alpha_humans"]
    conf = np.array(j["by_judge"]["judge:perfect"]["confusion"]["consensus_by_judge"])
    assert conf.trace() == conf.sum() == 30


def test_judge_never_changes_human_numbers(rng: np.random.Generator) -> None:
    table = synthetic_table(rng, 40)
    with_judge = summarize(table, rubric=RUBRIC)
    without = summarize(table[~table["annotator"].str.startswith("judge:")], rubric=RUBRIC)
    for q in ("tone_zone", "liability_flags", "preference"):
        a, b = with_judge["questions"][q], without["questions"][q]
        for key in ("krippendorff_alpha", "percent_agreement", "fleiss_kappa", "gwet_ac1", "cohen_kappa_pairwise"):
            assert a[key] == b[key]
    assert set(with_judge["judge"]) == {"tone_zone", "liability_flags", "preference"}
    assert without["judge"] == {}
    assert "judge:gpt-4o" not in with_judge["annotators"]
