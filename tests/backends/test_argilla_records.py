"""Sample ↔ record and response ↔ row mapping of the Argilla backend (pure, no server)."""

from __future__ import annotations

import pytest

from brun_label.backends.argilla import config_differences
from brun_label.backends.argilla_records import (
    RecordError,
    argilla_value,
    record_for_sample,
    record_order,
    rows_for_record,
)
from brun_label.layout import AnswerError
from brun_label.model import Sample, sample_from_dict
from brun_label.render_argilla import render_argilla
from brun_label.rubrics import load_rubric

RUBRIC = load_rubric("de-escalation")


def _sample(n: int = 3, **extra: object) -> Sample:
    cands = [{"id": f"c{i}", "text": f"reply {i}"} for i in range(n)]
    return sample_from_dict({"id": "s1", "prompt": "Where is my refund?", "category": "billing",
                             "candidates": cands, **extra})


def _qids(n_slots: int) -> dict[str, str]:
    settings = render_argilla(RUBRIC, n_candidates=n_slots)
    return {q["name"]: "id-" + q["name"] for q in settings["questions"]}


def test_record_fields_follow_the_recorded_order_and_leave_empty_slots_out() -> None:
    sample = _sample(2)
    record, problems = record_for_sample(sample, RUBRIC, ["c1", "c0"], 3, _qids(3))
    assert problems == []
    assert record["external_id"] == "s1"
    assert record["fields"] == {"prompt": "Where is my refund?", "candidate_a": "reply 1", "candidate_b": "reply 0"}
    assert record["metadata"] == {"category": "billing", "brun_sample_id": "s1", "brun_order": ["c1", "c0"],
                                  "brun_rubric": RUBRIC.identity, "brun_rubric_version": RUBRIC.version,
                                  "brun_judge_shown": False}
    assert "suggestions" not in record


def test_judge_answers_become_suggestions_on_the_right_slot_with_their_agent() -> None:
    sample = sample_from_dict({
        "id": "s1", "prompt": "p", "judge_model": "judge-x", "judge": {"preference": "tie", "rationale": "close"},
        "candidates": [{"id": "c0", "text": "a", "judge": {"tone_zone": 2, "liability_flags": ["admits_fault"]},
                        "judge_model": "judge-y"},
                       {"id": "c1", "text": "b", "judge": {"tone_zone": -1, "liability_flags": []}}]})
    hidden, _ = record_for_sample(sample, RUBRIC, ["c1", "c0"], 2, _qids(2))
    assert "suggestions" not in hidden  # the default: annotators are not shown the judge's answers
    assert hidden["metadata"]["brun_judge"]["liability_flags_a"] == {"value": [], "agent": "judge-x"}
    record, problems = record_for_sample(sample, RUBRIC, ["c1", "c0"], 2, _qids(2), show_judge=True)
    assert record["metadata"]["brun_judge"] == hidden["metadata"]["brun_judge"]
    got = sorted((s["question_id"], str(s["value"]), s["agent"]) for s in record["suggestions"])
    assert got == sorted([
        ("id-tone_zone_b", "2", "judge-y"),
        ("id-liability_flags_b", "['admits_fault']", "judge-y"),
        ("id-tone_zone_a", "-1", "judge-x"),
        ("id-preference", "tie", "judge-x"),
        ("id-rationale", "close", "judge-x"),
    ])
    assert problems == []


def test_judge_answers_that_do_not_fit_are_reported_not_sent() -> None:
    sample = sample_from_dict({
        "id": "s1", "prompt": "p", "judge": {"preference": "c9", "nonsense": 1},
        "candidates": [{"id": "c0", "text": "a", "judge": {"tone_zone": 7, "preference": "c0"}},
                       {"id": "c1", "text": "b"}]})
    record, problems = record_for_sample(sample, RUBRIC, ["c0", "c1"], 2, _qids(2))
    assert "suggestions" not in record
    assert len(problems) == 4
    assert any("tone_zone: 7" in p for p in problems)
    assert any("'nonsense'" in p for p in problems)


