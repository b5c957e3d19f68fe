"""The dataset card (``README.md``) written next to an export: how the data was made.

Pure core: :func:`render_card` turns the export summary (the dict :func:`~brun_label.exporters.dpo.export_dpo`
returns, also printed by ``--json``) into Markdown with a Hugging Face YAML header, who annotated,
the counts, the gates and the pairing strategy, the agreement per question, the exclusions by
reason, the files and formats, and a snippet that loads the data with ``datasets`` and trains with
TRL.

The card says who is behind the data and never more: *people* only when every counted annotator
is one, *simulated annotators (not people)* for the names the export was told are simulated
(``--simulated-annotators``), and LLM judges by name, as judges that never vote. Names, categories
and other values from the input are shown as code, never as Markdown or HTML.

Examples
--------
>>> summary = {
...     "format": "trl", "rubric": {"name": "de-escalation", "version": "1", "title": "Crisis replies"},
...     "gates": {"min_annotators": 3, "min_share": 0.8, "max_flag_share": 0.0, "min_alpha": 0.667,
...               "alpha_questions": ["tone_zone"], "force": False},
...     "agreement": {"tone_zone": {"krippendorff_alpha": 0.81, "gated": True, "passed": True}},
...     "samples": 4, "items": {"exported": 2, "excluded": {"split": 1, "both_bad": 1}},
...     "annotators": {"people": 0, "simulated": 3, "judges": ["judge:gpt-4o"]},
...     "pairing": {"strategy": "all", "max_per_prompt": None, "eligible": 2, "dropped": 0},
...     "annotations": {"rows": 40, "counted_rows": 36, "ignored_rows": {"not_submitted": 2, "judge": 2}},
...     "pairs": 2, "pairs_contradicted": 0, "examples": {"train": 2},
...     "files": {"train": "pairs.jsonl", "train_provenance": "pairs.jsonl.provenance.jsonl"},
...     "provenance": "sidecar", "split": None, "categories": {"hr": 2},
... }
>>> card = render_card(summary)
>>> card.startswith("---\\nconfigs:"), CARD_MARKER in card, "DPOTrainer" in card
(True, True, True)
>>> print(card[card.index("# "):].splitlines()[0])
# Crisis replies: preference pairs from simulated annotators (not people)
>>> "human" in card.lower()
False
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
    "not_annotated": "no counted vote (no submitted annotation; judge rows never count)",
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


def _code(text: Any) -> str:
    """Return ``text`` as an inline code span: shown literally, never as Markdown or HTML.

    >>> print(_code("a`b"), _code("<b>x</b>\\nnext"))
    ``a`b`` `<b>x</b> next`
    """
    flat = " ".join(str(text).splitlines())
    longest = current = 0
    for ch in flat:
        current = current + 1 if ch == "`" else 0
        longest = max(longest, current)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _cell(text: Any) -> str:
    r"""Return ``text`` as a code span that is safe inside a table cell (``|`` escaped).

    >>> print(_cell("a|b"))
    `a\|b`
    """
    return _code(text).replace("|", "\\|")


