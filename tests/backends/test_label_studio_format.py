"""Label Studio task payloads and result reading, without a server (the server round trip is in
test_label_studio.py)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brun_label.backends.label_studio_format import (
    ConfigIndex,
    TaskReader,
    chunks,
    judge_predictions,
    skip_question,
    slot_count,
    task_payload,
)
from brun_label.layout import candidate_order
from brun_label.model import sample_from_dict
from brun_label.render_label_studio import render_label_studio
from brun_label.rubrics import load_rubric, pack_names

SAMPLE = {
    "id": "s1", "category": "hr", "prompt": "My manager yelled at me.", "judge_model": "judge-a",
    "judge": {"preference": "c3", "rationale": "C is calm"},
    "candidates": [
        {"id": "c1", "text": "That is awful.", "judge": {"tone_zone": -1, "liability_flags": ["admits_fault"]}},
        {"id": "c2", "text": "Per policy 4.2…", "judge": {"tone_zone": 2.0}, "judge_model": "judge-b"},
        {"id": "c3", "text": "I hear you; let's talk."},
    ],
}


@pytest.fixture
def rubric():
    return load_rubric("de-escalation")


@pytest.fixture
def config(rubric):
    return ConfigIndex(render_label_studio(rubric, n_candidates=3))


def test_task_payload_holds_fields_id_order_and_rubric(rubric, config):
    s = sample_from_dict(SAMPLE)
    order = ["c3", "c1", "c2"]
    task, problems = task_payload(s, rubric, order, config)
    assert problems == []
    data = task["data"]
    assert data["prompt"] == "My manager yelled at me." and data["category"] == "hr"
    assert [data["candidate_a"], data["candidate_b"], data["candidate_c"]] == [
        "I hear you; let's talk.", "That is awful.", "Per policy 4.2…"]
    assert (data["brun_sample_id"], data["brun_order"], data["brun_rubric"]) == ("s1", order, rubric.identity)
    assert data["brun_rubric_version"] == rubric.version and "brun_judge_order" not in data
    json.dumps(task)  # JSON-able as is


def test_judge_scores_become_one_prediction_per_model_in_the_shown_positions(rubric, config):
    s = sample_from_dict(SAMPLE)
    preds, problems = judge_predictions(s, rubric, ["c3", "c1", "c2"], config)
    assert problems == []
    by_model = {p["model_version"]: {r["from_name"]: r for r in p["result"]} for p in preds}
    assert set(by_model) == {"judge-a", "judge-b"}
    a = by_model["judge-a"]
    assert a["tone_zone_b"]["value"] == {"choices": ["-1"]} and a["tone_zone_b"]["to_name"] == "candidate_b"
    assert a["liability_flags_b"]["value"] == {"choices": ["admits_fault"]}
    assert a["preference"] == {"from_name": "preference", "to_name": "prompt", "type": "choices",
                               "value": {"choices": ["a"]}}  # c3 is shown first
    assert a["rationale"]["value"] == {"text": ["C is calm"]} and a["rationale"]["type"] == "textarea"
    # 2.0 read back from JSON is the integer 2.
    assert by_model["judge-b"]["tone_zone_c"]["value"] == {"choices": ["2"]}


def test_judge_answers_that_do_not_fit_are_left_out_and_named(rubric, config):
    raw = dict(SAMPLE, judge={"preference": "c9", "mood": "x"})
    raw["candidates"] = [dict(SAMPLE["candidates"][0], judge={"tone_zone": 7, "preference": "c1"}),
                         *SAMPLE["candidates"][1:]]
    preds, problems = judge_predictions(sample_from_dict(raw), rubric, ["c1", "c2", "c3"], config)
    assert [p["model_version"] for p in preds] == ["judge-b"]  # only c2's tone survives
    assert len(problems) == 4
    text = "\n".join(problems)
    for needle in ("tone_zone_a", "'preference' is asked per item", "'c9' is not a candidate id", "'mood' is not a question"):
        assert needle in text


def test_no_judge_no_predictions(rubric, config):
    s = sample_from_dict({"id": "x", "prompt": "p", "candidates": [{"text": "a"}, {"text": "b"}]})
    task, problems = task_payload(s, rubric, candidate_order(s), config)
    assert "predictions" not in task and problems == []
    assert task["data"]["candidate_c"] == ""  # a slot beyond the sample's candidates is empty


@pytest.mark.parametrize("pack", pack_names())
def test_slot_count_matches_the_rendered_config(pack):
    for n in (2, 3, 5):
        assert slot_count(ConfigIndex(render_label_studio(load_rubric(pack), n_candidates=n))) == n


def test_chunks_respect_both_limits_and_keep_every_task():
    tasks = [{"data": {"i": i, "t": "x" * (i % 7) * 100}} for i in range(1000)]
    out = list(chunks(iter(tasks), 64, 20_000))
    assert [t for c in out for t in c] == tasks
    assert all(len(c) <= 64 for c in out)
    assert all(len(json.dumps(c)) <= 20_000 for c in out)
    assert list(chunks(iter([]), 10, 100)) == []


def _ann(aid, user, result, cancelled=False):
    return {"id": aid, "completed_by": user, "result": result, "was_cancelled": cancelled,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": f"2026-01-0{aid}T00:00:00Z"}


def _task(tid, sid, order, annotations=(), drafts=()):
    return {"id": tid, "data": {"brun_sample_id": sid, "brun_order": order},
            "annotations": list(annotations), "drafts": list(drafts)}


def _choice(name, to, *values):
    return {"from_name": name, "to_name": to, "type": "choices", "value": {"choices": list(values)}}


def test_task_reader_maps_positions_statuses_and_annotators(rubric, config):
    reader = TaskReader(rubric, config, {1: "ann1@x.org", 2: "ann2@x.org"})
    order = ["c2", "c1"]
    reader.add_task(_task(10, "s1", order, annotations=[
        _ann(1, 1, [_choice("tone_zone_a", "candidate_a", "0"), _choice("liability_flags_b", "candidate_b",
                                                                        "speculates_cause", "admits_fault"),
                    _choice("preference", "prompt", "b"),
                    {"from_name": "rationale", "to_name": "prompt", "type": "textarea",
                     "value": {"text": ["line 1", "line 2"]}}]),
        _ann(2, {"id": 2, "email": "ann2@x.org"}, [], cancelled=True),
        _ann(3, 99, [_choice("preference", "prompt", "tie")], cancelled=True),
    ], drafts=[{"id": 5, "user": "ann2@x.org", "result": [_choice("tone_zone_b", "candidate_b", "-2")],
                "created_at": "2026-01-05T00:00:00Z"}]))
    got = [(r["candidate_id"], r["question"], r["annotator"], r["value"], r["status"]) for r in reader.rows]
    assert got == [
        ("c2", "tone_zone", "ann1@x.org", 0, "submitted"),
        ("c1", "liability_flags", "ann1@x.org", ["admits_fault", "speculates_cause"], "submitted"),
        ("", "preference", "ann1@x.org", "c1", "submitted"),
        ("", "rationale", "ann1@x.org", "line 1\nline 2", "submitted"),
        ("", "preference", "ann2@x.org", None, "skipped"),
        ("", "preference", "user:99", "tie", "skipped"),
        ("c1", "tone_zone", "ann2@x.org", -2, "draft"),
    ]
    assert [r["submitted_at"][:10] for r in reader.rows] == ["2026-01-01"] * 4 + ["2026-01-02", "2026-01-03", "2026-01-05"]
    assert {r["platform"] for r in reader.rows} == {"label-studio"}
    assert reader.invalid == [] and reader.n_items == 1


def test_task_reader_reports_answers_that_do_not_fit_instead_of_using_them(rubric, config):
    reader = TaskReader(rubric, config, {1: "ann1@x.org"})
    reader.add_task(_task(10, "s1", ["c1", "c2"], annotations=[_ann(1, 1, [
        _choice("tone_zone_a", "candidate_a", "7"),  # not an option
        _choice("tone_zone_b", "candidate_a", "0"),  # wrong object
        _choice("mood", "prompt", "ok"),  # not in the config
        _choice("preference", "prompt", "a", "b"),  # two answers to a single choice
        _choice("preference", "prompt", "c"),  # position beyond the task's two candidates
        {"from_name": "tone_zone_a", "to_name": "candidate_a", "type": "rating", "value": {"rating": 1}},
        _choice("liability_flags_a", "candidate_a", "admits_fault"),
        _choice("liability_flags_a", "candidate_a", "blames_customer"),  # answered twice
    ])]))
    assert [(r["question"], r["value"]) for r in reader.rows] == [("liability_flags", ["admits_fault"])]
    assert len(reader.invalid) == 7
    assert all(line.startswith("task 10 annotation 1 (sample s1) by ann1@x.org: ") for line in reader.invalid)
    joined = "\n".join(reader.invalid)
    for needle in ("tone_zone_a: Invalid value", "tone_zone_b: 'to_name' 'candidate_a' is not valid",
                   "mood", "expected one answer", "beyond the 2 candidates", "does not match expected type",
                   "answered twice"):
        assert needle in joined


def test_tasks_not_pushed_by_brun_label_are_reported_once_and_predictions_map_back(rubric, config):
    reader = TaskReader(rubric, config, {})
    reader.add_task({"id": 3, "data": {"prompt": "x"}, "annotations": [_ann(1, 1, [])]})
    reader.add_task({"id": 4, "data": {"prompt": "y"}, "annotations": []})
    reader.add_task(_task(5, "s5", ["c1", "c2"]))
    reader.add_prediction(5, "gpt-j", [_choice("tone_zone_b", "candidate_b", "1")], "2026-02-01T00:00:00Z")
    reader.add_prediction(5, None, [_choice("preference", "prompt", "both_bad")], None)
    reader.add_prediction(77, "gpt-j", [_choice("preference", "prompt", "a")], None)  # unknown task: ignored
    assert len(reader.invalid) == 1 and "task 3" in reader.invalid[0]
    assert [(r["candidate_id"], r["question"], r["annotator"], r["value"]) for r in reader.rows] == [
        ("c2", "tone_zone", "judge:gpt-j", 1), ("", "preference", "judge:llm", "both_bad")]
    assert reader.n_items == 1


def test_skip_question_prefers_the_preference():
    assert skip_question(load_rubric("de-escalation")) == "preference"
    from brun_label.rubric import rubric_from_dict
    r = rubric_from_dict({"name": "m", "questions": [{"name": "tone", "type": "scale", "options": [0, 1]},
                                                      {"name": "note", "type": "text"}]})
    assert skip_question(r) == "note"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_guidelines_html_adds_only_its_own_three_tags(markdown):
    """Guidelines come from a user's file; Label Studio shows the instructions as HTML."""
    import html as _html
    import re as _re

    from brun_label.backends.label_studio_format import guidelines_html

    out = guidelines_html(markdown)
    assert set(_re.findall(r"<[^>]*>", out)) <= {"<p>", "</p>", "<b>", "</b>", "<i>", "</i>"}
    if "*" not in markdown:  # no emphasis: the paragraphs' text comes back exactly
        text = _html.unescape(_re.sub(r"</?p>", "", out))
        paragraphs = [" ".join(line.strip() for line in p.splitlines()) for p in _re.split(r"\n\s*\n", markdown.strip())]
        assert text == "".join(paragraphs)
