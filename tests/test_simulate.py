from collections import Counter

from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.simulate import DEMO_ANNOTATORS, SimulatedAnnotator, simulate_answers


def samples(n=60):
    return [sample_from_dict({"id": f"s{i}", "prompt": f"Complaint {i}", "candidates": [
        {"id": "good", "text": "calm and firm", "persona": "Diplomatic_Firmness"},
        {"id": "soft", "text": "sorry sorry", "persona": "Over_Apologetic_Doormat"},
        {"id": "hard", "text": "see clause 7", "persona": "Defensive_Robot_Lawyer"}]}) for i in range(n)]


def test_deterministic_and_complete():
    rubric = load_rubric("de-escalation")
    a = simulate_answers(samples(), rubric, DEMO_ANNOTATORS)
    assert a == simulate_answers(samples(), rubric, DEMO_ANNOTATORS)
    # 3 annotators × 60 items × (3 candidates × 2 questions + 1 preference)
    assert len(a) == 3 * 60 * 7
    assert {r["annotator"] for r in a} == {"sim-careful-ana", "sim-careful-ben", "sim-careless-cy"}


def test_careful_annotators_agree_more_than_the_careless_one():
    rubric = load_rubric("de-escalation")
    rows = simulate_answers(samples(), rubric, DEMO_ANNOTATORS)
    tone = {(r["annotator"], r["item_id"], r["candidate_id"]): r["value"] for r in rows if r["question"] == "tone_zone"}
    expected = {"good": 0, "soft": -2, "hard": 2}
    hits = Counter(a for (a, _, c), v in tone.items() if v == expected[c])
    assert hits["sim-careful-ana"] > hits["sim-careless-cy"] + 30
    assert hits["sim-careful-ben"] > hits["sim-careless-cy"] + 20


def test_noiseless_annotator_prefers_the_in_zone_candidate():
    rows = simulate_answers(samples(5), load_rubric("de-escalation"), [SimulatedAnnotator("sim-x", noise=0)])
    assert {r["value"] for r in rows if r["question"] == "preference"} == {"good"}
