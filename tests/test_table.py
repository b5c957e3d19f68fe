"""The annotation table core: values typed by the rubric (never by their look), value codes, columns."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brun_label.rubric import rubric_from_dict
from brun_label.rubrics import load_rubric
from brun_label.table import (
    AmbiguousValue,
    TableError,
    decode_column,
    decode_text,
    encode_column,
    encode_value,
    is_ambiguous,
    make_table,
    normalize_table,
    recorded_rubric,
    table_codes,
    value_codes,
)

RUBRIC = load_rubric("de-escalation")
#: Ids that other tools would read as something else than a string.
TRICKY_IDS = ["02", "2", "-1", "1.0", "1e3", "true", "false", "True", "null", "None", "nan", "NaN", "inf",
              "[1]", "[]", '["a"]', "{}", '{"a": 1}', '"quoted"', " 7", "7 ", "0x10", "tie-2", "both_bad2"]
tricky = st.sampled_from(TRICKY_IDS) | st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12,
).filter(lambda s: s.strip() == s and s != "")


@given(tricky)
def test_a_string_answer_survives_encoding_for_text_kinds(text: str) -> None:
    for name in ("preference", "rationale"):
        assert decode_text(encode_value(text), RUBRIC.question(name)) == text


@given(st.integers(-10**12, 10**12))
def test_scale_values_round_trip_as_integers(n: int) -> None:
    value = decode_text(encode_value(n), RUBRIC.question("tone_zone"))
    assert value == n and type(value) is int


@given(st.lists(st.sampled_from([o.value for o in RUBRIC.question("liability_flags").options]), unique=True))
def test_flags_round_trip_as_sorted_lists(flags: list[str]) -> None:
    assert decode_text(encode_value(flags), RUBRIC.question("liability_flags")) == sorted(flags)


def test_flags_from_a_spreadsheet_cell() -> None:
    q = RUBRIC.question("liability_flags")
    assert decode_text("admits_fault, legal_commitment", q) == ["admits_fault", "legal_commitment"]
    assert decode_text("not_a_flag", q) == "not_a_flag"  # left for the answer check to report
    assert decode_text("[1, 2]", q) == "[1, 2]"


def test_a_scale_text_that_is_no_integer_is_left_as_text() -> None:
    q = RUBRIC.question("tone_zone")
    assert [decode_text(t, q) for t in ("1.0", "+2", "1.5", "abc", "")] == [1, 2, "1.5", "abc", ""]


@given(tricky)
def test_without_a_rubric_only_unambiguous_text_decodes(text: str) -> None:
    if is_ambiguous(text):
        with pytest.raises(AmbiguousValue, match="pass --rubric"):
            decode_text(text, None)
    else:
        assert decode_text(text, None) == text


def test_ambiguity_is_about_the_look_of_the_text() -> None:
    assert [t for t in TRICKY_IDS if is_ambiguous(t)] == [
        "02", "2", "-1", "1.0", "1e3", "true", "false", "null", "nan", "NaN", "inf", "[1]", "[]", '["a"]',
        "{}", '{"a": 1}', " 7", "7 "]


def test_decode_column_decodes_each_pair_once_and_by_its_question() -> None:
    questions = np.array(["tone_zone", "preference", "liability_flags", "preference", "tone_zone"], dtype=object)
    texts = np.array(["-1", "-1", '["admits_fault"]', None, "-1"], dtype=object)
    values, problem = decode_column(questions, texts, RUBRIC)
    assert values.tolist() == [-1, "-1", ["admits_fault"], None, -1] and problem is None
    values, problem = decode_column(questions, texts, None)
    assert problem is not None and problem[0] == 0 and "'-1'" in str(problem[1])


@given(st.lists(st.one_of(st.integers(-3, 3), st.sampled_from(["0", "1", "a", "true"]), st.none(),
                          st.lists(st.sampled_from(["x", "y"]), max_size=2), st.booleans()), max_size=30))
@settings(max_examples=200)
def test_value_codes_give_equal_values_one_code(values: list[Any]) -> None:
    arr = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        arr[i] = v
    codes, uniques = value_codes(arr)
    for i, v in enumerate(values):
        if v is None:
            assert codes[i] == -1
        else:
            u = uniques[codes[i]]
            assert type(u) is type(v) and u == v
    for i in range(len(values)):
        for j in range(len(values)):
            if values[i] is not None and values[j] is not None:
                same = type(values[i]) is type(values[j]) and values[i] == values[j]
                assert (codes[i] == codes[j]) == same


@given(st.lists(st.tuples(st.sampled_from(["tone_zone", "preference", "liability_flags"]),
                          st.sampled_from(["-1", "0", "1", "[]", '["admits_fault"]', "s1-a", "tie", None])),
                min_size=1, max_size=40))
@settings(max_examples=200)
def test_the_decoder_value_codes_are_value_codes(pairs: list[tuple[str, str | None]]) -> None:
    questions = np.array([q for q, _ in pairs], dtype=object)
    texts = np.array([t for _, t in pairs], dtype=object)
    values, _ = decode_column(questions, texts, RUBRIC)
    known = value_codes(values)  # what the decoder handed on
    copy = np.empty(len(values), dtype=object)  # the same objects, in an array the decoder did not build
    for i, v in enumerate(values.tolist()):
        copy[i] = v
    fresh = value_codes(copy)
    assert known[0].tolist() == fresh[0].tolist()
    assert len(known[1]) == len(fresh[1]) and all(a is b for a, b in zip(known[1], fresh[1], strict=True))


def test_table_codes_are_shared_by_tables_with_the_same_arrays_only() -> None:
    rows = [{"item_id": f"s{i % 3}", "candidate_id": "c" if i % 2 else "", "question": "q",
             "annotator": f"a{i % 2}", "value": i % 4} for i in range(12)]
    t = make_table(rows)
    codes = table_codes(t)
    assert table_codes(t.reset_index(drop=True)) is codes and table_codes(normalize_table(t)) is codes
    assert codes.items[codes.item].tolist() == t["item_id"].tolist()
    assert codes.cands[codes.cand].tolist() == t["candidate_id"].tolist()
    assert [codes.uniques[k] for k in codes.value] == t["value"].tolist()
    pairs = list(zip(codes.items[codes.unit_item[codes.unit]].tolist(),
                     codes.cands[codes.unit_cand[codes.unit]].tolist(), strict=True))
    assert pairs == list(zip(t["item_id"], t["candidate_id"], strict=True))
    assert sorted(set(codes.unit.tolist())) == list(range(len(codes.unit_item)))
    assert not codes.item.flags.writeable and not codes.value.flags.writeable
    part = t.iloc[2:]
    other = table_codes(part)
    assert other is not codes and other.items[other.item].tolist() == part["item_id"].tolist()
    changed = t.assign(value=pd.Series([9] * len(t), dtype=object))
    assert [table_codes(changed).uniques[k] for k in table_codes(changed).value] == [9] * len(t)


def test_encode_column_matches_encode_value() -> None:
    values = [0, -2, "02", None, ["b", "a"], True, "tie", ["a", "b"]]
    arr = np.empty(len(values), dtype=object)
    arr[:] = [None] * len(values)
    for i, v in enumerate(values):
        arr[i] = v
    assert encode_column(arr).tolist() == [encode_value(v) for v in values]


def test_normalize_table_types_the_columns_and_keeps_values() -> None:
    t = normalize_table(pd.DataFrame({"item_id": [1, 2], "question": ["q", "q"], "annotator": ["a", "b"],
                                      "value": ["02", 3], "rubric": ["m@1", None]}))
    assert all(str(t[c].dtype) == "str" for c in ("item_id", "candidate_id", "question", "annotator", "status"))
    assert t["item_id"].tolist() == ["1", "2"] and t["value"].tolist() == ["02", 3]
    assert list(t.columns)[-1] == "rubric"
    with pytest.raises(TableError, match="annotator: is empty") as err:
        normalize_table(pd.DataFrame({"item_id": ["s"], "question": ["q"], "annotator": [" "], "value": [1]}))
    assert err.value.row == 0
    with pytest.raises(TableError, match="unknown status"):
        make_table([{"item_id": "s", "question": "q", "annotator": "a", "value": 1, "status": "done"}])


def test_recorded_rubric() -> None:
    assert recorded_rubric(pd.DataFrame({"x": [1]})) is None
    assert recorded_rubric(pd.DataFrame({"rubric": [None, ""]})) is None
    with pytest.raises(TableError, match="several rubrics"):
        recorded_rubric(pd.DataFrame({"rubric": ["a@1", "b@2"]}))


def test_a_rubric_choice_value_that_looks_like_a_literal_stays_a_string() -> None:
    r = rubric_from_dict({"name": "m", "questions": [
        {"name": "kind", "type": "choice", "options": ["true", "null", "nan"]}]})
    for text in ("true", "null", "nan"):
        assert decode_text(text, r.question("kind")) == text
    assert json.loads(json.dumps(decode_text("null", r.question("kind")))) == "null"


def test_a_parquet_table_reads_back_its_nullable_integer_columns(tmp_path) -> None:
    # the reader decodes question and value as dictionaries; the other columns keep their dtypes
    from brun_label.exporters.tables import write_annotations
    from brun_label.importers.annotations import read_table
    from brun_label.rubrics import load_rubric
    from brun_label.table import make_table

    t = make_table([{"item_id": "s", "candidate_id": "a", "question": "tone_zone", "annotator": "x", "value": 0,
                     "position": 1},
                    {"item_id": "s", "question": "preference", "annotator": "x", "value": "a", "position": None}])
    t["position"] = t["position"].astype("Int64")
    write_annotations(t, tmp_path / "t.parquet")
    back, _ = read_table(tmp_path / "t.parquet", load_rubric("de-escalation"))
    assert str(back["position"].dtype) == "Int64" and back["position"].tolist()[0] == 1


def test_remembered_value_codes_never_go_stale_after_an_edit(tmp_path) -> None:
    from brun_label.exporters.tables import write_annotations
    from brun_label.importers.annotations import read_table
    from brun_label.rubrics import load_rubric
    from brun_label.table import make_table, table_codes, value_codes

    t = make_table([{"item_id": "s", "candidate_id": "a", "question": "tone_zone", "annotator": who, "value": v}
                    for who, v in [("x", 0), ("y", 1)]])
    write_annotations(t, tmp_path / "t.parquet")
    back, _ = read_table(tmp_path / "t.parquet", load_rubric("de-escalation"))
    assert value_codes(back["value"].to_numpy())[1] == [0, 1]
    assert table_codes(back).uniques == [0, 1]
    back.loc[0, "value"] = 1  # an edit through pandas, in place
    codes, uniques = value_codes(back["value"].to_numpy())
    assert uniques == [1] and codes.tolist() == [0, 0]
    assert table_codes(back).uniques == [1] and table_codes(back).value.tolist() == [0, 0]
