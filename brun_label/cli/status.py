"""``brun-label status``: how the project's annotation is going, from an incremental pull."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from brun_label.cli.output import echo_json
from brun_label.cli.project_ctx import backend_for, current_project, project_option, project_rubric
from brun_label.errors import InputError
from brun_label.project import PROJECT_FILE, Project
from brun_label.rubric import Rubric


def _samples(project: Project, rubric: Rubric) -> tuple[Any, Any, list[str], Any]:
    """(keys for masked ids, candidates frame without gold items, notes, the pushed samples) when readable."""
    from brun_label.exporters.pairs import candidates_frame
    from brun_label.project_push import project_samples

    if not Path(project.samples).is_file():
        if project.gold:
            raise InputError("the project mixes in gold items, so its samples file is needed to read the pull",
                             path=project.samples)
        return None, None, [f"samples file {project.samples} not found: items and candidates are the ones the "
                            "table names"], None
    mixed = project_samples(project, rubric)
    gold = set(mixed.gold_ids)
    originals = [s for s in mixed.originals if s.id not in gold]  # gold items never become pairs
    return mixed.keys, candidates_frame((s.id, [c.id for c in s.candidates]) for s in originals), [], mixed


def collect(project_file: str | None, *, full: bool) -> dict[str, Any]:
    """One incremental (or, with ``full``, full) pull of the project and its status."""
    from brun_label.project_pull import pull_project
    from brun_label.project_route import ensure_state_dir
    from brun_label.status import project_status

    project = current_project(project_file)
    assert project is not None
    rubric = project_rubric(project)
    keys, candidates, notes, pushed = _samples(project, rubric)
    started = time.monotonic()
    ensure_state_dir(project)
    result = pull_project(project, rubric, backend_for, keys=keys, full=full, state_dir=project.state_dir)
    took = time.monotonic() - started
    items = {p: int(t["item_id"].nunique()) if not t.empty else 0 for p, t in result.platform_tables.items()}
    for platform, counts in result.server_counts.items():
        if "task_number" in counts:
            items[platform] = counts["task_number"]
        elif "records" in counts:
            items[platform] = counts["records"]
    gates = project.export_gates()
    anchors, excluded = None, []
    if pushed is not None:  # the same people and gold anchors as route and export
        from brun_label.project_route import excluded_people, gold_anchors

        excluded = excluded_people(result.table, pushed, project, rubric)
        anchors = gold_anchors(result.table, pushed, rubric, excluded)
    status = project_status(result.table, rubric, platform_tables=result.platform_tables,
                            server_counts=result.server_counts, platform_items=items, candidates=candidates,
                            overlap=project.overlap, gates=gates, anchors=anchors, excluded=excluded)
    status["pull"] = {"modes": result.modes, "items_read": result.items_read, "seconds": round(took, 2),
                      "invalid_answers": len(result.invalid), "notes": notes + result.notes}
    return status


def render(status: dict[str, Any]) -> Any:
    """The status as a rich renderable (every cell is plain text, never markup)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from brun_label.status import status_tables

    parts: list[Any] = []
    pull = status.get("pull") or {}
    head = (f"{status['generated_at']}  rubric {status['rubric']}  items {status['items']}  pull "
            + ", ".join(f"{p}: {m} ({pull.get('items_read', {}).get(p, 0)} read)" for p, m in
                        (pull.get("modes") or {}).items())
            + f"  {pull.get('seconds', 0)} s")
    parts.append(Text(head))
    for title, header, rows in status_tables(status):
        table = Table(title=Text(title), title_justify="left", show_header=any(header))
        for h in header:
            table.add_column(Text(h), overflow="fold")
        for row in rows:
            table.add_row(*(Text(str(cell)) for cell in row))
        parts.append(table)
    for note in pull.get("notes") or []:
        parts.append(Text(f"note: {note}"))
    return Group(*parts)


@click.command()
@project_option
@click.option("--full", is_flag=True, help="Rebuild from a full pull instead of fetching only what changed.")
@click.option("--watch", is_flag=True, help="Refresh in place (incremental pulls) until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON (one line per refresh with --watch).")
def status(project_file: str | None, full: bool, watch: bool, interval: float, as_json: bool) -> None:
    """Who did what, how fast, whether agreement holds, what is exportable, when it will be done.

    Pulls the project incrementally (only what changed on each platform since the last pull,
    kept in the project's state folder, .brun-label/project/ by default, shared with
    `brun-label pull`; --full rebuilds it), then reports per platform and per person: assigned,
    submitted, drafts and skipped items; throughput over the last hour and day and the ETA to the
    overlap target; agreement so far per question with its 95% interval; items at a clear
    consensus (the export's own gates) and items short of votes; and each platform's own counts
    next to the table's.

    \b
    Example:
      brun-label status                 # once
      brun-label status --watch         # live, refreshed every 30 s
      brun-label status --json | jq .overlap
    """
    if project_file is None and not Path(PROJECT_FILE).is_file():
        raise InputError("no project file here (brun-label.yaml): run `brun-label init` first, or pass "
                         "--project-file", field="--project-file")
    if not watch:
        result = collect(project_file, full=full)
        if as_json:
            echo_json(result)
        else:
            from rich.console import Console

            Console(markup=False, highlight=False).print(render(result))
        return
    from rich.console import Console
    from rich.live import Live

    first = True
    console = Console(markup=False, highlight=False)
    try:
        if as_json:
            while True:
                click.echo(_one_line(collect(project_file, full=full and first)))
                first = False
                _wait(interval)
        with Live(console=console, auto_refresh=False) as live:
            while True:
                live.update(render(collect(project_file, full=full and first)), refresh=True)
                first = False
                _wait(interval)
    except KeyboardInterrupt:
        return


def _wait(seconds: float) -> None:
    """Sleep between refreshes (Ctrl-C ends the watch)."""
    time.sleep(seconds)


def _one_line(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False, sort_keys=False)
