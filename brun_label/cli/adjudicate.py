"""``brun-label adjudicate``: disputed items to a project where a named adjudicator decides."""

from __future__ import annotations

import click

from brun_label.agreement.summary import summarize
from brun_label.cli.output import echo_json, info
from brun_label.cli.project_ctx import (
    backend_for,
    current_project,
    project_option,
    project_rubric,
    read_project_table,
)
from brun_label.errors import InputError
from brun_label.exporters.adjudicated import adjudicated_items
from brun_label.project_adjudicate import (
    adjudication_samples,
    adjudication_target,
    items_to_adjudicate,
    push_adjudication,
)
from brun_label.project_push import project_samples
from brun_label.project_route import load_state, plan


@click.command()
@project_option
@click.option("--max-items", type=click.IntRange(min=1), default=None, help="Send at most this many items.")
@click.option("--dry-run", is_flag=True, help="Say what would be sent, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def adjudicate(project_file: str | None, max_items: int | None, dry_run: bool, as_json: bool) -> None:
    """Send the items worth a second look to the adjudication project, with every annotator's answers.

    The items are the agreement engine's low-agreement units and the items routing gave up on at
    max_overlap (never gold items, never items already decided). The next `brun-label pull` brings
    the decisions of the project's adjudicators back; `export dpo` treats them as final.

    \b
    Example:
      brun-label adjudicate && brun-label pull && brun-label export dpo -o pairs.jsonl
    """
    project = current_project(project_file)
    assert project is not None
    if not project.adjudicators:
        raise InputError("the project names no adjudicators (brun-label init --adjudicator NAME)",
                         field="adjudicators")
    rubric = project_rubric(project)
    table = read_project_table(project, rubric)
    pushed = project_samples(project, rubric)
    exhausted: list[str] = []
    if project.max_overlap is not None:
        exhausted = plan(project, rubric, table, pushed, load_state(project))[0].exhausted
    summary = summarize(table[~table["item_id"].isin(set(pushed.gold_ids))], rubric=rubric, max_low_units=None)
    items = items_to_adjudicate(summary, exhausted, gold=pushed.gold_ids, decided=list(adjudicated_items(table)))
    if max_items is not None:
        items = items[:max_items]
    by_id = {s.id: s for s in pushed.originals}
    samples = adjudication_samples(table, [by_id[i] for i in items if i in by_id], rubric)
    results = push_adjudication(project, rubric, samples, backend_for, dry_run=dry_run) if samples else {}
    targets = {p: adjudication_target(p, t.target) for p, t in project.targets.items()}
    out = {"items": items, "dry_run": dry_run, "targets": targets,
           "added": {p: r.n_added for p, r in results.items()}, "adjudicators": list(project.adjudicators)}
    if as_json:
        echo_json(out)
        return
    for platform, result in results.items():
        for note in result.notes:
            info(f"{platform}: {note}")
    verb = "would send" if dry_run else "sent"
    click.echo(f"{verb} {len(items)} disputed item(s) to " + ", ".join(
        f"{p} {n!r}" for p, n in targets.items()) + f"; adjudicators: {', '.join(project.adjudicators)}")
