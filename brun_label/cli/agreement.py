"""``brun-label agreement``: inter-annotator agreement per rubric question, as a table or JSON."""

from __future__ import annotations

import math
from typing import Any

import click

from brun_label.cli.output import echo_json, info
from brun_label.cli.project_ctx import current_project, load_tables, project_option, project_rubric
from brun_label.errors import GateError, InputError


def _parse_levels(items: tuple[str, ...]) -> dict[str, str]:
    from brun_label.agreement.distances import LEVELS

    out: dict[str, str] = {}
    for item in items:
        name, sep, level = item.partition("=")
        name, level = name.strip(), level.strip()
        if not sep or not name or not level:
            raise InputError(f"expected QUESTION=LEVEL, got {item!r}", field="--level")
        if level not in LEVELS:
            raise InputError(f"level of {name!r} must be one of {', '.join(LEVELS)}, got {level!r}", field="--level")
        out[name] = level
    return out


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _render_table(summary: dict[str, Any], *, max_units: int = 10) -> str:
    lines: list[str] = []
    header = ("question", "level", "units", "raters", "ratings", "alpha", "95% CI", "%agree",
              "fleiss", "AC1", "verdict")
    rows: list[tuple[str, ...]] = []
    for name, q in summary["questions"].items():
        ci = q["alpha_ci95"]
        ci_text = "—" if not ci or ci[0] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        level = q["level"] if q["distance"] != "masi" else "sets (MASI)"
        rows.append((name, f"{level} ({q['level_source']})", str(q["n_units"]), str(q["n_annotators"]),
                     str(q["n_ratings"]), _fmt(q["krippendorff_alpha"]), ci_text,
                     _fmt(q["percent_agreement"], 2), _fmt(q["fleiss_kappa"]), _fmt(q["gwet_ac1"]), q["verdict"]))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for name, q in summary["questions"].items():
        for flag, st in (q.get("per_flag") or {}).items():
            lines.append(f"  {name}.{flag}: alpha {_fmt(st['krippendorff_alpha'])}, AC1 {_fmt(st['gwet_ac1'])}, "
                         f"ticked in {_fmt(st['prevalence'], 2)} of answers")
    flagged = {a: s for a, s in summary["annotators"].items() if s["flagged"]}
    lines.append("")
    if flagged:
        lines.append("Annotators to check:")
        for a, s in flagged.items():
            for r in s["reasons"]:
                lines.append(f"  {a}: {r}")
    else:
        lines.append(f"Annotators: {len(summary['annotators'])}, none drifts from the others.")
    if summary["judge"]:
        lines.append("Judge vs the annotators' consensus (the judge never votes):")
        for name, j in summary["judge"].items():
            lines.append(f"  {name}: agrees {_fmt(j['agreement_with_consensus'], 2)} of {j['n_units']} units; "
                         f"alpha annotators {_fmt(j['alpha_humans'])} -> with judge {_fmt(j['alpha_with_judge'])}")
    if "position_bias" in summary:
        from brun_label.agreement.position_bias import text_lines

        lines.extend(text_lines(summary["position_bias"]))
    if "judge_calibration" in summary:
        from brun_label.cli.judge import calibration_lines

        lines.extend(calibration_lines(summary["judge_calibration"]))
    n_low = summary["n_low_agreement_units"]
    lines.append(f"Low-agreement units: {n_low}" + (f" (showing {min(n_low, max_units)})" if n_low > max_units else ""))
    for e in summary["low_agreement_units"][:max_units]:
        where = e["item_id"] + (f"/{e['candidate_id']}" if e["candidate_id"] else "")
        answers = " ".join(f"{a}={v}" for a, v in e["answers"].items())
        lines.append(f"  {where}  {e['question']}  {'; '.join(e['reasons'])}  [{answers}]")
    notes = list(summary["notes"]) + [f"{n}: {x}" for n, q in summary["questions"].items() for x in q["notes"]]
    if notes:
        lines.append("Notes:")
        lines.extend(f"  - {n}" for n in notes)
    return "\n".join(lines)


def _gate(summary: dict[str, Any], min_alpha: float) -> None:
    failing = []
    for name, q in summary["questions"].items():
        alpha = q["krippendorff_alpha"]
        if alpha is None or (isinstance(alpha, float) and math.isnan(alpha)):
            failing.append(f"{name} (undefined)")
        elif alpha < min_alpha:
            failing.append(f"{name} ({alpha:.3f})")
    if not summary["questions"]:
        failing.append("no question to measure")
    if failing:
        raise GateError(f"Krippendorff's alpha below {min_alpha:g}: {', '.join(failing)}")


@click.command()
@click.argument("annotations", nargs=-1, type=click.Path(dir_okay=False, path_type=str))
@click.option("--rubric", "rubric_name", metavar="NAME|FILE", help="Rubric pack or file: question types, levels, options.")
@click.option("--level", "levels", multiple=True, metavar="QUESTION=LEVEL",
              help="Measurement level of a question (nominal, ordinal, interval, ratio); repeatable.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=0, show_default=True,
              help="Bootstrap resamples for alpha's 95% interval (1000 is typical; 0: none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--min-alpha", type=click.FloatRange(-1.0, 1.0), default=None,
              help="Exit 3 if any question's alpha is below this (or undefined).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=str),
              help="Also write a self-contained HTML report with plots.")