def annotators_phrase(annotators: Mapping[str, Any] | None) -> str:
    """Return who annotated, in words: never "human" unless every counted annotator is a person.

    >>> annotators_phrase({"people": 3, "simulated": 0})
    'people'
    >>> annotators_phrase({"people": 2, "simulated": 1})
    'people and simulated annotators (not people)'
    >>> annotators_phrase({"people": 0, "simulated": 3}), annotators_phrase(None)
    ('simulated annotators (not people)', 'annotators (kinds not recorded)')
    """
    if not annotators:
        return "annotators (kinds not recorded)"
    people, sim = int(annotators.get("people", 0)), int(annotators.get("simulated", 0))
    if sim and people:
        return "people and simulated annotators (not people)"
    if sim:
        return "simulated annotators (not people)"
    return "people" if people else "no counted annotator"


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
    annotators = summary.get("annotators") or {}
    kinds = []
    if annotators.get("people") and not annotators.get("simulated"):
        kinds.append("- human-annotated")
    if annotators.get("simulated"):
        kinds.append("- simulated-annotators")
    lines += [
        "tags:",
        "- brun-label",
        *kinds,
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


def _consensus_text(gates: Mapping[str, Any]) -> str:
    """The card's *Clear consensus* line, for the counted (``share``) or the weighed consensus."""
    if gates.get("consensus", "share") == "dawid-skene":
        return (
            f"- **Clear consensus** (reliability-weighted, Dawid–Skene): a candidate counts as *good* when at "
            f"least {gates['min_annotators']} annotators judged it and the probability that it is in the zone "
            f"with no flag is at least {gates.get('min_posterior', 0.99):.1%}, given every verdict and each "
            "annotator's error rates learned from the whole table; *bad* when the probability of the opposite "
            "is that high. A flag counts through the verdict, weighed like the zone. Only submitted answers "
            "count; judges never vote.")
    return (
        f"- **Clear consensus**: a candidate counts as *good* when at least {gates['min_annotators']} "
        f"annotators judged it, at least {gates['min_share']:.0%} of them put it in the zone with no flag, and "
        + ("no annotator ticked any flag (a flag is a veto)" if not gates["max_flag_share"]
           else f"at most {gates['max_flag_share']:.0%} of them ticked any flag")
        + f"; *bad* when at least {gates['min_share']:.0%} put it out of the zone or flagged it. "
        "Only submitted answers count; judges never vote.")


def _pairing_text(pairing: Mapping[str, Any]) -> str:
    """Say which of a scenario's pairs were kept (the default is ``all`` with no cap)."""
    strategy = pairing.get("strategy", "all")
    cap = pairing.get("max_per_prompt")
    if strategy == "best-worst":
        text = ("`best-worst`: one pair per scenario, the clearest chosen reply (highest good share, then "
                "most preference votes) against the clearest rejected one (highest bad share, then fewest "
                "votes putting it among the best).")
    else:
        text = "`all` (the default): every clear good x bad pair of a scenario"
        text += f", at most {cap} per scenario, the clearest first." if cap else ", no cap per scenario."
    several = pairing.get("prompts_with_several")
    if several:
        text += f" {several} scenario(s) gave more than one pair (their chosen or rejected replies repeat)."
    return text


def _annotator_lines(annotators: Mapping[str, Any] | None) -> list[str]:
    """The Annotators section: each kind behind the exported examples, and the LLM judges."""
    if not annotators:
        return ["The kinds of annotators were not recorded for this export."]
    people, sim = int(annotators.get("people", 0)), int(annotators.get("simulated", 0))
    lines = [
        "| kind | annotators | votes |",
        "|---|---:|:---:|",
        f"| people | {people} | yes |",
        f"| simulated annotators (not people) | {sim} | yes |",
    ]
    judges = list(annotators.get("judges") or [])
    lines.append(f"| judges (`judge:` rows) | {len(judges)} | never |")
    lines.append("")
    if sim:
        lines.append("Simulated annotators are programs that answer the rubric (named with "
                     "`--simulated-annotators`), not people: their answers stand in for annotators, for trying the workflow.")
    if judges:
        lines.append("Judges (" + ", ".join(_code(j) for j in judges) + ") are compared with the "
                     "annotators in the agreement report; their rows never count as votes.")
    if not sim and not judges:
        lines.append("Every counted annotator is a person (no annotator was named as simulated).")
    return lines


def _quality_lines(summary: Mapping[str, Any]) -> list[str]:
    """Who was left out and why, and what adjudicators decided (nothing when neither happened).

    >>> _quality_lines({"excluded_annotators": {"cy": "gold accuracy 0.40 < 0.80 (10 gold answers)"},
    ...                 "adjudicated": {"items": 2, "pairs": 1}, "pseudonymized": True})[:3]
    ['Left out of this export, with all their answers:', '', '- `cy`: gold accuracy 0.40 < 0.80 (10 gold answers)']
    """
    out: list[str] = []
    excluded = summary.get("excluded_annotators") or {}
    if excluded:
        out += ["Left out of this export, with all their answers:", ""]
        out += [f"- {_code(name)}: {why}" for name, why in sorted(excluded.items())]  # reasons are our own text
        out.append("")
    adjudicated = summary.get("adjudicated") or {}
    if adjudicated.get("items"):
        out += [f"{adjudicated['items']} disputed scenario(s) were decided by a named adjudicator "
                f"({adjudicated.get('pairs', 0)} pair(s)): for those, the adjudicator's decision replaced the "
                "annotators' votes, and each pair's provenance names the adjudicator (`adjudicated_by`).", ""]
    if summary.get("pseudonymized"):
        out += ["Names of people are pseudonyms, stable within the project (`--pseudonymize`).", ""]
    return out


def judge_shown_line(shown: str | None) -> str:
    """Say whether the annotators saw the LLM judge's answers while annotating (anchoring).

    ``shown`` comes from the pulled table's ``judge_shown`` column on judge rows (what push
    recorded on the project or records): ``yes``, ``no``, ``mixed`` or None (not recorded).

    >>> judge_shown_line("no")
    'Judge suggestions were shown to annotators: no (push kept them hidden; they were stored for comparison only).'
    >>> judge_shown_line(None)
    'Judge suggestions were shown to annotators: not recorded (the table has no judge rows with a `judge_shown` column).'
    """
    text = {
        "yes": "yes (pushed with `--show-judge`: annotators saw them pre-selected, which can anchor their answers).",
        "no": "no (push kept them hidden; they were stored for comparison only).",
        "mixed": "mixed (some items were pushed with `--show-judge`, others without).",
    }
    return "Judge suggestions were shown to annotators: " + text.get(
        str(shown), "not recorded (the table has no judge rows with a `judge_shown` column).")


def _count_words(counts: Mapping[str, Any], what: str, named: str) -> str:
    parts = []
    if counts.get("model"):
        names = ", ".join(_code(m) for m in counts.get(named) or [])
        parts.append(f"{counts['model']} by a model" + (f" ({names})" if names else ""))
    if counts.get("hand-written"):
        parts.append(f"{counts['hand-written']} hand-written examples (no model wrote them)")
    if counts.get("not_recorded"):
        parts.append(f"{counts['not_recorded']} whose source the sample file does not record")
    return f"{what}: " + ("; ".join(parts) if parts else "none") + "."


def _source_lines(sources: Mapping[str, Any] | None) -> list[str]:
    """Who wrote the exported replies and the judge scores (from the samples' ``source`` fields)."""
    if not sources:
        return ["Who wrote the replies was not recorded for this export."]
    lines = [f"- {_count_words(sources.get('replies', {}), 'Replies in the exported examples', 'models')}"]
    scores = sources.get("judge_scores", {})
    if any(scores.get(k) for k in ("model", "hand-written", "not_recorded")):
        lines.append(f"- {_count_words(scores, 'Judge scores of these samples', 'judges')}")
    return lines


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
    annotators = summary.get("annotators")
    who = annotators_phrase(annotators)
    what = "unpaired preference data" if unit == "examples" else "preference pairs"
    headline = f"human-verified {what}" if who == "people" else f"{what} from {who}"
    out += [
        CARD_MARKER,
        "",
        f"# {title}: {headline}",
        "",
        f"Made with `brun-label export dpo` from the annotations of {who} on candidate replies, with the "
        f"rubric **{rubric['name']}** (version {rubric['version']}). Only examples a clear consensus of "
        f"annotators agreed on are included: nothing the annotators disputed.",
        "",
        "## Annotators",
        "",
        *_annotator_lines(annotators),
        "",
        judge_shown_line(summary.get("judge_shown")),
        "",
        *_quality_lines(summary),
        "## Replies",
        "",
        *_source_lines(summary.get("sources")),
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
    pairing: Mapping[str, Any] = summary.get("pairing") or {}
    if pairing.get("dropped"):
        out.append(f"| clear pairs left out by the pairing strategy | {pairing['dropped']} |")
    ignored = summary.get("annotations", {}).get("ignored_rows", {})
    out += [
        "",
        f"Rows not counted: {ignored.get('not_submitted', 0)} not submitted (draft, skipped, discarded), "
        f"{ignored.get('judge', 0)} judge rows (`judge:` annotators never vote).",
    ]
    cats = summary.get("categories") or {}
    if cats:
        out += ["", "| category | " + unit + " |", "|---|---:|"]
        out += [f"| {_cell(c)} | {n} |" for c, n in sorted(cats.items())]
    out += [
        "",
        "## Gates",
        "",
        _consensus_text(gates),
        "- **Pairs**: a good candidate against a bad candidate of the same scenario, unless "
        + (f"more than {1 - gates['min_share']:.0%} of the explicit preference votes contradict that pair"
           if gates.get("consensus", "share") == "share" else
           "the explicit preference votes that contradict that pair weigh half or more of all its votes (each "
           "voter weighed by the log-odds of their reliability: the optimal weighted majority)")
        + ". A vote contradicts a pair when it is for the "
        "rejected one, \"both bad\", or a tie that includes the rejected one. A tie says two or more replies share "
        "the best place, namely the ones its voter judged good (with two candidates: both), so with three or "
        "more candidates a tie between the good ones never blocks good over bad; a tie from a voter who judged "
        "fewer than two replies good counts against every pair of the scenario.",
        f"- **Pairing**: {_pairing_text(pairing)}",
        (f"- **Agreement**: export blocked when Krippendorff's α of a gated question is below {gates['min_alpha']}"
         + (" (overridden with `--force` for this export)." if gates.get("force") else "."))
        if gates.get("min_alpha") is not None else "- **Agreement**: no α gate for this export.",
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
        f"Provenance (sample and candidate ids, number of annotators, agreement, margin, rubric version, "
        f"and who wrote each reply: `source` model or hand-written, and the `model`) is "
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
