"""End-to-end export: the right pairs, every format, sidecars, splits, card, gates, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from brun_label.errors import GateError, InputError
from brun_label.exporters import writers
from brun_label.exporters.card import CARD_MARKER
from brun_label.exporters.dpo import ExportOptions, agreement_gate, export_dpo
from brun_label.exporters.pairs import Gates
from brun_label.rubrics import load_rubric
from tests.exporters.helpers import is_clean, item_rows, sample, table, unambiguous_dataset

RUBRIC = load_rubric("de-escalation")
NO_ALPHA = ExportOptions(min_alpha=None)
GOOD_ALPHA = {"tone_zone": {"krippendorff_alpha": 0.9}, "liability_flags": {"krippendorff_alpha": 0.8},
              "preference": {"krippendorff_alpha": 0.85}}


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def data():
    return unambiguous_dataset(n_items=90, seed=1)


def test_exactly_the_unanimous_liability_free_pairs_come_out(tmp_path, data):
    samples, t, kinds = data
    out = tmp_path / "pairs.jsonl"
    summary = export_dpo(t, samples, RUBRIC, out, NO_ALPHA)
    records, prov = read_jsonl(out), read_jsonl(f"{out}.provenance.jsonl")
    assert len(records) == len(prov)
    clean = {item for item, kind in kinds.items() if is_clean(kind)}
    assert {p["sample_id"] for p in prov} == clean
    assert len(prov) == len(clean)  # one pair per clean item, nothing disputed
    by_id = {s.id: s for s in samples}
    for rec, p in zip(records, prov, strict=True):
        s = by_id[p["sample_id"]]
        assert p["chosen_id"].endswith("-good") and p["rejected_id"].endswith("-bad")
        assert rec == {"prompt": s.prompt, "chosen": s.candidate(p["chosen_id"]).text,
                       "rejected": s.candidate(p["rejected_id"]).text}
        assert (p["n_annotators"], p["agreement"], p["margin"]) == (3, 1.0, 1.0)
        assert (p["rubric"], p["rubric_version"], p["category"]) == ("de-escalation", "1", s.category)
    # Every exclusion is counted by reason, and the counts add up.
    excluded = summary["items"]["excluded"]
    assert summary["items"]["exported"] + sum(excluded.values()) == len(samples)
    expected = {"flagged_chosen": "split", "split": "split", "both_bad": "both_bad", "tie": "tie",
                "thin": "too_few_annotators", "judge_third": "too_few_annotators",
                "draft_third": "too_few_annotators", "pref_contradicts": "preference_contradicts",
                "pref_tie": "preference_contradicts"}
    want: dict[str, int] = {}
    for kind in kinds.values():
        if not is_clean(kind):
            want[expected[kind]] = want.get(expected[kind], 0) + 1
    assert excluded == want
    assert summary["examples"] == {"train": len(clean)}
    assert summary["annotations"]["ignored_rows"]["judge"] > 0
    assert summary["annotations"]["ignored_rows"]["not_submitted"] > 0


def test_kto_takes_agreed_candidates_of_every_item_including_both_bad_and_ties(tmp_path, data):
    samples, t, kinds = data
    out = tmp_path / "kto.jsonl"
    export_dpo(t, samples, RUBRIC, out, ExportOptions(fmt="kto", min_alpha=None))
    records, prov = read_jsonl(out), read_jsonl(f"{out}.provenance.jsonl")
    labels = {(p["sample_id"], p["candidate_id"]): p["label"] for p in prov}
    assert all(r["label"] == p["label"] for r, p in zip(records, prov, strict=True))
    for item, kind in kinds.items():
        good, bad = f"{item}-good", f"{item}-bad"
        if kind == "both_bad":
            assert labels[(item, good)] is False and labels[(item, bad)] is False
        elif kind in ("tie",):
            assert labels[(item, good)] is True and labels[(item, bad)] is True
        elif is_clean(kind):
            assert labels[(item, good)] is True and labels[(item, bad)] is False
        elif kind in ("thin", "judge_third", "draft_third"):
            assert (item, good) not in labels and (item, bad) not in labels
        elif kind == "flagged_chosen":
            assert (item, good) not in labels


@pytest.mark.parametrize("fmt", ["trl", "trl-chat", "openai", "kto"])
def test_inline_or_sidecar_provenance(tmp_path, data, fmt):
    samples, t, _ = data
    out = tmp_path / "x.jsonl"
    if fmt == "openai":
        with pytest.raises(InputError, match="no extra keys"):
            export_dpo(t, samples, RUBRIC, out, ExportOptions(fmt=fmt, provenance="inline", min_alpha=None))
        assert not out.exists()
        return
    export_dpo(t, samples, RUBRIC, out, ExportOptions(fmt=fmt, provenance="inline", min_alpha=None))
    assert not Path(f"{out}.provenance.jsonl").exists()
    rec = read_jsonl(out)[0]
    assert {"sample_id", "n_annotators", "agreement", "rubric_version"} <= set(rec)


def test_parquet_and_hf_keep_provenance_columns(tmp_path, data):
    import datasets

    samples, t, kinds = data
    n_clean = sum(is_clean(k) for k in kinds.values())
    pq = tmp_path / "pairs.parquet"
    summary = export_dpo(t, samples, RUBRIC, pq, ExportOptions(fmt="parquet", min_alpha=None))
    assert summary["provenance"] == "columns" and "train_provenance" not in summary["files"]
    df = pd.read_parquet(pq)
    assert list(df.columns[:3]) == ["prompt", "chosen", "rejected"]
    assert {"sample_id", "chosen_id", "rejected_id", "n_annotators", "agreement", "margin", "rubric_version"} <= set(df.columns)
    assert len(df) == n_clean
    hf_dir = tmp_path / "hf"
    export_dpo(t, samples, RUBRIC, hf_dir, ExportOptions(fmt="hf", test_size=0.25, min_alpha=None))
    dd = datasets.load_from_disk(str(hf_dir))
    assert set(dd) == {"train", "test"}
    assert len(dd["train"]) + len(dd["test"]) == n_clean
    assert "chosen_id" in dd["train"].column_names
    assert CARD_MARKER in (hf_dir / "README.md").read_text()
    # Re-exporting replaces the folder whole.
    export_dpo(t, samples, RUBRIC, hf_dir, ExportOptions(fmt="hf", min_alpha=None))
    assert set(datasets.load_from_disk(str(hf_dir))) == {"train"}
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_test_split_by_scenario_stratified_and_seeded(tmp_path):
    samples, rows = [], []
    for i in range(60):
        item = f"s{i}"
        scenario = f"scen{i // 2}"  # two samples per scenario
        samples.append(sample(item, ["a", "b"], category=["hr", "pr", "billing"][(i // 2) % 3], scenario=scenario))
        rows += item_rows(item, {"a": [0, 0, 0], "b": [2, 2, 2]})
    t = table(rows)
    out = tmp_path / "p.jsonl"
    summary = export_dpo(t, samples, RUBRIC, out, ExportOptions(test_size=0.2, seed=4, min_alpha=None))
    train = read_jsonl(tmp_path / "p.train.jsonl.provenance.jsonl")
    test = read_jsonl(tmp_path / "p.test.jsonl.provenance.jsonl")
    assert not out.exists()
    scen = {s.id: s.metadata["scenario"] for s in samples}
    train_s = {scen[p["sample_id"]] for p in train}
    test_s = {scen[p["sample_id"]] for p in test}
    assert not train_s & test_s
    assert len(train) + len(test) == 60
    assert summary["split"]["scenarios"] == {"train": 24, "test": 6}
    assert sorted({p["category"] for p in test}) == ["billing", "hr", "pr"]  # 2 scenarios from each
    again = tmp_path / "again.jsonl"
    export_dpo(t, samples, RUBRIC, again, ExportOptions(test_size=0.2, seed=4, min_alpha=None))
    assert read_jsonl(tmp_path / "again.test.jsonl.provenance.jsonl") == test


def test_card_describes_counts_gates_agreement_exclusions_and_training(tmp_path, data):
    samples, t, _ = data
    out = tmp_path / "pairs.jsonl"
    summary = export_dpo(t, samples, RUBRIC, out, ExportOptions(), agreement=GOOD_ALPHA)
    card = (tmp_path / "README.md").read_text()
    assert summary["files"]["card"] == str(tmp_path / "README.md")
    for needle in ("## Counts", "## Gates", "## Agreement per question", "## Exclusions", "too_few_annotators",
                   "| tone_zone | 0.900 | yes | passed |", "load_dataset('json'", "DPOTrainer",
                   "path: pairs.jsonl", "0.667"):
        assert needle in card, needle
    # A README.md brun-label did not write is never overwritten.
    (tmp_path / "README.md").write_text("# my project\n")
    summary = export_dpo(t, samples, RUBRIC, out, NO_ALPHA)
    assert (tmp_path / "README.md").read_text() == "# my project\n"
    assert summary["files"]["card"] == str(tmp_path / "pairs.README.md")
    assert CARD_MARKER in (tmp_path / "pairs.README.md").read_text()


def test_the_card_loads_the_data_with_datasets(tmp_path, data):
    """The YAML header of the card makes the folder loadable as is."""
    import datasets

    samples, t, _ = data
    export_dpo(t, samples, RUBRIC, tmp_path / "pairs.jsonl", ExportOptions(test_size=0.3, min_alpha=None))
    dd = datasets.load_dataset(str(tmp_path))
    assert set(dd) == {"train", "test"}
    assert dd["train"].column_names == ["prompt", "chosen", "rejected"]


def test_low_alpha_blocks_the_export_unless_forced(tmp_path, data):
    samples, t, _ = data
    out = tmp_path / "pairs.jsonl"
    low = {**GOOD_ALPHA, "tone_zone": {"krippendorff_alpha": 0.41}}
    with pytest.raises(GateError, match=r"tone_zone α=0\.410 < --min-alpha 0\.667"):
        export_dpo(t, samples, RUBRIC, out, ExportOptions(), agreement=low)
    assert list(tmp_path.iterdir()) == []
    summary = export_dpo(t, samples, RUBRIC, out, ExportOptions(force=True), agreement=low)
    assert summary["alpha_blocked"] == ["tone_zone"]
    assert "overridden with `--force`" in (tmp_path / "README.md").read_text()
    # A question that does not decide the pairs never blocks.
    ok = {**GOOD_ALPHA, "rationale": {"krippendorff_alpha": 0.0}}
    export_dpo(t, samples, RUBRIC, out, ExportOptions(), agreement=ok)


def test_agreement_gate_matches_per_flag_keys_and_ignores_uncomputable_alpha():
    per_q, blocked = agreement_gate(
        {"liability_flags:admits_fault": {"krippendorff_alpha": 0.2}, "liability_flagsx": {"krippendorff_alpha": 0.1},
         "preference": {"krippendorff_alpha": float("nan")}},
        RUBRIC, 0.667,
    )
    assert blocked == ["liability_flags:admits_fault"]
    assert per_q["preference"]["krippendorff_alpha"] is None and per_q["preference"]["passed"]


def test_nothing_to_export_is_a_gate_failure_and_writes_nothing(tmp_path):
    t = table(item_rows("s1", {"a": [0, 0, 1], "b": [2, 2, 2]}))
    with pytest.raises(GateError, match=r"nothing to export.*split 1"):
        export_dpo(t, [sample("s1", ["a", "b"])], RUBRIC, tmp_path / "p.jsonl", NO_ALPHA)
    assert list(tmp_path.iterdir()) == []


def test_annotations_of_other_samples_are_an_input_error(tmp_path):
    t = table(item_rows("other", {"a": [0, 0, 0], "b": [2, 2, 2]}))
    with pytest.raises(InputError, match="wrong --samples"):
        export_dpo(t, [sample("s1", ["a", "b"])], RUBRIC, tmp_path / "p.jsonl", NO_ALPHA)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        (ExportOptions(fmt="csv"), "--format"),
        (ExportOptions(test_size=1.0), "--test-size"),
        (ExportOptions(provenance="both"), "--provenance"),
        (ExportOptions(fmt="parquet", provenance="inline"), "--provenance"),
        (ExportOptions(min_alpha=2.0), "--min-alpha"),
    ],
)
def test_bad_options_name_the_option(tmp_path, options, field):
    with pytest.raises(InputError) as exc:
        export_dpo(table(item_rows("s1", {"a": [0] * 3, "b": [2] * 3})), [sample("s1", ["a", "b"])], RUBRIC,
                   tmp_path / "p.jsonl", options)
    assert exc.value.field == field


def test_an_interrupted_export_leaves_the_previous_file(tmp_path, data, monkeypatch):
    samples, t, _ = data
    out = tmp_path / "pairs.jsonl"
    export_dpo(t, samples, RUBRIC, out, NO_ALPHA)
    before = out.read_bytes()
    real = writers.jsonable
    calls = {"n": 0}

    def dies_midway(rec):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(rec)

    monkeypatch.setattr(writers, "jsonable", dies_midway)
    with pytest.raises(KeyboardInterrupt):
        export_dpo(t, samples, RUBRIC, out, ExportOptions(fmt="trl-chat", min_alpha=None))
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["README.md", "pairs.jsonl", "pairs.jsonl.provenance.jsonl"]


def test_gates_are_configurable(tmp_path):
    t = table(item_rows("s1", {"a": [0, 0], "b": [2, 2]}))
    summary = export_dpo(t, [sample("s1", ["a", "b"])], RUBRIC, tmp_path / "p.jsonl",
                         ExportOptions(gates=Gates(min_annotators=2), min_alpha=None))
    assert summary["examples"] == {"train": 1}
    assert summary["gates"]["min_annotators"] == 2


def test_the_gate_uses_the_alpha_that_summarize_reports(data):
    from brun_label.agreement.summary import summarize
    from brun_label.exporters.dpo import compute_agreement
    from brun_label.exporters.pairs import counted

    _, t, _ = data
    rows, _ = counted(t)
    ours = compute_agreement(rows, RUBRIC)
    theirs = summarize(rows, rubric=RUBRIC)["questions"]
    assert set(ours) == set(theirs) == {"tone_zone", "liability_flags", "preference"}
    for q in ours:
        assert ours[q]["krippendorff_alpha"] == pytest.approx(theirs[q]["krippendorff_alpha"])


def test_a_value_that_is_not_an_option_is_bad_input_when_alpha_is_computed(tmp_path):
    t = table(item_rows("s1", {"a": [0, 0, 7], "b": [2, 2, 2]}))
    with pytest.raises(InputError, match="7 is not an option"):
        export_dpo(t, [sample("s1", ["a", "b"])], RUBRIC, tmp_path / "p.jsonl", ExportOptions())
