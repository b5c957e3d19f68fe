"""The annotation table → per-question matrices: kinds, levels, judges, duplicates, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from brun_label.agreement.questions import split_questions
from brun_label.rubrics import load_rubric
from brun_label.table import make_table
from tests.agreement.examples import synthetic_table

RUBRIC = load_rubric("de-escalation")


def _row(item: str, cand: str, question: str, annotator: str, value: object, **extra: object) -> dict[str, Any]:
    return {"item_id": item, "candidate_id": cand, "question": question, "annotator": annotator, "value": value, **extra}


def test_kinds_levels_and_sources_from_the_rubric(rng: np.random.Generator) -> None:
    qs, notes = split_questions(synthetic_table(rng, 10), rubric=RUBRIC, levels={"tone_zone": "interval"})
    assert list(qs) == ["tone_zone", "liability_flags", "preference"]
    assert (qs["tone_zone"].kind, qs["tone_zone"].level, qs["tone_zone"].level_source) == ("scale", "interval", "option")
    assert (qs["liability_flags"].kind, qs["liability_flags"].distance) == ("flags", "masi")
    assert (qs["preference"].kind, qs["preference"].level_source) == ("preference", "rubric")
    assert any("rationale: free text" in n for n in notes)
    assert qs["tone_zone"].domain == [-2, -1, 0, 1, 2]
    assert qs["tone_zone"].values.shape == (3, 20)  # 3 humans × 10 items × 2 candidates
    assert qs["tone_zone"].judges == ["judge:gpt-4o"]
    assert qs["tone_zone"].judge_values.shape == (1, 20)


def test_inferred_kinds_without_a_rubric(rng: np.random.Generator) -> None:
    qs, _notes = split_questions(synthetic_table(rng, 10))
    assert {n: q.kind for n, q in qs.items()} == {
        "liability_flags": "flags", "preference": "preference", "rationale": "labels", "tone_zone": "numeric",
    }
    assert all(q.level == "nominal" and q.level_source == "default" for q in qs.values())


def test_only_submitted_rows_with_values_count() -> None:
    t = make_table([
        _row("s1", "c1", "tone", "ann1", 1),
        _row("s1", "c1", "tone", "ann2", 2, status="draft"),
        _row("s1", "c1", "tone", "ann3", None),
    ])
    qs, notes = split_questions(t)
    assert qs["tone"].annotators == ["ann1"]
    assert "2 row(s) not counted" in notes[0]


def test_repeated_answers_keep_the_latest() -> None:
    t = make_table([
        _row("s1", "c1", "tone", "ann1", 2, submitted_at="2024-05-02T10:00:00Z"),
        _row("s1", "c1", "tone", "ann1", 1, submitted_at="2024-05-01T10:00:00Z"),
        _row("s1", "c1", "tone", "ann2", 1),
    ])
    qs, notes = split_questions(t)
    assert qs["tone"].values.tolist() == [[2.0], [1.0]]
    assert qs["tone"].n_duplicates == 1
    assert any("repeated answer" in n for n in notes)


def test_preference_positions_follow_sorted_candidate_ids() -> None:
    t = make_table([
        _row("s1", "zz", "tone", "ann1", 0), _row("s1", "aa", "tone", "ann1", 0),
        _row("s1", "", "pref", "ann1", "zz"), _row("s1", "", "pref", "ann2", "aa"),
        _row("s1", "", "pref", "ann3", "both_bad"),
    ])
    q = split_questions(t)[0]["pref"]
    assert q.kind == "preference"
    assert q.candidates_by_item == {"s1": ["aa", "zz"]}
    assert q.agreement_values().ravel().tolist() == ["candidate_2", "candidate_1", "both_bad"]
    assert q.agreement_domain() == ["candidate_1", "candidate_2", "tie", "both_bad"]


@pytest.mark.parametrize(
    ("rows", "kwargs", "message"),
    [
        ([_row("s1", "c1", "tone_zone", "a", 7)], {"rubric": RUBRIC}, "7 is not an option"),
        ([_row("s1", "c1", "tone_zone", "a", "calm")], {"rubric": RUBRIC}, "needs numbers"),
        ([_row("s1", "c1", "liability_flags", "a", ["made_up"])], {"rubric": RUBRIC}, "not one of its flags"),
        ([_row("s1", "c1", "q", "a", 1), _row("s1", "c1", "q", "b", "x")], {}, "mixes value types"),
        ([_row("s1", "c1", "q", "a", "x")], {"levels": {"q": "ordinal"}}, "needs the rubric's ordered options"),
        ([_row("s1", "c1", "q", "a", "x")], {"levels": {"q": "interval"}}, "cannot be interval"),
        ([_row("s1", "c1", "q", "a", 1)], {"levels": {"q": "likert"}}, "must be one of"),
    ],
)
def test_bad_tables_raise_value_errors_naming_the_question(
    rows: list[dict[str, Any]], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        split_questions(make_table(rows), **kwargs)


def test_value_problems_name_the_data_row() -> None:
    rows = [_row("s1", "c1", "tone_zone", "a", 0), _row("s1", "c1", "tone_zone", "b", 9)]
    with pytest.raises(ValueError, match=r"9 is not an option .*\(data row 2, field value\)"):
        split_questions(make_table(rows), rubric=RUBRIC)


def test_missing_column_is_a_value_error() -> None:
    import pandas as pd

    with pytest.raises(ValueError, match="annotator"):
        split_questions(pd.DataFrame({"item_id": ["s1"], "question": ["q"], "value": [1]}))


def test_level_for_an_absent_question_is_noted() -> None:
    _, notes = split_questions(make_table([_row("s1", "c1", "q", "a", 1)]), levels={"other": "ordinal"})
    assert any("'other'" in n for n in notes)
