"""Every JSONL format validates against its published schema, and the schemas mean something."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from brun_label.exporters.dpo import ExportOptions, export_dpo
from brun_label.exporters.formats import JSONL_FORMATS, load_schema, pair_record, prompt_string
from brun_label.rubrics import load_rubric
from tests.exporters.helpers import item_rows, sample, table, unambiguous_dataset

RUBRIC = load_rubric("de-escalation")
CHAT = [{"role": "system", "content": "You answer for Ledgerly support. Stay calm."},
        {"role": "user", "content": "You charged me three times!"}]
HISTORY = [*CHAT, {"role": "assistant", "content": "I'm looking into it."},
           {"role": "user", "content": "It's been a week."}]


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def mixed_dataset():
    samples, t, _ = unambiguous_dataset(n_items=40, seed=2)
    extra = [sample("chat-1", ["x", "y"], prompt=CHAT), sample("chat-2", ["x", "y"], prompt=HISTORY)]
    rows = item_rows("chat-1", {"x": [0, 0, 0], "y": [2, 2, 2]}) + item_rows("chat-2", {"x": [-2] * 3, "y": [0] * 3})
    return samples + extra, table(rows, t.to_dict(orient="records"))


@pytest.mark.parametrize(
    ("fmt", "provenance"),
    [(f, p) for f in JSONL_FORMATS for p in ("sidecar", "inline") if (f, p) != ("openai", "inline")],
)
def test_each_format_validates_against_its_published_schema(tmp_path, fmt, provenance):
    samples, t = mixed_dataset()
    out = tmp_path / f"{fmt}.jsonl"
    export_dpo(t, samples, RUBRIC, out, ExportOptions(fmt=fmt, provenance=provenance, min_alpha=None))
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 8
    v = validator(fmt)
    for line in lines:
        v.validate(json.loads(line))
    if provenance == "sidecar":
        pv = validator("provenance")
        side = Path(f"{out}.provenance.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(side) == len(lines)
        for line in side:
            pv.validate(json.loads(line))


def test_openai_lines_have_exactly_the_three_top_level_keys(tmp_path):
    samples, t = mixed_dataset()
    out = tmp_path / "o.jsonl"
    export_dpo(t, samples, RUBRIC, out, ExportOptions(fmt="openai", min_alpha=None))
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert all(set(r) == {"input", "preferred_output", "non_preferred_output"} for r in recs)
    chat = [r for r in recs if r["input"]["messages"][0]["role"] == "system"]
    assert chat and chat[0]["input"]["messages"] == CHAT


@pytest.mark.parametrize(
    ("fmt", "bad"),
    [
        ("openai", {"input": {"messages": CHAT}, "preferred_output": [{"role": "assistant", "content": "a"}],
                    "non_preferred_output": [{"role": "assistant", "content": "b"}], "sample_id": "s1"}),
        ("openai", {"input": {"messages": [{"role": "system", "content": "x"}]},
                    "preferred_output": [{"role": "assistant", "content": "a"}],
                    "non_preferred_output": [{"role": "assistant", "content": "b"}]}),
        ("trl-chat", {"prompt": CHAT, "chosen": [{"role": "assistant", "content": "a"}] * 2,
                      "rejected": [{"role": "assistant", "content": "b"}]}),
        ("trl-chat", {"prompt": CHAT, "chosen": [{"role": "user", "content": "a"}],
                      "rejected": [{"role": "assistant", "content": "b"}]}),
        ("trl", {"prompt": "p", "chosen": "", "rejected": "r"}),
        ("trl", {"prompt": "p", "chosen": "c", "rejected": "r", "surprise": 1}),
        ("kto", {"prompt": "p", "completion": "c", "label": "yes"}),
    ],
)
def test_schemas_reject_malformed_lines(fmt, bad):
    assert not validator(fmt).is_valid(bad)


def test_chat_prompts_flatten_for_string_formats_and_stay_messages_for_chat_formats():
    s = sample("s", ["a", "b"], prompt=HISTORY)
    assert prompt_string(s) == (
        "You answer for Ledgerly support. Stay calm.\n\nUser: You charged me three times!\n\n"
        "Assistant: I'm looking into it.\n\nUser: It's been a week."
    )
    rec = pair_record("trl-chat", s, s.candidate("a"), s.candidate("b"))
    assert rec["prompt"] == HISTORY
    assert rec["chosen"] == [{"role": "assistant", "content": s.candidate("a").text}]
    with pytest.raises(ValueError, match="not a pair format"):
        pair_record("kto", s, s.candidate("a"), s.candidate("b"))


def test_schemas_ship_with_the_package():
    import brun_label.exporters as pkg

    folder = Path(pkg.__file__).parent / "schemas"
    assert sorted(p.name for p in folder.glob("*.schema.json")) == sorted(
        f"{n}.schema.json" for n in (*JSONL_FORMATS, "provenance")
    )
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert '"brun_label.exporters" = ["*.json", "schemas/*.json"]' in pyproject


@pytest.mark.parametrize("fmt", ["kto", "trl", "parquet"])
def test_provenance_says_who_wrote_each_reply_and_the_schemas_accept_it(tmp_path, fmt):
    from brun_label.model import sample_from_dict

    samples = [sample_from_dict({"id": f"s{i}", "prompt": "Refund!", "candidates": [
        {"id": "a", "text": f"In-zone reply {i}.", "source": "hand-written"},
        {"id": "b", "text": f"Drafted reply {i}.", "source": "model", "model": "gpt-4o-mini"}]}) for i in range(3)]
    t = table(*(item_rows(f"s{i}", {"a": [0, 0, 0], "b": [2, 2, 2]}) for i in range(3)))
    out = tmp_path / ("p.parquet" if fmt == "parquet" else "p.jsonl")
    export_dpo(t, samples, RUBRIC, out, ExportOptions(fmt=fmt, min_alpha=None,
                                                       provenance="sidecar" if fmt == "parquet" else "inline"))
    if fmt == "parquet":
        import pandas as pd

        rows = pd.read_parquet(out).to_dict(orient="records")
    else:
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        for row in rows:
            validator(fmt).validate(row)
    if fmt == "kto":
        got = {(r["candidate_id"], r["source"], r["model"]) for r in rows}
        assert got == {("a", "hand-written", None), ("b", "model", "gpt-4o-mini")}
    else:
        got = {(r["chosen_source"], r["chosen_model"], r["rejected_source"], r["rejected_model"]) for r in rows}
        assert got == {("hand-written", None, "model", "gpt-4o-mini")}
    # A source that is neither model nor hand-written is refused.
    assert not validator("provenance").is_valid({
        "sample_id": "s", "candidate_id": "a", "label": True, "n_annotators": 3, "agreement": 1.0,
        "rubric": "r", "rubric_version": "1", "source": "person"})
