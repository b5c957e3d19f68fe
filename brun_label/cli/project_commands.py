"""What ``push`` and ``pull`` do in a project folder when no ``--to``/``--from`` is given."""

from __future__ import annotations

from typing import Any

import click
import pandas as pd

from brun_label.cli.output import Progress, echo_json, info
from brun_label.cli.project_ctx import backend_for, project_rubric
from brun_label.exporters.tables import write_annotations
from brun_label.project import Project
from brun_label.project_adjudicate import pull_decisions
from brun_label.project_pull import pull_project
from brun_label.project_push import push_project
from brun_label.project_route import ensure_state_dir
from brun_label.routing import assign_rounds


def _progress(label: str) -> tuple[Any, dict[str, Progress]]:
    bars: dict[str, Progress] = {}

    def on_progress(platform: str, done: int, total: int) -> None:
        bar = bars.setdefault(platform, Progress(total, f"{label} {platform}"))
        bar.total = total
        bar.update(done)

    return on_progress, bars


def run_project_push(project: Project, *, dry_run: bool, show_judge: bool, as_json: bool,
                     min_judge_confidence: float | None = None) -> None:
    """Push the project's samples (gold mixed in, masked) to every platform of the project."""
    rubric = project_rubric(project)
    on_progress, bars = _progress("push to")
    try:
        pushed, results = push_project(project, rubric, backend_for, dry_run=dry_run, show_judge=show_judge,
                                       min_judge_confidence=min_judge_confidence, progress=on_progress)
    finally:
        for bar in bars.values():
            bar.close()
    if as_json:
        echo_json({"project": True, "gold_items": len(pushed.gold_ids),
                   "platforms": {p: r.to_dict() for p, r in results.items()}})
        return
    for platform, r in results.items():
        verb = "would add" if r.dry_run else "added"
        click.echo(f"{platform} {r.target!r}: {verb} {r.n_added} item(s), {r.n_existing} already there")
        for note in r.notes:
            info(f"{platform}: {note}")
        if r.url:
            click.echo(f"annotate at {r.url}")
    if pushed.gold_ids:
        info(f"{len(pushed.gold_ids)} gold item(s) mixed in under opaque ids (nothing tells them apart)")


def _pull_round_datasets(project: Project, rubric: Any, keys: Any) -> pd.DataFrame:
    """The rows of the Argilla round datasets ``route`` created, unmasked and named by person."""
    from brun_label.backends.base import PullOptions
    from brun_label.masking import unmask_table
    from brun_label.people import attribute_people
    from brun_label.project_route import load_state

    target = project.targets.get("argilla")
    state = load_state(project)
    if target is None or not state.argilla_rounds:
        return pd.DataFrame()
    backend = backend_for("argilla", target)
    frames = []
    for name in state.argilla_rounds:
        pulled = backend.pull(rubric, PullOptions(target=name, workspace=target.workspace, include_judge=False))
        table = pulled.table
        if keys is not None:
            table, _ = unmask_table(table, keys, rubric)
        frames.append(attribute_people(table, project)[0])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def run_project_pull(project: Project, *, full: bool, include_judge: bool, strict: bool, as_json: bool) -> None:
    """Pull every platform (and the adjudication projects), merge, name people, write the project table."""
    from brun_label.errors import InputError
    from brun_label.project_push import project_samples

    rubric = project_rubric(project)
    pushed = project_samples(project, rubric)
    ensure_state_dir(project)
    on_progress, bars = _progress("pull from")
    try:
        result = pull_project(project, rubric, backend_for, include_judge=include_judge, progress=on_progress,
                              keys=pushed.keys, full=full, state_dir=project.state_dir)
    finally:
        for bar in bars.values():
            bar.close()
    for problem in result.invalid:
        info(f"invalid answer (not used): {problem}")
    if strict and result.invalid:
        raise InputError(f"{len(result.invalid)} answer(s) do not fit the rubric; nothing written", field="--strict")
    decisions, notes = pull_decisions(project, rubric, backend_for) if project.adjudicators else (pd.DataFrame(), [])
    table = result.table
    rounds = _pull_round_datasets(project, rubric, pushed.keys)
    if not rounds.empty:
        table = pd.concat([table, rounds], ignore_index=True)
        notes.append(f"{len(rounds)} row(s) from Argilla round datasets (adaptive overlap)")
    if not decisions.empty:
        table = pd.concat([table, decisions], ignore_index=True)
    table = table.assign(round=assign_rounds(table, project.overlap or 1))
    write_annotations(table, project.table)
    for note in [*result.notes, *notes]:
        info(note)
    people = sorted(a for a in table["annotator"].astype(str).unique() if not a.startswith(("judge:", "adjudicator:")))
    summary = {"output": project.table, "rows": len(table), "rows_per_platform": result.rows_per_platform,
               "people": people, "unmatched": result.people.unmatched,
               "cross_platform_duplicates": result.people.cross_platform_duplicates,
               "decisions": len(decisions), "gold_items": len(pushed.gold_ids), "invalid": len(result.invalid)}
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"{project.table}: {len(table)} row(s) from " + ", ".join(
            f"{p} ({n})" for p, n in result.rows_per_platform.items()) + f"; {len(people)} person(s)")
