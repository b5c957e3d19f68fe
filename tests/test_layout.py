"""The shared layout core: which ``[]`` a pull may add, and the position columns of pulled rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brun_label.layout import AnswerError, add_table_columns, decode_answer, fill_unticked_flags
from brun_label.rubrics import load_rubric

RUBRIC = load_rubric("de-escalation")
ORDER = ["c2", "c1", "c3"]


def _row(cand: str, question: str, value: Any, who: str = "ann", status: str = "submitted",
         item: str = "s1", platform: str = "argilla") -> dict[str, Any]:
    return {"item_id": item, "candidate_id": cand, "question": question, "annotator": who, "value": value,
            "status": status, "platform": platform, "submitted_at": None}


def _keys(rows: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
    return {(r["item_id"], r["candidate_id"], r["question"], r["annotator"]) for r in rows}


def test_a_candidate_the_person_did_not_rate_gets_no_rows() -> None:
    rows = [_row("c2", "tone_zone", 0), _row("", "preference", "c2")]
    out = fill_unticked_flags(RUBRIC, rows)
    assert _keys(out) == {("s1", "c2", "tone_zone", "ann"), ("s1", "", "preference", "ann"),
                          ("s1", "c2", "liability_flags", "ann")}
    assert [r["value"] for r in out if r["question"] == "liability_flags"] == [[]]


def test_a_ticked_flag_is_kept_and_not_doubled() -> None:
    rows = [_row("c2", "liability_flags", ["admits_fault"]), _row("c1", "tone_zone", 1)]
    out = fill_unticked_flags(RUBRIC, rows)
    flags = {(r["candidate_id"], json.dumps(r["value"])) for r in out if r["question"] == "liability_flags"}
    assert flags == {("c2", '["admits_fault"]'), ("c1", "[]")}


def test_judges_drafts_skips_and_discards_are_never_filled() -> None:
    rows = [_row("c2", "tone_zone", 0, who="judge:gpt"),
            _row("c2", "tone_zone", 0, status="draft"),
            _row("c2", "tone_zone", 0, who="b", status="discarded"),
            _row("", "preference", None, who="c", status="skipped")]
    assert fill_unticked_flags(RUBRIC, rows) == rows


def test_the_same_person_on_two_platforms_is_two_responses() -> None:
    rows = [_row("c2", "tone_zone", 0, platform="argilla"), _row("c1", "tone_zone", 0, platform="label-studio")]
    out = fill_unticked_flags(RUBRIC, rows)
    added = {(r["candidate_id"], r["platform"]) for r in out if r["question"] == "liability_flags"}
    assert added == {("c2", "argilla"), ("c1", "label-studio")}


answers = st.lists(
    st.tuples(st.sampled_from(["s1", "s2"]), st.sampled_from(["ann", "bob", "judge:m"]),
              st.sampled_from([*ORDER, ""]), st.sampled_from(["submitted", "draft", "discarded"])),
    max_size=12,
)


@given(answers)
def test_filling_adds_only_empty_flags_of_rated_candidates_of_submitted_people(spec) -> None:
    rows = []
    for item, who, cand, status in spec:
        rows.append(_row(cand, "tone_zone" if cand else "preference", 0 if cand else "tie", who=who,
                         status=status, item=item))
    out = fill_unticked_flags(RUBRIC, rows)
    assert out[: len(rows)] == rows
    for extra in out[len(rows):]:
        assert extra["question"] == "liability_flags" and extra["value"] == []
        assert not extra["annotator"].startswith("judge:") and extra["status"] == "submitted"
        rated = {(r["item_id"], r["annotator"], r["candidate_id"]) for r in rows if r["status"] == "submitted"}
        assert (extra["item_id"], extra["annotator"], extra["candidate_id"]) in rated
    assert len(_keys(out)) == len(_keys(rows)) + len(out) - len(rows)  # never a second answer


@given(st.permutations(ORDER), st.permutations(ORDER), st.sampled_from([*ORDER, "tie", "both_bad"]))
def test_positions_are_the_shown_slots_for_people_and_the_judge(shown, judged, preferred) -> None:
    rows = [_row(c, "tone_zone", 0) for c in ORDER] + [_row("", "preference", preferred),
                                                       _row("", "rationale", "why"),
                                                       _row(ORDER[0], "tone_zone", 0, who="judge:m")]
    out = add_table_columns(RUBRIC, rows, {"s1": shown}, {"s1": judged})
    for row in out[:3]:
        assert row["position"] == shown.index(row["candidate_id"])
        assert json.loads(row["shown_order"]) == shown and row["rubric"] == RUBRIC.identity
    assert out[3]["position"] == (shown.index(preferred) if preferred in ORDER else None)
    assert out[4]["position"] is None
    assert out[5]["position"] == judged.index(ORDER[0]) and json.loads(out[5]["shown_order"]) == judged


def test_a_judge_without_a_recorded_order_gets_no_invented_position() -> None:
    out = add_table_columns(RUBRIC, [_row("c1", "tone_zone", 0, who="judge:m")], {"s1": ORDER})
    assert (out[0]["position"], out[0]["shown_order"]) == (None, None)


def test_an_answer_about_an_empty_slot_is_reported() -> None:
    with pytest.raises(AnswerError, match="only 2 candidates"):
        decode_answer(RUBRIC, "tone_zone_c", "0", ["c1", "c2"])


PACKS = ("de-escalation", "project-architect", "socratic-mentor", "deal-closer")
raw_values = st.one_of(
    st.sampled_from(["a", "b", "c", "tie", "both_bad", "-2", "0", "2", "4", "11", "in_zone", " B "]),
    st.integers(-3, 12).map(str), st.integers(-3, 12), st.text(max_size=6),
    st.lists(st.sampled_from(["admits_fault", "pushy", "gives_answer", "x", "a"]), max_size=3),
)


@settings(deadline=None)
@given(st.sampled_from(PACKS), st.data(), raw_values)
def test_what_pull_decodes_is_what_agreement_and_export_accept(pack, data, raw) -> None:
    """decode_answer (pull) and check_answers (agreement, export) never disagree on a decoded answer."""
    from brun_label.answers import check_answers
    from brun_label.rubric import slot_name
    from brun_label.table import make_table

    rubric = load_rubric(pack)
    q = data.draw(st.sampled_from(rubric.questions))
    slot = slot_name(q.name, data.draw(st.integers(0, 1))) if q.scope == "candidate" else q.name
    order = ["c-1", "c-2"]
    try:
        decoded = decode_answer(rubric, slot, raw, order)
    except AnswerError:
        return
    rows = [_row(c, name, v, platform="label-studio") for c, name, v in decoded]
    table = make_table(add_table_columns(rubric, rows, {"s1": order}))
    kept, problems = check_answers(table, rubric, {"s1": order})
    assert problems == [] and len(kept) == len(rows)
