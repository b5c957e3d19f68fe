"""The project file: validated with file, line and key; written by `init`; people attributed."""

from __future__ import annotations

import os
import stat
from importlib import resources

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from brun_label.cli import cli
from brun_label.errors import InputError
from brun_label.people import attribute_people, pseudonymize
from brun_label.project import project_from_dict
from brun_label.project_file import load_project
from brun_label.table import make_table

SAMPLES = str(resources.files("brun_label.data") / "de-escalation.jsonl")


def _write(tmp_path, text):
    p = tmp_path / "brun-label.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("samples: s.jsonl\nrubric: de-escalation\nplatforms:\n  label-studio:\n    title: x\n", 5,
         "platforms.label-studio.title"),
        ("samples: s.jsonl\nrubric: de-escalation\nplatforms:\n  argilla: {dataset: d}\npeople:\n"
         "  - {name: Ana, argilla: ana}\n  - {name: Bo, argilla: ANA}\n", 7, "people[1].argilla"),
        ("samples: s.jsonl\nrubric: de-escalation\nplatforms:\n  argilla: {dataset: d}\ngates:\n  min_share: 3\n",
         6, "gates.min_share"),
        ("samples: s.jsonl\nrubric: de-escalation\nplatforms:\n  argilla: {dataset: d, api_key: k}\n", 4,
         "platforms.argilla.api_key"),
        ("samples: s.jsonl\nrubric: de-escalation\nplatforms: {}\n", 3, "platforms"),
        ("samples: s.jsonl\nrubric: de-escalation\nplatforms:\n  argilla: {dataset: d}\nextra: 1\n", 5, "extra"),
        ("samples: s.jsonl\nrubric: de-escalation\nplatforms:\n  argilla: {dataset: d}\nconsensus: mace\n", 5,
         "consensus"),
        ("samples: s.jsonl\nrubric: de-escalation\nplatforms:\n  argilla: {dataset: d}\ngates:\n"
         "  min_posterior: 1\n", 6, "gates.min_posterior"),
    ],
)
def test_problems_name_file_line_and_key(tmp_path, text, line, field):
    p = _write(tmp_path, text)
    with pytest.raises(InputError) as exc:
        load_project(p)
    assert (exc.value.path, exc.value.line, exc.value.field) == (str(p), line, field)


def test_paths_are_relative_to_the_project_folder(tmp_path):
    p = _write(tmp_path, "samples: data/s.jsonl\nrubric: rubrics/mine.yaml\nplatforms:\n  argilla: {dataset: d}\n")
    project = load_project(p)
    assert project.samples == str(tmp_path / "data" / "s.jsonl")
    assert project.rubric == str(tmp_path / "rubrics" / "mine.yaml")
    assert project.table == str(tmp_path / ".brun-label" / "project" / "annotations.parquet")


def test_init_writes_a_project_that_reads_back(tmp_path):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        result = runner.invoke(cli, [
            "init", "--samples", SAMPLES, "--rubric", "de-escalation", "--label-studio-project", "Crisis v1",
            "--argilla-dataset", "crisis-v1", "--argilla-workspace", "team",
            "--person", "Ana:label-studio=ana@corp.com,argilla=ana", "--person", "Bo:argilla=bo", "--overlap", "3"])
        assert result.exit_code == 0, result.output
        project = load_project("brun-label.yaml")
        assert project.rubric_identity is not None and project.rubric_identity.startswith("de-escalation@")
        assert [p.name for p in project.people] == ["Ana", "Bo"]
        assert project.targets["argilla"].workspace == "team" and project.overlap == 3
        assert "salt" not in result.output
        again = runner.invoke(cli, ["init", "--samples", SAMPLES, "--rubric", "de-escalation",
                                    "--argilla-dataset", "x"])
        assert again.exit_code == 2 and "already here" in again.stderr
        assert not stat.S_IMODE(os.stat("brun-label.yaml").st_mode) & 0o002


def test_init_refuses_bad_people_in_one_line(tmp_path):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        result = runner.invoke(cli, ["init", "--samples", SAMPLES, "--rubric", "de-escalation",
                                     "--argilla-dataset", "d", "--person", "Ana:doccano=ana"])
        assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "--person" in result.stderr
        assert not os.path.exists("brun-label.yaml")


PROJECT = project_from_dict({
    "samples": "s.jsonl", "rubric": "de-escalation", "pseudonym_salt": "s",
    "platforms": {"label-studio": {"project": "P"}, "argilla": {"dataset": "d"}},
    "people": [{"name": "Ana", "label-studio": "ana@corp.com", "argilla": "ana", "pseudonym": "p1"},
               {"name": "Bo", "label-studio": "bo@corp.com"}]})


def _row(annotator, platform, value, at, item="s1", question="tone_zone", cand="c1"):
    return {"item_id": item, "candidate_id": cand, "question": question, "annotator": annotator,
            "value": value, "platform": platform, "submitted_at": at}


