"""Every answer checked against the rubric, for every question kind (brun_label.answers)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from brun_label.answers import InvalidAnswer, check_answers, format_invalid, item_candidates
from brun_label.rubric import rubric_from_dict
from brun_label.table import make_table

RUBRIC = rubric_from_dict({"name": "all-kinds", "questions": [
    {"name": "zone", "type": "scale", "options": [-1, 0, 1], "target": 0},
    {"name": "kind", "type": "choice", "options": ["true", "other"]},
    {"name": "flags", "type": "flags", "options": ["a", "b"]},
    {"name": "score", "type": "rating", "min": 1, "max": 3},
    {"name": "pref", "type": "preference"},
    {"name": "why", "type": "text"},
]})


def _row(item: str, cand: str, question: str, value: Any, ann: str = "ann1", **extra: Any) -> dict[str, Any]:
    return {"item_id": item, "candidate_id": cand, "question": question, "annotator": ann, "value": value, **extra}


def _problems(rows: list[dict[str, Any]], candidates: Any = None) -> list[tuple[int, str, str]]:
    kept, problems = check_answers(make_table(rows), RUBRIC, candidates)
    assert len(kept) + len(problems) == len(rows)
    return [(p.row, p.field, p.message) for p in problems]


def test_valid_answers_of_every_kind_pass() -> None:
    rows = [_row("s1", "02", "zone", 0), _row("s1", "02", "kind", "true"), _row("s1", "02", "flags", ["b", "a"]),
            _row("s1", "02", "flags", []), _row("s1", "02", "score", 3), _row("s1", "", "pref", "02"),
            _row("s1", "", "pref", "tie"), _row("s1", "", "pref", "both_bad"), _row("s1", "", "why", "1"),
            _row("s1", "02", "zone", None)]
    assert _problems(rows) == []


def test_each_kind_reports_wrong_types_and_values() -> None:
    rows = [
        _row("s1", "c", "zone", 5), _row("s1", "c", "zone", "0"), _row("s1", "c", "zone", True),
        _row("s1", "c", "kind", "False"), _row("s1", "c", "flags", ["a", "z"]), _row("s1", "c", "flags", "a"),
        _row("s1", "c", "score", 0), _row("s1", "c", "score", 2.5), _row("s1", "", "pref", 2),
        _row("s1", "", "pref", "d"), _row("s1", "", "why", 3), _row("s1", "", "nope", 1),
        _row("s1", "", "zone", 0), _row("s1", "c", "pref", "c"),
    ]
    got = _problems(rows)
    assert [(r, f) for r, f, _ in got] == [(i, "value") for i in range(11)] + [
        (11, "question"), (12, "candidate_id"), (13, "candidate_id")]
    messages = [m for _, _, m in got]
    assert messages[0] == "zone: 5 is not an option (-1, 0, 1)"
    assert messages[1] == "zone: needs an integer, got '0'"
    assert messages[2] == "zone: needs an integer, got bool true"
    assert messages[3] == "kind: 'False' is not an option (true, other)"
    assert messages[4] == "flags: 'z' is not one of its flags (a, b)"
    assert messages[5] == "flags: needs a list of flags, got 'a'"
    assert messages[6] == "score: 0 is outside 1..3"
    assert messages[7] == "score: needs an integer, got float 2.5"
    assert messages[8] == "pref: needs a string, got int 2"
    assert messages[9] == "pref: 'd' is not tie, both_bad or a candidate of item s1 (c)"
    assert messages[10] == "why: needs a string, got int 3"
    assert messages[11] == "'nope' is not a question of rubric all-kinds"


def test_candidates_come_from_samples_then_shown_order_then_rows() -> None:
    order = json.dumps(["x", "y"])
    rows = [_row("s1", "c", "zone", 0), _row("s1", "", "pref", "c"), _row("s1", "", "pref", "s"),
            _row("s2", "", "pref", "y", shown_order=order), _row("s2", "", "pref", "c", shown_order=order),
            _row("s2", "c", "zone", 0)]
    assert [r for r, _, _ in _problems(rows)] == [2, 4]  # s2 has a shown order: its rows do not widen it
    assert [r for r, _, _ in _problems(rows, {"s1": ["s", "t"]})] == [1, 4]
    assert item_candidates(make_table(rows), {"s1": ["s", "t"]}) == {"s1": ["s", "t"], "s2": ["x", "y"]}


ids = st.sampled_from(["02", "2", "true", "null", "[1]", "{}", "tie ", "a"])


@given(st.lists(st.tuples(ids, ids), min_size=1, max_size=8))
def test_a_preference_is_valid_exactly_when_it_names_a_candidate_of_its_item(votes: list[tuple[str, str]]) -> None:
    rows = []
    for i, (cand, vote) in enumerate(votes):
        rows.append(_row(f"s{i}", cand, "zone", 0))
        rows.append(_row(f"s{i}", "", "pref", vote))
    bad = {r for r, _, _ in _problems(rows)}
    assert bad == {2 * i + 1 for i, (cand, vote) in enumerate(votes) if vote != cand}


def test_format_invalid_caps_the_lines() -> None:
    problems = [InvalidAnswer(i, "value", f"zone: {i}") for i in range(25)]
    lines = format_invalid(problems, "t.jsonl", list(range(1, 26)))
    assert len(lines) == 21 and lines[-1] == "... and 5 more"
    assert lines[0] == "invalid answer (not used): t.jsonl:1: value: zone: 0"
