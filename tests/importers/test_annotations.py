"""Reading annotation tables: lossless values in JSONL, CSV and Parquet, typed by the rubric."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brun_label.agreement.summary import summarize
from brun_label.errors import InputError
from brun_label.exporters.pairs import candidates_frame, select_pairs
from brun_label.exporters.tables import write_annotations
from brun_label.importers.annotations import load_checked, read_annotations, read_table
from brun_label.rubric import rubric_from_dict
from brun_label.rubrics import load_rubric
from brun_label.table import make_table

RUBRIC = load_rubric("de-escalation")
FORMATS = ("jsonl", "csv", "parquet")
#: Candidate ids that look like numbers, booleans, null, lists or JSON.
LOOKALIKES = ["02", "2", "-1", "1.0", "true", "False", "null", "None", "nan", "[1]", "[]", "{}", '{"a": 1}', "0"]
ids = st.sampled_from(LOOKALIKES) | st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"]), min_size=1, max_size=8)
KINDS = rubric_from_dict({"name": "kinds", "questions": [
    {"name": "zone", "type": "scale", "options": [-2, -1, 0, 1, 2], "target": 0},
    {"name": "kind", "type": "choice", "options": ["true", "null", "nan", "x1"]},
    {"name": "flags", "type": "flags", "options": ["true", "null", "a"]},
    {"name": "score", "type": "rating", "min": 0, "max": 10},
    {"name": "pref", "type": "preference"},
    {"name": "why", "type": "text"},
]})


def _hand_written(rows: list[dict[str, Any]], path: Path) -> None:
    """What a user writes with pandas: every cell as text (flags as JSON arrays), no brun-label involved."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return
    text = [{k: (json.dumps(v) if isinstance(v, list) else None if v is None else str(v)) for k, v in r.items()}
            for r in rows]
    frame = pd.DataFrame(text, dtype=object)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.astype("str").to_parquet(path, index=False)


def _rows(cands: list[str], annotators: int = 2) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for a in range(annotators):
        ann = f"ann{a}"
        for i, c in enumerate(cands):
            rows.append({"item_id": "s1", "candidate_id": c, "question": "zone", "annotator": ann, "value": i % 3 - 1})
            rows.append({"item_id": "s1", "candidate_id": c, "question": "flags", "annotator": ann,
                         "value": ["null", "true"] if i % 2 else []})
            rows.append({"item_id": "s1", "candidate_id": c, "question": "score", "annotator": ann, "value": 10 - i})
            rows.append({"item_id": "s1", "candidate_id": c, "question": "kind", "annotator": ann,
                         "value": ["true", "null", "nan"][i % 3]})
        rows.append({"item_id": "s1", "candidate_id": "", "question": "pref", "annotator": ann, "value": cands[a % 2]})
        rows.append({"item_id": "s1", "candidate_id": "", "question": "why", "annotator": ann, "value": cands[0]})
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cands=st.lists(ids, min_size=2, max_size=4, unique=True), fmt=st.sampled_from(FORMATS),
       by=st.sampled_from(["brun-label", "hand"]))
def test_every_kind_survives_every_format(cands: list[str], fmt: str, by: str) -> None:
    rows = _rows(cands)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"t.{fmt}"
        if by == "brun-label":
            write_annotations(make_table(rows), path)
        else:
            _hand_written(rows, path)
        back = read_annotations(path, KINDS)
    assert back["candidate_id"].tolist() == [r["candidate_id"] for r in rows]
    got = back["value"].tolist()
    expected = [sorted(r["value"]) if isinstance(r["value"], list) else r["value"] for r in rows]
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]


def test_without_a_rubric_an_ambiguous_text_table_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_annotations(make_table(_rows(["02", "x"])), path)
    with pytest.raises(InputError) as err:
        read_annotations(path)
    message = str(err.value)
    assert "\n" not in message and f"{path}:2: value:" in message and "pass --rubric" in message
    jsonl = tmp_path / "t.jsonl"
    write_annotations(make_table(_rows(["02", "x"])), jsonl)
    assert read_annotations(jsonl)["value"].tolist()[0] == -1  # JSON keeps its own types


