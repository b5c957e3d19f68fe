"""``brun-label export``: turn agreed annotations into training files (``export dpo``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from brun_label.agreement.gold import below_threshold, gold_scores
from brun_label.cli.output import echo_json, info
from brun_label.cli.project_ctx import current_project, load_tables, project_option, project_rubric
from brun_label.errors import InputError
from brun_label.exporters.dpo import DEFAULT_MIN_ALPHA, PROVENANCE_MODES, ExportOptions, export_dpo
from brun_label.exporters.formats import FORMATS
from brun_label.exporters.pairs import PAIRINGS, GateConfigError, Gates, Pairing
from brun_label.model import CONSENSUS
from brun_label.people import pseudonym_for
from brun_label.project_push import project_samples
from brun_label.project_route import gold_anchors


@click.group()
def export() -> None:
    """Export consensus-verified training data from an annotation table.

    \b
    Example:
      brun-label export dpo ann.parquet --samples samples.jsonl -o pairs.jsonl --format trl
    """


@export.command()
@click.argument("annotations", nargs=-1, type=click.Path(dir_okay=False, path_type=str))
@click.option("--samples", "samples_path", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="The sample file the annotations are about (JSONL, CSV or Parquet; default: the project's).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=str),
              help="Output file (a folder for --format hf).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="trl (default; parquet when -o ends in .parquet), trl-chat, openai, kto, parquet, hf.")
@click.option("--rubric", default=None,
              help="Rubric pack name or file (default: the one the table records; required when it records none).")
@click.option("--min-annotators", type=click.IntRange(min=1), default=None,
              help="Annotators needed on a candidate for a clear consensus (default: the project's, else 3).")
@click.option("--min-share", type=float, default=None,
              help="Share of them that must agree, above 0.5 (default 0.8: unanimous with 3-4, one dissenter "
                   "from 5).")
@click.option("--max-flag-share", type=float, default=None,
              help="Largest share of annotators that may flag a chosen reply (default 0: any flag vetoes it).")
@click.option("--consensus", type=click.Choice(CONSENSUS), default=None,
              help="share: votes counted, everyone alike (default); dawid-skene: votes weighed by each "
                   "annotator's reliability learned from the table (default of a project with max_overlap).")
@click.option("--min-posterior", type=float, default=None, metavar="P",
              help="With --consensus dawid-skene: the probability a verdict needs (default 0.99).")
@click.option("--min-gold-accuracy", type=click.FloatRange(0, 1), default=None, metavar="P",
              help="Leave out people whose exact accuracy on the project's gold items is below P (at least 5 "
                   "gold answers; default: the project's gate). The card says who and why.")
@click.option("--pseudonymize", is_flag=True,
              help="Pseudonyms instead of names in the provenance and the card (stable per project).")
@project_option
@click.option("--pairs", "pairs", type=click.Choice(PAIRINGS), default="all", show_default=True,
              help="all: every clear good x bad pair of a prompt; best-worst: one per prompt, the clearest "
              "chosen against the clearest rejected.")
@click.option("--max-pairs-per-prompt", type=click.IntRange(min=1), default=None,
              help="Keep at most N pairs per prompt, the clearest first (default: no cap).")
@click.option("--simulated-annotators", "simulated", multiple=True, metavar="PATTERN",
              help="Annotators that are simulated, not people (a name or a glob such as 'sim-*'; "
              "repeatable). The dataset card names them as simulated.")
@click.option("--min-alpha", type=float, default=DEFAULT_MIN_ALPHA, show_default=True,
              help="Block the export (exit 3) when a gated question's Krippendorff α is below this.")
@click.option("--force", is_flag=True, help="Export even when α is below --min-alpha (the card says so).")
@click.option("--test-size", type=float, default=None,
              help="Fraction of scenarios per category for a test split (writes <stem>.train/.test files).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the train/test split.")
@click.option("--provenance", type=click.Choice(PROVENANCE_MODES), default="sidecar", show_default=True,
              help="sidecar: <output>.provenance.jsonl; inline: extra keys (trl, trl-chat, kto only).")
@click.option("--card", "card", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Where to write the dataset card (default: README.md next to the output).")
@click.option("--no-card", is_flag=True, help="Do not write a dataset card.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--strict", is_flag=True,
              help="Fail (exit 2, no output) on any invalid answer instead of reporting and not using it.")
def dpo(
    annotations: tuple[str, ...],
    samples_path: str,
    output: str,
    fmt: str | None,
    rubric: str | None,
    min_annotators: int | None,
    min_share: float | None,
    max_flag_share: float | None,
    consensus: str | None,
    min_posterior: float | None,
    min_gold_accuracy: float | None,
    pseudonymize: bool,
    project_file: str | None,
    pairs: str,
    max_pairs_per_prompt: int | None,
    simulated: tuple[str, ...],
    min_alpha: float,
    force: bool,
    test_size: float | None,
    seed: int,
    provenance: str,
    card: str | None,
    no_card: bool,
    as_json: bool,
    strict: bool,
) -> None:
    """Export the preference pairs the annotators clearly agree on (in a project folder: its table).

    A pair is exported only when a clear consensus (at least --min-annotators annotators, at least
    --min-share of them agreeing; LLM judges and unsubmitted rows never count) puts the chosen reply
    in the zone with no flag (any flag vetoes it by default) and the rejected one out of the zone
    or flagged, and the explicit preference votes do not contradict the pair (a vote for the
    rejected reply, "both bad", or a tie that includes the rejected reply: with 3+ candidates a
    tie between the good ones never blocks good over bad). --pairs all (the default) keeps every
    such pair of a prompt; --pairs best-worst one per prompt. Split, tied and
    thinly annotated items never become pairs; both-bad items and ties go to --format kto. When a
    gated question (zone, flags, preference) has Krippendorff's α below --min-alpha, nothing is
    written and the command exits 3 (unless --force). Every exclusion is counted by reason.

    Writes the data file(s), a <output>.provenance.jsonl sidecar (JSONL formats without
    --provenance inline) and a README.md dataset card, each atomically. Exit 0 on success, 2 on bad
    input, 3 when a gate blocks the export or nothing passes.

    \b
    Example:
      brun-label export dpo ann.parquet --samples samples.jsonl -o pairs.jsonl --format trl
      brun-label export dpo ann.parquet --samples samples.jsonl -o out/pairs.jsonl \\
          --format trl-chat --test-size 0.1 --seed 7 --json
    """
    from brun_label.importers.samples import read_samples

    if card is not None and no_card:
        raise click.UsageError("--card and --no-card cannot be used together")
    project = current_project(project_file, required=False)
    settings: dict[str, Any] = dict(project.export_gates()) if project is not None else {}
    flags = {"min_annotators": min_annotators, "min_share": min_share, "max_flag_share": max_flag_share,
             "consensus": consensus, "min_posterior": min_posterior}
    settings.update({k: v for k, v in flags.items() if v is not None})
    if min_posterior is not None and settings.get("consensus") != "dawid-skene":
        raise InputError("applies with --consensus dawid-skene only", field="--min-posterior")
    if min_gold_accuracy is None and project is not None and "min_gold_accuracy" in project.gates:
        min_gold_accuracy = float(project.gates["min_gold_accuracy"])
    if pseudonymize and project is None:
        raise InputError("pseudonyms are stable per project: run in a project folder (brun-label init)",
                         field="--pseudonymize")
    if min_gold_accuracy is not None and (project is None or not project.gold):
        raise InputError("needs a project with gold items (brun-label init --gold FILE)", field="--min-gold-accuracy")
    if fmt is None:
        fmt = "parquet" if Path(output).suffix.lower() in (".parquet", ".pq") else "trl"
    try:
        gates = Gates.from_settings(settings)
        pairing = Pairing(pairs, max_pairs_per_prompt)
    except GateConfigError as exc:
        raise InputError(exc.message, field="--" + exc.field.replace("_", "-")) from None
    options = ExportOptions(
        fmt=fmt,
        gates=gates,
        pairing=pairing,
        simulated_annotators=simulated,
        min_alpha=min_alpha,
        force=force,
        test_size=test_size,
        seed=seed,
        provenance=provenance,
        card=None if no_card else (card or "auto"),
    )
    options.check()
    if project is not None and not annotations:
        # the project's own table, samples (gold never becomes a pair) and rubric
        if samples_path is not None:
            raise InputError("a project export uses the project's samples; pass the table too to export another",
                             field="--samples")
        annotations = (project.table,)
        rubric = rubric or project.rubric
        pushed = project_samples(project, project_rubric(project))
        gold = set(pushed.gold_ids)
        samples = [s for s in pushed.originals if s.id not in gold]
        info(f"project: {len(samples)} samples (gold items left out: {len(gold)})")
    elif not annotations or samples_path is None:
        raise InputError("give the annotation table(s) and --samples (or run in a project folder)",
                         field="ANNOTATIONS" if not annotations else "--samples")
    else:
        pushed = None
        samples = read_samples(samples_path)
        info(f"read {len(samples)} samples from {samples_path}")
    known = pushed.originals if pushed is not None else samples  # gold items' answers are checked too
    candidates = {s.id: [c.id for c in s.candidates] for s in known}
    table, the_rubric = load_tables(annotations, rubric, candidates=candidates, strict=strict,
                                    require_rubric=True, warn=info)
    assert the_rubric is not None  # require_rubric
    info(f"read {len(table)} annotation rows from {', '.join(annotations)}")
    excluded: dict[str, str] = {}
    if pushed is not None and pushed.gold_ids:
        gold_rows = table["item_id"].isin(set(pushed.gold_ids))
        if min_gold_accuracy is not None and pushed.gold_answers is not None:
            scores = gold_scores(table, pushed.gold_answers, the_rubric)
            for name in below_threshold(scores, min_gold_accuracy):
                row = scores[scores["annotator"] == name].iloc[0]
                excluded[name] = (f"gold accuracy {row['exact']:.2f} < {min_gold_accuracy:.2f} "
                                  f"({int(row['n'])} gold answers)")
        options = replace(options, anchors=gold_anchors(table, pushed, the_rubric, excluded))
        table = table[~gold_rows]
    pseudonyms = None
    if pseudonymize:
        assert project is not None
        names = {str(n) for n in table["annotator"].unique()} | set(excluded)
        names |= {str(n)[len("adjudicator:"):] for n in names if str(n).startswith("adjudicator:")}
        pseudonyms = {n: pseudonym_for(n, project) for n in names}
    options = replace(options, excluded_annotators=excluded, pseudonyms=pseudonyms)
    summary = export_dpo(table, samples, the_rubric, output, options)
    if summary["alpha_blocked"]:
        info(f"warning: exported despite low agreement on {', '.join(summary['alpha_blocked'])} (--force)")
    if as_json:
        echo_json(summary)
        return
    unit = "examples" if fmt == "kto" else "pairs"
    split = ", ".join(f"{k} {v}" for k, v in summary["examples"].items())
    excluded = summary["items"]["excluded"]
    click.echo(
        f"exported {sum(summary['examples'].values())} {unit} ({split}) from "
        f"{summary['items']['exported']} of {summary['items']['total']} items"
    )
    click.echo("excluded items: " + (", ".join(f"{r} {n}" for r, n in excluded.items()) or "none"))
    if summary["pairs_contradicted"]:
        click.echo(f"pairs dropped (preference votes contradicted them): {summary['pairs_contradicted']}")
    for key, path in summary["files"].items():
        click.echo(f"wrote {key.replace('_', ' ')}: {path}")
