from collections import Counter

from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.simulate import (
    DEMO_ANNOTATORS,
    SIMULATED_PATTERN,
    SimulatedAnnotator,
    simulate_answers,
)


def samples(n=60):
    return [sample_from_dict({"id": f"s{i}", "prompt": f"Complaint {i}", "candidates": [
        {"id": "good", "text": "calm and firm", "persona": "Diplomatic_Firmness"},
        {"id": "soft", "text": "sorry sorry", "persona": "Over_Apologetic_Doormat"},
        {"id": "hard", "text": "see clause 7", "persona": "Defensive_Robot_Lawyer"}]}) for i in range(n)]


EXPECT = {"Diplomatic_Firmness": (0, ()), "Over_Apologetic_Doormat": (-2, ("admits_fault",)),
          "Defensive_Robot_Lawyer": (2, ("blames_customer",))}


def test_deterministic_and_complete():
    rubric = load_rubric("de-escalation")
    a = simulate_answers(samples(), rubric, DEMO_ANNOTATORS, expectations=EXPECT)
    assert a == simulate_answers(samples(), rubric, DEMO_ANNOTATORS, expectations=EXPECT)
    # 3 annotators × 60 items × (3 candidates × 2 questions + 1 preference)
    assert len(a) == 3 * 60 * 7
    assert {r["annotator"] for r in a} == {"sim-careful-ana", "sim-careful-ben", "sim-careless-cy"}


def test_careful_annotators_agree_more_than_the_careless_one():
    rubric = load_rubric("de-escalation")
    rows = simulate_answers(samples(), rubric, DEMO_ANNOTATORS, expectations=EXPECT)
    tone = {(r["annotator"], r["item_id"], r["candidate_id"]): r["value"] for r in rows if r["question"] == "tone_zone"}
    expected = {"good": 0, "soft": -2, "hard": 2}
    hits = Counter(a for (a, _, c), v in tone.items() if v == expected[c])
    # 180 tone answers each: ana slips 5%, ben 12%; cy answers 20% at random.
    assert hits["sim-careful-ana"] >= 165
    assert hits["sim-careful-ana"] > hits["sim-careful-ben"] > hits["sim-careless-cy"]


def test_noiseless_annotator_prefers_the_in_zone_candidate():
    rows = simulate_answers(samples(5), load_rubric("de-escalation"), [SimulatedAnnotator("sim-x", noise=0)],
                            expectations=EXPECT)
    assert {r["value"] for r in rows if r["question"] == "preference"} == {"good"}


def test_unknown_persona_follows_the_judge_then_the_target():
    s = sample_from_dict({"id": "s", "prompt": "p", "candidates": [
        {"id": "j", "text": "x", "persona": "Mystery", "judge": {"tone_zone": 1, "liability_flags": ["speculates_cause"]}},
        {"id": "n", "text": "y", "persona": "Mystery"}]})
    rows = simulate_answers([s], load_rubric("de-escalation"), [SimulatedAnnotator("sim-x", noise=0)])
    got = {(r["candidate_id"], r["question"]): r["value"] for r in rows}
    assert got[("j", "tone_zone")] == 1 and got[("j", "liability_flags")] == ["speculates_cause"]
    assert got[("n", "tone_zone")] == 0 and got[("n", "liability_flags")] == []
    assert got[("", "preference")] == "n"


def test_simulated_answers_exported_as_the_demo_does_give_a_card_that_says_simulated(tmp_path):
    from fnmatch import fnmatchcase

    from brun_label.exporters.dpo import ExportOptions, export_dpo
    from brun_label.table import make_table

    assert all(fnmatchcase(a.name, SIMULATED_PATTERN) for a in DEMO_ANNOTATORS)
    rubric = load_rubric("de-escalation")
    rows = simulate_answers(samples(20), rubric, DEMO_ANNOTATORS[:2], expectations=EXPECT)
    rows += simulate_answers(samples(20), rubric, [SimulatedAnnotator("sim-x", noise=0)], expectations=EXPECT)
    summary = export_dpo(make_table(rows), samples(20), rubric, tmp_path / "pairs.jsonl",
                         ExportOptions(min_alpha=None, simulated_annotators=(SIMULATED_PATTERN,)))
    assert summary["annotators"]["people"] == 0 and summary["annotators"]["simulated"] == 3
    card = (tmp_path / "README.md").read_text()
    assert "from simulated annotators (not people)" in card and "human" not in card.lower()