@click.option("--samples", "samples_path", type=click.Path(dir_okay=False, path_type=str),
              help="Sample file (the judged one): its texts go next to contested units in the report; "
                   "the order the judge saw gives the judge's positions, its confidences the calibration; "
                   "its candidates are the ones a preference answer may name.")
@click.option("--max-units", type=click.IntRange(min=0), default=1000, show_default=True,
              help="List at most this many low-agreement units (0: all).")
@click.option("--strict", is_flag=True,
              help="Fail (exit 2, no output) on any invalid answer instead of reporting and not using it.")
@click.option("--min-gold-accuracy", type=click.FloatRange(0, 1), default=None, metavar="P",
              help="Project with gold items: leave out people whose exact gold accuracy is below P "
                   "(default: the project's gate); every person's gold score is in the output.")
@project_option
def agreement(
    annotations: tuple[str, ...],
    rubric_name: str | None,
    levels: tuple[str, ...],
    n_bootstrap: int,
    seed: int,
    min_alpha: float | None,
    as_json: bool,
    report_path: str | None,
    samples_path: str | None,
    max_units: int,
    strict: bool,
    min_gold_accuracy: float | None,
    project_file: str | None,
) -> None:
    """Measure how well annotators agree, per rubric question, and who or what needs a look.

    ANNOTATIONS is one or more long annotation tables (.jsonl, .csv or .parquet; in a project folder
    the project's table by default) with columns item_id,
    candidate_id (optional), question, annotator, value (and status: only submitted rows
    count). A unit is one (item_id, candidate_id) pair. Each question gets Krippendorff's
    alpha at its level (from --level, else the rubric, else nominal), percent agreement,
    Fleiss' kappa, Gwet's AC1 and pairwise Cohen's kappa. Annotators that drift from the others
    are named, units without a majority are listed, and judge:* annotators are compared with
    the annotators' consensus without ever voting. With the table's position and shown_order
    columns, each rater's position bias is tested (share of preference votes per slot, scale
    means by slot; exact tests, Holm across raters); --samples gives the judge's own order and,
    when the judge stored confidences, its calibration against the annotators (Brier score, curve).

    \b
    Example:
      brun-label agreement annotations.parquet --rubric de-escalation --bootstrap 1000 \\
          --min-alpha 0.667 --report agreement.html --samples samples.jsonl
      brun-label agreement annotations.jsonl --level tone_zone=ordinal --json
    """
    from brun_label.agreement.summary import summarize

    level_map = _parse_levels(levels)
    samples = None
    project = current_project(project_file, required=False)
    pushed = None
    if project is not None and not annotations:
        from brun_label.project_push import project_samples

        annotations = (project.table,)
        rubric_name = rubric_name or project.rubric
        pushed = project_samples(project, project_rubric(project))
        if not samples_path:
            samples = {s.id: s for s in pushed.originals}
    if samples_path:
        from brun_label.importers.samples import read_samples

        samples = {s.id: s for s in read_samples(samples_path)}
    candidates = {k: [c.id for c in s.candidates] for k, s in samples.items()} if samples else None
    table, rubric = load_tables(annotations, rubric_name, candidates=candidates, strict=strict, warn=info)
    info(f"agreement: {len(table)} rows from {', '.join(annotations)}")
    gold_report = None
    if (project is not None and pushed is not None and pushed.gold_ids and rubric is not None
            and pushed.gold_answers is not None):
        from brun_label.agreement.gold import below_threshold, gold_scores

        scores = gold_scores(table, pushed.gold_answers, rubric)
        threshold = min_gold_accuracy if min_gold_accuracy is not None else project.gates.get("min_gold_accuracy")
        left_out = below_threshold(scores, float(threshold)) if threshold is not None else []
        gold_report = {"scores": scores.to_dict(orient="records"), "min_gold_accuracy": threshold,
                       "left_out": left_out}
        for name in left_out:
            info(f"agreement: {name} left out (gold accuracy below {threshold})")
        table = table[~table["item_id"].isin(set(pushed.gold_ids)) & ~table["annotator"].isin(set(left_out))]
    elif min_gold_accuracy is not None:
        raise InputError("needs a project with gold items (brun-label init --gold FILE)", field="--min-gold-accuracy")
    try:
        summary = summarize(
            table, levels=level_map, n_bootstrap=n_bootstrap, seed=seed, rubric=rubric,
            max_low_units=max_units or None,
            judge_orders={k: s.judge_order for k, s in (samples or {}).items() if s.judge_order},
        )
    except ValueError as exc:
        raise InputError(str(exc), path=", ".join(annotations)) from None
    if samples and any(s.judge_confidence or any(c.judge_confidence for c in s.candidates) for s in samples.values()):
        from brun_label.agreement.calibration import calibrate

        summary["judge_calibration"] = calibrate(table, samples, rubric=rubric, seed=seed)
    if gold_report is not None:
        summary["gold"] = gold_report
    if report_path:
        from brun_label.agreement.report import render_report
        from brun_label.atomic import atomic_write_text

        atomic_write_text(report_path, render_report(summary, samples=samples, source=", ".join(annotations)))
        info(f"agreement: report written to {report_path}")
    if as_json:
        echo_json(summary)
    else:
        click.echo(_render_table(summary))
    if min_alpha is not None:
        _gate(summary, min_alpha)
