"""Importers: JSONL, CSV and Parquet, and every kind of malformed file."""

import json

import pandas as pd
import pytest

from brun_label.errors import InputError, ValidationFailed
from brun_label.importers.samples import detect_format, read_samples, validate_samples

GOOD = {"id": "s1", "category": "hr_complaint", "prompt": "My manager humiliated me.",
        "candidates": [{"id": "a", "text": "I'm sorry, we'll fire him."},
                       {"id": "b", "text": "Thank you for raising this; here is what happens next."}]}


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def messages(report, path):
    return [p.render().replace(str(path), "F") for p in report.problems]


def test_reads_the_three_formats_to_the_same_samples(tmp_path):
    chat = {**GOOD, "id": "s2", "prompt": [{"role": "system", "content": "Be calm."},
                                          {"role": "user", "content": "Fix it."}]}
    jsonl = write_jsonl(tmp_path / "s.jsonl", [GOOD, chat])
    rows = [{k: (json.dumps(v) if not isinstance(v, str) else v) for k, v in r.items()} for r in (GOOD, chat)]
    pd.DataFrame(rows).to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "s.parquet")
    expected = read_samples(jsonl)
    for name in ("s.csv", "s.parquet"):
        assert read_samples(tmp_path / name) == expected, name
    # Native nested Parquet: candidates as list<struct>, prompt as list<struct> messages.
    pd.DataFrame([chat, {**chat, "id": "s3"}]).to_parquet(tmp_path / "nested.parquet")
    nested = read_samples(tmp_path / "nested.parquet")
    assert nested[0] == expected[1] and nested[1].id == "s3"


def test_csv_wide_candidate_columns(tmp_path):
    p = tmp_path / "wide.csv"
    p.write_text("id,prompt,candidate_1_text,candidate_1_persona,candidate_2_text\n"
                 's1,"Where is my order?",It is late.,Diplomatic_Firmness,"Not our problem, see terms."\n')
    (sample,) = read_samples(p)
    assert [c.text for c in sample.candidates] == ["It is late.", "Not our problem, see terms."]
    assert sample.candidates[0].persona == "Diplomatic_Firmness"


def test_every_problem_is_reported_with_file_line_and_field(tmp_path):
    p = write_jsonl(tmp_path / "bad.jsonl", [
        GOOD,
        "{broken json",
        {**GOOD, "id": "s3", "prompt": None},
        {**GOOD, "id": "s4", "candidates": [{"text": "alone"}]},
        {**GOOD, "id": "s5", "candidates": [{"text": 1}, {"text": "x"}]},
        GOOD,
        "[1, 2]",
    ])
    report = validate_samples(p)
    assert report.n_valid == 1 and not report.ok
    assert messages(report, p) == [
        "F:2: (line): not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        "F:3: prompt: is missing",
        "F:4: candidates: needs at least 2 candidates, got 1",
        "F:5: candidates[0].text: must be a string, got int",
        "F:6: id: duplicate sample id 's1' (first on line 1)",
        "F:7: (sample): must be a JSON object, got list",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty: no samples"),
        (b"\n  \n", "file is empty: no samples"),
        (b"\x00\x01\x02garbage\xff" * 100, "file is binary, not text"),
    ],
)
def test_empty_and_binary_files(tmp_path, content, message):
    p = tmp_path / "x.jsonl"
    p.write_bytes(content)
    report = validate_samples(p)
    assert len(report.problems) == 1 and message in report.problems[0].render()


def test_wrong_encoding_names_the_line(tmp_path):
    p = tmp_path / "latin1.jsonl"
    good = json.dumps(GOOD).encode()
    bad = json.dumps({**GOOD, "id": "s2", "prompt": "Gérard est furieux"}, ensure_ascii=False).encode("latin-1")
    p.write_bytes(good + b"\n" + bad + b"\n")
    (problem,) = validate_samples(p).problems
    assert problem.line == 2 and "not UTF-8" in problem.message


def test_csv_and_parquet_problems_are_located(tmp_path):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text('id,prompt,candidates\ns1,hi,"[{""text"": ""a""}, {""text"": ""b""}]"\n'
                        's2,,"[{""text"": ""a""}, {""text"": ""b""}]"\ns3,hi,"[{""text"": ""a""}"\n')
    assert messages(validate_samples(csv_path), csv_path) == [
        "F:3: prompt: is missing",
        "F:4: candidates: not valid JSON: Expecting ',' delimiter (column 15)",
    ]
    pq_path = tmp_path / "bad.parquet"
    pd.DataFrame([{"id": "s1", "prompt": "hi", "candidates": json.dumps([{"text": "a"}])}]).to_parquet(pq_path)
    assert messages(validate_samples(pq_path), pq_path) == ["F:1: candidates: needs at least 2 candidates, got 1"]
    not_pq = tmp_path / "fake.parquet"
    not_pq.write_text("hello")
    assert "not a Parquet file" in validate_samples(not_pq).problems[0].message


def test_read_samples_raises_with_all_problems(tmp_path):
    p = write_jsonl(tmp_path / "bad.jsonl", ["{", "{"])
    with pytest.raises(ValidationFailed) as exc:
        read_samples(p)
    assert len(exc.value.problems) == 2 and "and 1 more problems" in str(exc.value)


def test_format_detection():
    assert detect_format("x.JSONL") == "jsonl"
    with pytest.raises(InputError, match="pass --format"):
        detect_format("x.txt")
    with pytest.raises(InputError, match="unknown format"):
        detect_format("x.jsonl", "xml")