def test_a_recorded_rubric_reads_the_table_without_the_flag(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [{"item_id": "s1", "candidate_id": "02", "question": "tone_zone", "annotator": "a", "value": 0,
             "rubric": RUBRIC.identity},
            {"item_id": "s1", "candidate_id": "", "question": "preference", "annotator": "a", "value": "02",
             "rubric": RUBRIC.identity}]
    for fmt in ("csv", "parquet"):
        path = tmp_path / f"t.{fmt}"
        write_annotations(make_table(rows), path)
        assert read_annotations(path)["value"].tolist() == [0, "02"]
        table, rubric = load_checked(path, None)
        assert rubric is not None and rubric.identity == RUBRIC.identity and len(table) == 2
        with pytest.raises(InputError, match="was written under rubric"):
            load_checked(path, "deal-closer")


def test_load_checked_reports_invalid_answers_with_their_lines(tmp_path: Path) -> None:
    rows = _rows(["02", "x"])
    rows[0]["value"] = 9  # zone out of range
    rows.append({"item_id": "s1", "candidate_id": "", "question": "pref", "annotator": "ann9", "value": "2"})
    rubric_file = tmp_path / "kinds.json"
    rubric_file.write_text(json.dumps({"name": "kinds", "questions": [
        {"name": q.name, "type": q.type, **({"options": [o.value for o in q.options]} if q.options else {}),
         **({"min": q.min, "max": q.max} if q.type == "rating" else {}),
         **({"target": q.target} if q.target is not None else {})} for q in KINDS.questions]}))
    for fmt in FORMATS:
        path = tmp_path / f"t.{fmt}"
        _hand_written(rows, path)
        lines: list[str] = []
        table, rubric = load_checked(path, str(rubric_file), warn=lines.append)
        assert rubric is not None and rubric.name == "kinds"
        first = 2 if fmt == "csv" else 1
        assert lines == [
            f"invalid answer (not used): {path}:{first}: value: zone: 9 is not an option (-2, -1, 0, 1, 2)",
            f"invalid answer (not used): {path}:{first + len(rows) - 1}: value: pref: '2' is not tie, both_bad "
            "or a candidate of item s1 (02, x)",
        ]
        assert len(table) == len(rows) - 2
        with pytest.raises(InputError, match="2 invalid answer"):
            load_checked(path, str(rubric_file), strict=True, warn=lambda _m: None)


def test_read_table_gives_jsonl_lines_past_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    row = {"item_id": "s1", "question": "q", "annotator": "a", "value": "x"}
    path.write_text(json.dumps(row) + "\n\n" + json.dumps(row) + "\n")
    assert read_table(path)[1].tolist() == [1, 3]


def _agreed(cands: list[str]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Three annotators agree that the first candidate is good and the second bad, in two items."""
    rows: list[dict[str, Any]] = []
    items = {}
    for item in ("s1", "s2"):
        items[item] = cands
        for ann in ("ann1", "ann2", "ann3"):
            good, bad = cands[0], cands[1]
            rows += [
                {"item_id": item, "candidate_id": good, "question": "tone_zone", "annotator": ann, "value": 0},
                {"item_id": item, "candidate_id": bad, "question": "tone_zone", "annotator": ann, "value": -2},
                {"item_id": item, "candidate_id": good, "question": "liability_flags", "annotator": ann, "value": []},
                {"item_id": item, "candidate_id": bad, "question": "liability_flags", "annotator": ann,
                 "value": ["admits_fault"]},
                {"item_id": item, "candidate_id": "", "question": "preference", "annotator": ann,
                 "value": bad if item == "s2" else good},
            ]
    return rows, items


@settings(max_examples=25, deadline=None)
@given(cands=st.lists(st.sampled_from(LOOKALIKES), min_size=2, max_size=2, unique=True))
def test_the_same_pairs_and_agreement_from_every_format(cands: list[str]) -> None:
    """Ids that look like numbers, booleans, null or lists: same pairs and same agreement everywhere."""
    rows, items = _agreed(cands)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in FORMATS:
            for by in ("brun-label", "hand"):
                path = Path(tmp) / f"{by}.{fmt}"
                if by == "brun-label":
                    write_annotations(make_table(rows), path)
                else:
                    _hand_written(rows, path)
                table, rubric = load_checked(path, "de-escalation", candidates=items, strict=True)
                assert rubric is not None
                sel = select_pairs(table, candidates_frame(items.items()), rubric)
                summary = summarize(table, rubric=rubric)
                results.append((
                    sel.pairs[["item_id", "chosen_id", "rejected_id"]].values.tolist(),
                    sel.items["reason"].tolist(),
                    {q: v["krippendorff_alpha"] for q, v in summary["questions"].items()},
                    summary["questions"]["preference"]["distributions"],
                ))
    assert all(r == results[0] for r in results)
    # s2's annotators all preferred the rejected reply: never a clean pair.
    assert results[0][0] == [["s1", cands[0], cands[1]]]
    assert results[0][1] == ["exported", "preference_contradicts"]