@pytest.mark.parametrize(("pack", "question", "value", "stored"), [
    ("de-escalation", "tone_zone", -2, "-2"),
    ("de-escalation", "liability_flags", ["speculates_cause", "admits_fault"], ["admits_fault", "speculates_cause"]),
    ("de-escalation", "preference", "c1", "b"),
    ("de-escalation", "preference", "both_bad", "both_bad"),
    ("project-architect", "actionability", 5, 5),
    ("deal-closer", "objection_type", "price", "price"),
])
def test_argilla_value_per_question_type(pack: str, question: str, value: object, stored: object) -> None:
    q = load_rubric(pack).question(question)
    if q.type == "choice":
        value = stored = str(q.values()[0])
    assert argilla_value(q, value, ["c0", "c1"]) == stored


def test_argilla_value_rejects_values_outside_the_rubric() -> None:
    with pytest.raises(AnswerError):
        argilla_value(RUBRIC.question("liability_flags"), ["not_a_flag"], [])
    with pytest.raises(AnswerError):
        argilla_value(load_rubric("project-architect").question("actionability"), 9, [])


def test_rows_map_positions_back_to_candidates_and_keep_statuses() -> None:
    record = {
        "external_id": "s1",
        "metadata": {"brun_sample_id": "s1", "brun_order": ["c1", "c0"]},
        "responses": [
            {"user_id": "u1", "status": "submitted", "updated_at": "t1",
             "values": {"tone_zone_a": {"value": "1"}, "liability_flags_b": {"value": ["admits_fault"]},
                        "preference": {"value": "a"}, "rationale": {"value": "why"}}},
            {"user_id": "u2", "status": "draft", "updated_at": "t2", "values": {"tone_zone_b": {"value": "-2"}}},
            {"user_id": "u3", "status": "discarded", "updated_at": "t3", "values": None},
            {"user_id": "u4", "status": "submitted", "updated_at": "t4", "values": {"tone_zone_a": {"value": "9"}}},
        ],
        "suggestions": [{"question_id": "q1", "value": "0", "agent": None, "updated_at": "t0"}],
    }
    rows, invalid = rows_for_record(record, RUBRIC, {"u1": "ann1", "u2": "ann2"}, {"q1": "tone_zone_b"})
    got = [(r["candidate_id"], r["question"], r["annotator"], r["value"], r["status"]) for r in rows]
    assert got == [
        ("c1", "tone_zone", "ann1", 1, "submitted"),
        ("c0", "liability_flags", "ann1", ["admits_fault"], "submitted"),
        ("", "preference", "ann1", "c1", "submitted"),
        ("", "rationale", "ann1", "why", "submitted"),
        ("c0", "tone_zone", "ann2", -2, "draft"),
        ("", "preference", "u3", None, "discarded"),
        ("c0", "tone_zone", "judge:llm", 0, "submitted"),
    ]
    assert invalid == ["item s1, u4: tone_zone_a: '9' is not an option of tone_zone"]
    assert {r["platform"] for r in rows} == {"argilla"}
    no_judge, _ = rows_for_record(record, RUBRIC, {}, {"q1": "tone_zone_b"}, include_judge=False)
    assert not any(r["annotator"].startswith("judge:") for r in no_judge)


def test_records_not_pushed_by_brun_label_are_refused() -> None:
    with pytest.raises(RecordError, match="not pushed by brun-label"):
        record_order({"external_id": "x", "metadata": {"category": "a"}})


def test_config_differences_name_missing_extra_and_changed_questions() -> None:
    wanted = render_argilla(RUBRIC, n_candidates=2)["questions"]
    other = render_argilla(load_rubric("socratic-mentor"), n_candidates=2)["questions"]
    assert config_differences(wanted, wanted) == []
    diffs = config_differences(other, wanted)
    assert "missing question tone_zone_a" in diffs and "extra question guidance_level_a" in diffs
    changed = [dict(q) for q in wanted]
    changed[0] = {**changed[0], "settings": {"type": "label_selection", "options": [{"value": "0"}]}}
    assert config_differences(changed, wanted) == ["question tone_zone_a has different type or options"]
