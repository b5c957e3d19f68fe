"""``brun-label route``: one more annotator only where the export's gates see no clear consensus."""

from __future__ import annotations

import click

from brun_label.cli.output import echo_json, info
from brun_label.cli.project_ctx import (
    backend_for,
    current_project,
    project_option,
    project_rubric,
    read_project_table,
)
from brun_label.project_push import project_samples
from brun_label.project_route import apply, ensure_state_dir, load_state, plan


@click.command()
@project_option
@click.option("--dry-run", is_flag=True, help="Say what would be routed, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def route(project_file: str | None, dry_run: bool, as_json: bool) -> None:
    """Adaptive overlap: after a pull, ask for one more annotator on items without a clear consensus.

    Items whose round is done and whose votes reach no clear decision under the export's gates get
    exactly one more annotator slot, up to the project's max_overlap; clear items get none. Label
    Studio: the task's own overlap; Argilla: a round dataset (its overlap is per dataset).

    \b
    Example:
      brun-label pull && brun-label route
    """
    project = current_project(project_file)
    assert project is not None
    rubric = project_rubric(project)
    table = read_project_table(project, rubric)
    pushed = project_samples(project, rubric)
    state = load_state(project)
    decision, excluded = plan(project, rubric, table, pushed, state)
    for person in excluded:
        info(f"{person}: below the project's gold accuracy gate, not counted")
    ensure_state_dir(project)
    applied = apply(project, rubric, decision, pushed, state, backend_for, dry_run=dry_run)
    summary = {**decision.to_dict(), "round": state.round, "dry_run": dry_run, "platforms": applied,
               "excluded": excluded}
    if as_json:
        echo_json(summary)
        return
    c = summary["counts"]
    verb = "would ask" if dry_run else "asked"
    click.echo(f"round {state.round}: {verb} for one more annotator on {c['extend']} item(s); "
               f"{c['clear']} clear, {c['waiting']} still in their round, {c['exhausted']} at max overlap "
               "(see `brun-label adjudicate`)")
