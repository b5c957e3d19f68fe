"""Both platforms' payload builders leave out judge answers the swap check found inconsistent."""

from __future__ import annotations

from typing import Any

from brun_label.backends.argilla_records import JUDGE_KEY, record_for_sample
from brun_label.backends.label_studio_format import ConfigIndex, judge_predictions
from brun_label.model import sample_from_dict
from brun_label.render_label_studio import render_label_studio
from brun_label.rubrics import load_rubric

RUBRIC = load_rubric("de-escalation")


def _sample(consistent: bool) -> Any:
    return sample_from_dict({
        "id": "s1", "prompt": "You ruined my wedding!", "judge_model": "m", "judge": {"preference": "c2"},
        "judge_confidence": {"preference": {"logprob": -0.2, "consistent": consistent}},
        "candidates": [{"id": "c1", "text": "So sorry!", "judge_model": "m", "judge": {"tone_zone": -2},
                        "judge_confidence": {"tone_zone": {"logprob": -0.1, "consistent": True}}},
                       {"id": "c2", "text": "I hear you.", "judge_model": "m", "judge": {"tone_zone": 0},
                        "judge_confidence": {"tone_zone": {"logprob": -0.9, "consistent": False}}}]})


def test_label_studio_predictions_leave_out_inconsistent_answers() -> None:
    config = ConfigIndex(render_label_studio(RUBRIC, n_candidates=2))
    for consistent, expected in ((True, {"tone_zone_b", "preference"}), (False, {"tone_zone_b"})):
        predictions, problems = judge_predictions(_sample(consistent), RUBRIC, ["c2", "c1"], config)
        assert problems == [] and {r["from_name"] for r in predictions[0]["result"]} == expected


def test_argilla_records_leave_out_inconsistent_answers_stored_or_shown() -> None:
    ids = {"tone_zone_a": "q1", "tone_zone_b": "q2", "preference": "q3"}
    for consistent, expected in ((True, {"tone_zone_b", "preference"}), (False, {"tone_zone_b"})):
        record, problems = record_for_sample(_sample(consistent), RUBRIC, ["c2", "c1"], 2, ids, show_judge=True)
        assert problems == [] and set(record["metadata"][JUDGE_KEY]) == expected
        assert {s["question_id"] for s in record["suggestions"]} == {ids[k] for k in expected}
