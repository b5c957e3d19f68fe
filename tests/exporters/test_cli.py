"""``brun-label export dpo``: exit codes, one-line errors, --json, files; agreement from the real summary."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from brun_label.cli import cli
from brun_label.exporters.tables import write_annotations
from tests.exporters.helpers import item_rows, sample, table


def write_samples(path: Path, samples) -> None:
    path.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in samples), encoding="utf-8")


def agreed_dataset(n: int = 30, disputed: int = 4):
    """Mostly unanimous items (flags ticked the same way by everyone), plus a few split ones."""
    samples, rows = [], []
    for i in range(n):
        item = f"s{i:02d}"
        samples.append(sample(item, ["a", "b"], category=["hr", "pr"][i % 2]))
        if i < disputed:
            rows += item_rows(item, {"a": [0, 0, 1], "b": [2, 2, 2]}, flags={"b": [["admits_fault"]] * 3},
                              pref=["a", "a", "a"])
        else:
            rows += item_rows(item, {"a": [0, 0, 0], "b": [2, 2, 2] if i % 3 else [-2, -2, -2]},
                              flags={"a": [[]] * 3, "b": [["admits_fault"]] * 3 if i % 2 else [[]] * 3},
                              pref=["a", "a", "a"])
    return samples, table(rows)


def noisy_dataset(n: int = 40, seed: int = 0):
    """Annotators who answer at random: α near zero on every question."""
    rng = random.Random(seed)
    samples, rows = [], []
    for i in range(n):
        item = f"s{i:02d}"
        samples.append(sample(item, ["a", "b"]))
        rows += item_rows(item, {c: [rng.choice([-2, -1, 0, 1, 2]) for _ in range(3)] for c in "ab"},
                          pref=[rng.choice(["a", "b", "tie", "both_bad"]) for _ in range(3)])
    return samples, table(rows)


@pytest.fixture
def files(tmp_path):
    def make(dataset, ext: str = "parquet"):
        samples, t = dataset
        ann = tmp_path / f"ann.{ext}"
        write_annotations(t, ann)
        sp = tmp_path / "samples.jsonl"
        write_samples(sp, samples)
        return str(ann), str(sp)

    return make


def run(*args: str):
    """``export dpo`` with the de-escalation rubric unless the test passes its own."""
    rubric = [] if "--rubric" in args or "--no-rubric-for-test" in args else ["--rubric", "de-escalation"]
    args = tuple(a for a in args if a != "--no-rubric-for-test")
    return CliRunner().invoke(cli, ["export", "dpo", *args, *rubric])


def test_a_table_that_records_no_rubric_needs_one(tmp_path, files):
    ann, sp = files(agreed_dataset())
    res = run(ann, "--samples", sp, "-o", str(tmp_path / "p.jsonl"), "--no-rubric-for-test")
    assert res.exit_code == 2
    assert "records no rubric: pass one with --rubric" in res.stderr
    assert not (tmp_path / "p.jsonl").exists()


def test_help_has_an_example():
    res = CliRunner().invoke(cli, ["export", "dpo", "--help"])
    assert res.exit_code == 0
    assert "brun-label export dpo ann.parquet --samples samples.jsonl -o pairs.jsonl" in res.output
    assert "--min-annotators" in res.output and "--min-alpha" in res.output
    assert "dpo" in CliRunner().invoke(cli, ["export", "--help"]).output


def test_export_writes_files_and_prints_the_summary_as_json(tmp_path, files):
    ann, sp = files(agreed_dataset())
    out = tmp_path / "out" / "pairs.jsonl"
    res = run(ann, "--samples", sp, "-o", str(out), "--format", "trl", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["examples"] == {"train": 26}
    assert summary["items"]["excluded"] == {"split": 4}
    assert summary["gates"]["min_annotators"] == 3 and summary["gates"]["min_alpha"] == 0.667
    assert summary["agreement"]["tone_zone"]["krippendorff_alpha"] > 0.667
    assert summary["agreement"]["tone_zone"]["gated"]
    assert len(out.read_text().splitlines()) == 26
    assert (tmp_path / "out" / "README.md").exists()
    assert "read " in res.stderr  # progress goes to stderr


def test_human_readable_summary(tmp_path, files):
    ann, sp = files(agreed_dataset(), ext="jsonl")
    res = run(ann, "--samples", sp, "-o", str(tmp_path / "p.jsonl"), "--format", "openai")
    assert res.exit_code == 0, res.output
    assert "exported 26 pairs (train 26) from 26 of 30 items" in res.stdout
    assert "excluded items: split 4" in res.stdout


def test_low_agreement_exits_3_with_one_line_and_writes_nothing(tmp_path, files):
    ann, sp = files(noisy_dataset())
    out = tmp_path / "o" / "p.jsonl"
    res = run(ann, "--samples", sp, "-o", str(out), "--min-annotators", "1", "--min-share", "0.6")
    assert res.exit_code == 3, res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--min-alpha" in errors[0] and "Traceback" not in res.stderr
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_force_exports_despite_low_agreement_and_says_so(tmp_path, files):
    ann, sp = files(noisy_dataset())
    out = tmp_path / "p.jsonl"
    res = run(ann, "--samples", sp, "-o", str(out), "--min-annotators", "1", "--min-share", "0.6",
              "--format", "kto", "--force", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["alpha_blocked"]
    assert "despite low agreement" in res.stderr
    assert "overridden with `--force`" in (tmp_path / "README.md").read_text()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--min-share", "0.4"], "--min-share"),
        (["--test-size", "1.5"], "--test-size"),
        (["--format", "openai", "--provenance", "inline"], "--provenance"),
        (["--card", "c.md", "--no-card"], "--no-card"),
        (["--rubric", "nope"], "nope"),
        (["--min-posterior", "0.95"], "--min-posterior: applies with --consensus dawid-skene only"),
        (["--consensus", "dawid-skene", "--min-posterior", "1.5"], "--min-posterior"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, files, args, needle):
    ann, sp = files(agreed_dataset())
    res = run(ann, "--samples", sp, "-o", str(tmp_path / "p.jsonl"), *args)
    assert res.exit_code == 2, res.output
    assert needle in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "p.jsonl").exists()


def test_missing_or_mismatched_inputs_exit_2(tmp_path, files):
    ann, sp = files(agreed_dataset())
    res = run(str(tmp_path / "nope.parquet"), "--samples", sp, "-o", str(tmp_path / "p.jsonl"))
    assert res.exit_code == 2 and "nope.parquet" in res.stderr and "no such file" in res.stderr
    other = tmp_path / "other.jsonl"
    write_samples(other, [sample("zz", ["a", "b"])])
    res = run(ann, "--samples", str(other), "-o", str(tmp_path / "p.jsonl"), "--min-alpha", "-1")
    assert res.exit_code == 2 and "wrong --samples" in res.stderr


def test_nothing_passing_the_gates_exits_3(tmp_path, files):
    ann, sp = files(agreed_dataset())
    res = run(ann, "--samples", sp, "-o", str(tmp_path / "p.jsonl"), "--min-annotators", "4")
    assert res.exit_code == 3
    assert "nothing to export" in res.stderr and "too_few_annotators 30" in res.stderr


def test_parquet_format_follows_the_extension_and_split_files(tmp_path, files):
    import pandas as pd

    ann, sp = files(agreed_dataset())
    res = run(ann, "--samples", sp, "-o", str(tmp_path / "p.parquet"), "--test-size", "0.2", "--seed", "3", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["format"] == "parquet"
    train = pd.read_parquet(tmp_path / "p.train.parquet")
    test = pd.read_parquet(tmp_path / "p.test.parquet")
    assert len(train) + len(test) == 26 and not set(train["sample_id"]) & set(test["sample_id"])


def test_consensus_dawid_skene_is_an_option_and_the_card_says_so(tmp_path, files):
    ann, sp = files(agreed_dataset())
    out = tmp_path / "pairs.jsonl"
    res = run(ann, "--samples", sp, "-o", str(out), "--consensus", "dawid-skene", "--min-posterior", "0.95",
              "--json")
    assert res.exit_code == 0, res.output
    gates = json.loads(res.stdout)["gates"]
    assert (gates["consensus"], gates["min_posterior"]) == ("dawid-skene", 0.95)
    assert "reliability-weighted, Dawid–Skene" in (tmp_path / "README.md").read_text()
