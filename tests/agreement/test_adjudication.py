"""Low-agreement units: no majority, wide spread, ordering and contents."""

from __future__ import annotations

from typing import Any

from brun_label.agreement.adjudication import low_agreement_units, spread_threshold
from brun_label.agreement.consensus import majority_vote
from brun_label.agreement.questions import split_questions
from brun_label.rubrics import load_rubric
from brun_label.table import make_table

RUBRIC = load_rubric("de-escalation")


def _table(question: str, units: list[tuple[object, ...]], judge: list[object] | None = None) -> Any:
    rows = [
        {"item_id": f"s{u}", "candidate_id": "c" if question != "preference" else "", "question": question,
         "annotator": f"ann{a}", "value": v}
        for u, votes in enumerate(units) for a, v in enumerate(votes) if v is not None
    ]
    for u, v in enumerate(judge or []):
        rows.append({"item_id": f"s{u}", "candidate_id": "c", "question": question, "annotator": "judge:j", "value": v})
    return make_table(rows)


def _low(question: str, units: list[tuple[object, ...]], judge: list[object] | None = None) -> list[dict[str, Any]]:
    q = split_questions(_table(question, units, judge), rubric=RUBRIC)[0][question]
    return low_agreement_units(q, majority_vote(q.values, level=q.level))


def test_tone_zone_rules() -> None:
    units: list[tuple[object, ...]] = [(0, 0, 0), (0, 0, 2), (-1, 0, 1), (0, 1, None), (0, None, None), (1, 1, 0)]
    low = _low("tone_zone", units, judge=[0, 0, 0, 0, 0, 0])
    assert [e["item_id"] for e in low] == ["s2", "s3", "s1"]
    by = {e["item_id"]: e for e in low}
    assert by["s1"]["reasons"] == ["ratings span 2 scale steps (0 to 2)"]
    assert by["s2"]["reasons"][0].startswith("no majority")
    assert by["s3"]["answers"] == {"ann0": 0, "ann1": 1}
    assert by["s3"]["judge"] == {"judge:j": 0}
    assert by["s1"]["consensus"] == 0 and round(by["s1"]["support"], 3) == 0.667
    assert round(by["s2"]["disagreement"], 3) == 1.0


def test_flags_and_preferences_use_no_majority_only() -> None:
    flags = _low("liability_flags", [(["admits_fault"], [], ["blames_customer"]), (["admits_fault"], ["admits_fault"], [])])
    assert [e["item_id"] for e in flags] == ["s0"]
    assert flags[0]["answers"]["ann1"] == []
    prefs = _low("preference", [("tie", "both_bad", "tie"), ("tie", "both_bad", None)])
    assert [e["item_id"] for e in prefs] == ["s1"]


def test_spread_threshold_grows_with_the_scale() -> None:
    q5 = split_questions(_table("tone_zone", [(0, 1)]), rubric=RUBRIC)[0]["tone_zone"]
    assert spread_threshold(q5) == 2.0
    rating = make_table([{"item_id": f"s{v}", "candidate_id": "c", "question": "r", "annotator": a, "value": v}
                         for a in ("x", "y") for v in range(1, 11)])
    q10 = split_questions(rating, levels={"r": "interval"})[0]["r"]
    assert spread_threshold(q10) == 3.0
