"""``brun-label agreement`` through Click's CliRunner: output formats, gate, errors, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from brun_label.cli import cli
from brun_label.exporters.tables import write_annotations
from tests.agreement.examples import synthetic_table


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    table = synthetic_table(np.random.default_rng(11), 30, ("ann1", "ann2", "ann3", "drift"), drifter="drift")
    path = tmp_path / "annotations.jsonl"
    write_annotations(table, path)
    return path


@pytest.fixture
def samples_path(tmp_path: Path) -> Path:
    path = tmp_path / "samples.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(30):
            fh.write(json.dumps({
                "id": f"s{i:03d}", "prompt": f"Order {i} never arrived. Refund me <now>!",
                "candidates": [{"id": f"c{i:03d}a", "text": "So sorry, our fault entirely."},
                               {"id": f"c{i:03d}b", "text": "I hear you; here is what I can do today."}],
            }) + "\n")
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["agreement", *args])


def test_readable_table(table_path: Path) -> None:
    res = run(str(table_path), "--rubric", "de-escalation")
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert out.splitlines()[0].split()[:3] == ["question", "level", "units"]
    for q in ("tone_zone", "liability_flags", "preference"):
        assert q in out
    assert "ordinal (rubric)" in out
    assert "drift: tone_zone" in out
    assert "Judge vs the annotators' consensus" in out
    assert "rows from" in res.stderr  # logs go to stderr


def test_json_is_exactly_one_object_on_stdout(table_path: Path) -> None:
    res = run(str(table_path), "--rubric", "de-escalation", "--json", "--bootstrap", "200", "--seed", "3")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    q = data["questions"]["tone_zone"]
    assert {"level", "n_units", "n_annotators", "n_ratings", "krippendorff_alpha", "alpha_ci95",
            "percent_agreement", "fleiss_kappa", "gwet_ac1", "cohen_kappa_pairwise"} <= set(q)
    assert q["alpha_ci95"][0] <= q["krippendorff_alpha"] <= q["alpha_ci95"][1]
    assert "NaN" not in res.stdout
    assert data["settings"] == {"rubric": "de-escalation", "n_bootstrap": 200, "seed": 3, "levels": {}}


def test_level_option_and_default_level(table_path: Path) -> None:
    res = run(str(table_path), "--level", "tone_zone=interval", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["questions"]["tone_zone"]["level"] == "interval"
    assert data["questions"]["tone_zone"]["level_source"] == "option"
    assert data["questions"]["preference"]["level_source"] == "default"
    assert "nominal (default)" in run(str(table_path)).stdout


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_csv_and_parquet(table_path: Path, tmp_path: Path, fmt: str) -> None:
    from brun_label.importers.annotations import read_annotations

    other = tmp_path / f"annotations.{fmt}"
    write_annotations(read_annotations(table_path), other)
    a = json.loads(run(str(table_path), "--rubric", "de-escalation", "--json").stdout)
    b = json.loads(run(str(other), "--rubric", "de-escalation", "--json").stdout)
    assert a["questions"] == b["questions"]


def test_min_alpha_gate(table_path: Path) -> None:
    ok = run(str(table_path), "--rubric", "de-escalation", "--min-alpha", "0.1")
    assert ok.exit_code == 0
    fail = run(str(table_path), "--rubric", "de-escalation", "--min-alpha", "0.99", "--json")
    assert fail.exit_code == 3
    assert json.loads(fail.stdout)["questions"]  # the data is still printed
    errors = [line for line in fail.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "below 0.99" in errors[0]
    assert "Traceback" not in fail.stderr


def test_undefined_alpha_fails_the_gate(tmp_path: Path) -> None:
    path = tmp_path / "same.jsonl"
    path.write_text("".join(
        json.dumps({"item_id": f"s{u}", "candidate_id": "c", "question": "tone_zone", "annotator": a, "value": 0}) + "\n"
        for u in range(5) for a in ("x", "y")
    ))
    res = run(str(path), "--min-alpha", "0.5")
    assert res.exit_code == 3 and "tone_zone (undefined)" in res.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "tone_zone"], "--level: expected QUESTION=LEVEL"),
        (["--level", "tone_zone=likert"], "must be one of nominal"),
        (["--rubric", "nope"], "no rubric pack or file named 'nope'"),
        (["--bootstrap", "-1"], "Invalid value for '--bootstrap'"),
    ],
)
def test_usage_errors_exit_2(table_path: Path, args: list[str], message: str) -> None:
    res = run(str(table_path), *args)
    assert res.exit_code == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_bad_files_exit_2_naming_file_line_and_field(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "nope.jsonl"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"item_id": "s1", "candidate_id": "c", "question": "tone_zone", "annotator": "a", "value": 0}) + "\n"
        + json.dumps({"item_id": "s1", "candidate_id": "c", "question": "tone_zone", "annotator": "", "value": 7}) + "\n"
    )
    res = run(str(bad))
    assert res.exit_code == 2 and f"{bad}:2: annotator: is empty" in res.stderr
    bad.write_text(json.dumps({"item_id": "s1", "candidate_id": "c", "question": "tone_zone", "annotator": "a", "value": 7}) + "\n")
    report = tmp_path / "report.html"
    res = run(str(bad), "--rubric", "de-escalation", "--report", str(report), "--strict")
    assert res.exit_code == 2
    assert f"invalid answer (not used): {bad}:1: value: tone_zone: 7 is not an option" in res.stderr
    assert "1 invalid answer(s)" in res.stderr and res.stdout == ""
    assert not report.exists()  # no partial output


def test_invalid_answers_are_reported_and_not_used(tmp_path: Path) -> None:
    """Without --strict an invalid answer is named on stderr, left out, and the command succeeds."""
    rows = [{"item_id": f"s{u}", "candidate_id": "c", "question": "tone_zone", "annotator": a, "value": v}
            for u in range(4) for a, v in (("a", u % 3 - 1), ("b", u % 3 - 1))]
    rows.append({"item_id": "s0", "candidate_id": "c", "question": "tone_zone", "annotator": "c", "value": 7})
    rows += [{"item_id": "s0", "candidate_id": "", "question": "preference", "annotator": a, "value": v}
             for a, v in (("a", "c"), ("b", "nobody"))]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run(str(path), "--rubric", "de-escalation", "--json")
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stderr.splitlines() if x.startswith("invalid answer")]
    assert lines == [
        f"invalid answer (not used): {path}:9: value: tone_zone: 7 is not an option (-2, -1, 0, 1, 2)",
        f"invalid answer (not used): {path}:11: value: preference: 'nobody' is not tie, both_bad or a candidate "
        "of item s0 (c)",
    ]
    data = json.loads(res.stdout)
    assert data["questions"]["tone_zone"]["n_ratings"] == 8
    assert data["questions"]["preference"]["n_ratings"] == 1


def test_report_is_written_and_self_contained(table_path: Path, samples_path: Path, tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.html"
    res = run(str(table_path), "--rubric", "de-escalation", "--bootstrap", "100", "--report", str(report),
              "--samples", str(samples_path))
    assert res.exit_code == 0, res.output
    html = report.read_text(encoding="utf-8")
    assert html.count('<svg class="chart') >= 8
    assert "Refund me &lt;now&gt;!" in html  # sample texts, escaped
    for needle in ("<script", "src=\"http", "href=\"http", "url(http", "@import"):
        assert needle not in html


def test_help_has_an_example() -> None:
    res = CliRunner().invoke(cli, ["agreement", "--help"])
    assert res.exit_code == 0
    assert "Example:" in res.output and "--min-alpha" in res.output
    assert "agreement" in CliRunner().invoke(cli, ["--help"]).output
