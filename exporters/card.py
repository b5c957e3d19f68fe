"""The dataset card (``README.md``) written next to an export: how the data was made.

Pure core: :func:`render_card` turns the export summary (the dict :func:`~brun_label.exporters.dpo.export_dpo`
returns, also printed by ``--json``) into Markdown with a Hugging Face YAML header, the counts, the
gates, the agreement per question, the exclusions by reason, the files and formats, and a snippet
that loads the data with ``datasets`` and trains with TRL.

Examples
--------
>>> summary = {
...     "format": "trl", "rubric": {"name": "de-escalation", "version": "1", "title": "Crisis replies"},
...     "gates": {"min_annotators": 3, "min_share": 0.8, "max_flag_share": 0.0, "min_alpha": 0.667,
...               "alpha_questions": ["tone_zone"], "force": False},
...     "agreement": {"tone_zone": {"krippendorff_alpha": 0.81, "gated": True, "passed": True}},
...     "samples": 4, "items": {"exported": 2, "excluded": {"split": 1, "both_bad": 1}},
...     "annotations": {"rows": 40, "counted_rows": 36, "ignored_rows": {"not_submitted": 2, "judge": 2}},
...     "pairs": 2, "pairs_contradicted": 0, "examples": {"train": 2},
...     "files": {"train": "pairs.jsonl", "train_provenance": "pairs.jsonl.provenance.jsonl"},
...     "provenance": "sidecar", "split": None, "categories": {"hr": 2},
... }
>>> card = render_card(summary)
>>> card.startswith("---\\nconfigs:"), CARD_MARKER in card, "DPOTrainer" in card
(True, True, True)
>>> print(card[card.index("| tone_zone"):].splitlines()[0])
| tone_zone | 0.810 | yes | passed |
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

#: First line after the YAML header: marks a README.md that brun-label may overwrite.
CARD_MARKER = "<!-- dataset card written by `brun-label export dpo`: safe to regenerate -->"

#: What each exclusion reason means, for the card.
REASON_TEXT = {
    "preference_contradicts": "clear good/bad verdicts, but the explicit preference votes disagreed with every pair",
    "not_annotated": "no counted vote (no submitted human annotation)",
    "both_bad": "every candidate judged bad by a clear consensus (goes to `kto` as negatives)",
    "tie": "every candidate judged good by a clear consensus (goes to `kto` as positives)",
    "too_few_annotators": "a candidate had fewer than `min_annotators` counted annotators",
    "split": "the annotators did not reach a clear consensus on a candidate",
}

_FORMAT_TEXT = {
    "trl": "TRL standard preference format: `prompt`, `chosen`, `rejected` strings.",
    "trl-chat": "TRL conversational preference format: `prompt` is a list of messages, `chosen` and "
    "`rejected` one assistant message each.",
    "openai": "OpenAI preference fine-tuning (DPO) JSONL: `input.messages`, `preferred_output`, "
    "`non_preferred_output`.",
    "kto": "TRL unpaired (KTO) format: `prompt`, `completion`, `label` (true = good, false = bad).",
    "parquet": "Parquet with the TRL standard columns (`prompt`, `chosen`, `rejected`) and the provenance columns.",
    "hf": "A `datasets.DatasetDict` saved with `save_to_disk`, with the TRL standard columns and the provenance columns.",
}


def _name(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).name


def _data_files(summary: Mapping[str, Any]) -> dict[str, str]:
    files = summary.get("files", {})
    return {split: _name(files[split]) for split in ("train", "test") if split in files}


def _front_matter(summary: Mapping[str, Any]) -> list[str]:
    rubric = summary["rubric"]
    lines = ["---"]
    data = _data_files(summary)
    if summary["format"] not in ("hf", "openai") and data:
        lines += ["configs:", "- config_name: default", "  data_files:"]
        for split, name in data.items():
            lines += [f"  - split: {split}", f"    path: {name}"]
    lines += [
        "tags:",
        "- brun-label",
        "- human-annotated",
        "- kto" if summary["format"] == "kto" else "- dpo",
        f"- {rubric['name']}",
        f"pretty_name: {rubric['name']} preference data",
        "---",
    ]
    return lines


def _snippet(summary: Mapping[str, Any]) -> list[str]:
    fmt = summary["format"]
    data = _data_files(summary)
    has_test = "test" in data
    if fmt == "openai":
        return [
            "```python",
            "from openai import OpenAI",
            "",
            "client = OpenAI()",
            f"train = client.files.create(file=open({data.get('train', 'pairs.jsonl')!r}, \"rb\"), purpose=\"fine-tune\")",
            "job = client.fine_tuning.jobs.create(",
            "    model=\"gpt-4.1-mini-2025-04-14\",",
            "    training_file=train.id,",
            "    method={\"type\": \"dpo\", \"dpo\": {\"hyperparameters\": {\"beta\": 0.1}}},",
            ")",
            "```",
            "",
            "For TRL, export the same annotations again with `--format trl-chat`.",
        ]
    if fmt == "hf":
        folder = _name(summary.get("output", "dataset"))
        load = ["from datasets import load_from_disk", "", f"data = load_from_disk({folder!r})"]
    else:
        builder = "parquet" if fmt == "parquet" else "json"
        files = ", ".join(f"{k!r}: {v!r}" for k, v in data.items()) or "'train': 'pairs.jsonl'"
        load = ["from datasets import load_dataset", "", "# paths relative to this folder",
                f"data = load_dataset({builder!r}, data_files={{{files}}})"]
    if fmt == "kto":
        trainer, config = "KTOTrainer", "KTOConfig"
        imports = "from trl import KTOConfig, KTOTrainer"
    else:
        trainer, config = "DPOTrainer", "DPOConfig"
        imports = "from trl import DPOConfig, DPOTrainer"
    lines = ["```python", imports, *load, ""]
    lines += [
        f"trainer = {trainer}(",
        "    model=\"Qwen/Qwen2.5-0.5B-Instruct\",  # any causal LM with a chat template",
        f"    args={config}(output_dir=\"{fmt.replace('-', '_')}-model\"),",
        "    train_dataset=data[\"train\"],",
    ]
    if has_test:
        lines.append("    eval_dataset=data[\"test\"],")
    lines += [")", "trainer.train()", "```"]
    if fmt in ("parquet", "hf"):
        lines += ["", "The provenance columns are ignored by the trainer; drop them with "
                  "`data.remove_columns([...])` if you prefer."]
    if fmt in ("trl", "kto", "parquet", "hf"):
        lines += ["", "In this standard format TRL concatenates `prompt` and the completion as plain text; "
                  "for a chat model prefer `--format trl-chat`, which applies the model's chat template."]
    return lines


def _fmt_alpha(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def render_card(summary: Mapping[str, Any]) -> str:
    """Return the dataset card (Markdown) for an export summary."""
    rubric = summary["rubric"]
    gates = summary["gates"]
    items = summary["items"]
    excluded: Mapping[str, int] = items.get("excluded", {})
    examples: Mapping[str, int] = summary.get("examples", {})
    title = rubric.get("title") or rubric["name"]
    unit = "examples" if summary["format"] == "kto" else "pairs"
    out = _front_matter(summary)
    out += [
        CARD_MARKER,
        "",
        f"# {title}: human-verified {'unpaired preference data' if unit == 'examples' else 'preference pairs'}",
        "",
        f"Made with `brun-label export dpo` from human annotations of LLM-drafted replies, with the "
        f"rubric **{rubric['name']}** (version {rubric['version']}). Only examples a clear consensus of "
        f"annotators agreed on are included: nothing the annotators disputed.",
        "",
        "## Counts",
        "",
        "| | count |",
        "|---|---:|",
        f"| samples (scenarios) | {summary.get('samples', 0)} |",
        f"| annotation rows read | {summary.get('annotations', {}).get('rows', 0)} |",
        f"| rows counted as votes | {summary.get('annotations', {}).get('counted_rows', 0)} |",
        f"| items exported | {items.get('exported', 0)} |",
        f"| items excluded | {sum(excluded.values())} |",
    ]
    for split, n in examples.items():
        out.append(f"| {unit} in {split} | {n} |")
    if summary.get("pairs_contradicted"):
        out.append(f"| pairs dropped because preference votes contradicted them | {summary['pairs_contradicted']} |")
    ignored = summary.get("annotations", {}).get("ignored_rows", {})
    out += [
        "",
        f"Rows not counted: {ignored.get('not_submitted', 0)} not submitted (draft, skipped, discarded), "
        f"{ignored.get('judge', 0)} from LLM judges (`judge:` annotators never vote).",
    ]
    cats = summary.get("categories") or {}
    if cats:
        out += ["", "| category | " + unit + " |", "|---|---:|"]
        out += [f"| {c} | {n} |" for c, n in sorted(cats.items())]
    out += [
        "",
        "## Gates",
        "",
        f"- **Clear consensus**: a candidate counts as *good* when at least {gates['min_annotators']} "
        f"annotators judged it, at least {gates['min_share']:.0%} of them put it in the zone with no flag, and "
        + ("no annotator ticked any flag (a flag is a veto)" if not gates["max_flag_share"]
           else f"at most {gates['max_flag_share']:.0%} of them ticked any flag")
        + f"; *bad* when at least {gates['min_share']:.0%} put it out of the zone or flagged it. "
        "Only submitted answers count; LLM judges never vote.",
        "- **Pairs**: every good candidate against every bad candidate of the same scenario, unless more than "
        f"{1 - gates['min_share']:.0%} of the explicit preference votes chose the rejected one, a tie or both bad.",
        f"- **Agreement**: export blocked when Krippendorff's α of a gated question is below {gates['min_alpha']}"
        + (" (overridden with `--force` for this export)." if gates.get("force") else "."),
        "",
        "## Agreement per question",
        "",
        "| question | Krippendorff's α | gated | status |",
        "|---|---:|:---:|---|",
    ]
    for q, info in summary.get("agreement", {}).items():
        status = "passed" if info.get("passed", True) else "below threshold"
        if info.get("krippendorff_alpha") is None:
            status = "not computable"
        out.append(f"| {q} | {_fmt_alpha(info.get('krippendorff_alpha'))} | {'yes' if info.get('gated') else 'no'} | {status} |")
    out += ["", "## Exclusions", "", "Each scenario that gave no example is counted once, under the first reason that applies.", ""]
    if excluded:
        out += ["| reason | items | meaning |", "|---|---:|---|"]
        out += [f"| {r} | {n} | {REASON_TEXT.get(r, '')} |" for r, n in excluded.items()]
    else:
        out.append("No item was excluded.")
    split_info: Mapping[str, Any] | None = summary.get("split")
    out += ["", "## Files and format", "", _FORMAT_TEXT[summary["format"]], ""]
    for key, path in summary.get("files", {}).items():
        if key != "card":
            out.append(f"- `{_name(path)}` ({key.replace('_', ' ')})")
    prov = summary.get("provenance")
    prov_text = {
        "sidecar": "in the `.provenance.jsonl` sidecar next to each data file, one line per example in the same order",
        "inline": "as extra keys of each example",
        "columns": "as extra columns",
    }.get(str(prov), "")
    out += [
        "",
        f"Provenance (sample and candidate ids, number of annotators, agreement, margin, rubric version) is "
        f"{prov_text}.",
    ]
    if split_info:
        out += [
            "",
            f"Train/test split by scenario (no scenario in both), stratified by category, "
            f"test size {split_info['test_size']}, seed {split_info['seed']}.",
        ]
    out += ["", "## Load and train", "", *_snippet(summary), ""]
    return "\n".join(out)