def test_one_person_on_two_platforms_counts_once_the_later_answer():
    t = make_table([
        _row("ana@corp.com", "label-studio", 0, "2026-01-01T00:00:00Z"),
        _row("ANA", "argilla", -1, "2026-01-03T00:00:00Z"),
        _row("ana", "argilla", ["admits_fault"], "2026-01-03T00:00:00Z", question="liability_flags"),
        _row("ana@corp.com", "label-studio", [], "2026-01-01T00:00:00Z", question="liability_flags"),
        _row("bo@corp.com", "label-studio", 1, "2026-01-02T00:00:00Z"),
        _row("judge:gpt", "label-studio", 0, None),
        _row("zed", "argilla", 2, "2026-01-02T00:00:00Z"),
    ])
    out, report = attribute_people(t, PROJECT)
    assert report.cross_platform_duplicates == 2
    got = {(r.annotator, r.question): r.value for r in out.itertuples()}
    assert got == {("Ana", "tone_zone"): -1, ("Ana", "liability_flags"): ["admits_fault"],
                   ("Bo", "tone_zone"): 1, ("judge:gpt", "tone_zone"): 0, ("argilla:zed", "tone_zone"): 2}
    assert report.unmatched == {"argilla:zed": 1}
    assert any("matches no person" in n for n in report.notes())


@given(st.lists(st.tuples(st.sampled_from(["ana@corp.com", "ana", "bo@corp.com", "zed"]),
                          st.sampled_from(["s1", "s2"]), st.integers(0, 5)), max_size=30))
def test_attribution_never_invents_rows_and_keeps_one_voter_per_person(rows):
    t = make_table([_row(a, "label-studio" if "@" in a else "argilla", 0, f"2026-01-0{1 + d % 5}T00:00:00Z", item=i)
                    for a, i, d in rows]) if rows else make_table([])
    out, _ = attribute_people(t, PROJECT)
    assert len(out) <= len(t)
    if len(out):
        people = out[out["annotator"].isin(["Ana", "Bo"])]
        per_person = people.groupby(["item_id", "candidate_id", "question", "annotator"])["platform"].nunique()
        assert (per_person <= 1).all()


def test_pseudonyms_are_stable_and_hide_names():
    t = make_table([_row("Ana", "argilla", 0, None), _row("argilla:zed", "argilla", 1, None),
                    _row("judge:gpt", "argilla", 0, None)])
    a, b = pseudonymize(t, PROJECT), pseudonymize(t, PROJECT)
    pd.testing.assert_frame_equal(a, b)
    names = a["annotator"].tolist()
    assert names[0] == "p1" and names[1].startswith("annotator-") and "zed" not in names[1]
    assert names[2] == "judge:gpt"


def test_validate_in_a_project_folder_checks_its_samples_and_gold(tmp_path):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        gold = {"id": "g1", "prompt": "Refund!", "candidates": [
            {"id": "a", "text": "I can help.", "gold": {"tone_zone": 7}}, {"id": "b", "text": "No."}]}
        with open("gold.jsonl", "w") as fh:
            fh.write(__import__("json").dumps(gold) + "\n")
        assert runner.invoke(cli, ["init", "--samples", SAMPLES, "--rubric", "de-escalation",
                                   "--argilla-dataset", "d"]).exit_code == 0
        ok = runner.invoke(cli, ["validate"])
        assert ok.exit_code == 0 and "24 valid sample(s), ok" in ok.stdout
        with open("brun-label.yaml", "a") as fh:
            fh.write("gold: gold.jsonl\n")
        bad = runner.invoke(cli, ["validate"])
        assert bad.exit_code == 2 and "gold.jsonl:1: candidates[0].gold.tone_zone: 7 is not one of" in bad.stderr


def test_adaptive_overlap_decides_by_the_reliability_weighted_consensus_unless_told_otherwise():
    base = {"samples": "s", "rubric": "r", "platforms": {"argilla": {"dataset": "d"}}, "overlap": 2}
    assert project_from_dict(base).export_gates()["consensus"] == "share"
    adaptive = project_from_dict({**base, "max_overlap": 4, "gates": {"min_posterior": 0.995}})
    assert adaptive.export_gates() == {"min_annotators": 2.0, "min_share": 0.8, "max_flag_share": 0.0,
                                       "consensus": "dawid-skene", "min_posterior": 0.995}
    told = project_from_dict({**base, "max_overlap": 4, "consensus": "share"})
    assert told.export_gates()["consensus"] == "share" and "min_posterior" not in told.export_gates()
    from brun_label.project import project_to_dict
    assert project_from_dict(project_to_dict(told)) == told


def test_init_records_the_consensus_that_export_and_route_will_use(tmp_path):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        result = runner.invoke(cli, ["init", "--samples", SAMPLES, "--rubric", "de-escalation",
                                     "--argilla-dataset", "d", "--overlap", "2", "--max-overlap", "5",
                                     "--consensus", "share"])
        assert result.exit_code == 0, result.output
        assert load_project("brun-label.yaml").export_gates()["consensus"] == "share"
        bad = runner.invoke(cli, ["init", "--samples", SAMPLES, "--rubric", "de-escalation", "--argilla-dataset",
                                  "d", "--consensus", "mace", "--force"])
        assert bad.exit_code == 2 and "--consensus" in bad.stderr
