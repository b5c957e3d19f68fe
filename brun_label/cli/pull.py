"""``brun-label pull``: every annotator's answers back as the long annotation table."""

from __future__ import annotations

import click

from brun_label.answers import MAX_SHOWN
from brun_label.backends.base import PullOptions
from brun_label.cli.connection import PLATFORMS, make_backend, resolve_target, target_options
from brun_label.cli.output import Progress, echo_json, info
from brun_label.cli.project_commands import run_project_pull
from brun_label.cli.project_ctx import current_project, project_option
from brun_label.errors import InputError
from brun_label.exporters.tables import write_annotations
from brun_label.importers.annotations import table_format
from brun_label.rubrics import load_rubric


@click.command()
@click.option("--from", "platform", type=click.Choice(PLATFORMS), default=None,
              help="Annotation platform (default: every platform of the project file, merged).")
@target_options
@click.option("--rubric", "rubric_name", default=None, metavar="NAME|FILE",
              help="Rubric (default: the one recorded by `brun-label push`).")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Output table: .jsonl, .csv or .parquet (written atomically; a project pull writes the "
                   "project's table).")
@click.option("--full", is_flag=True, help="Project pull: fetch everything again instead of only what changed.")
@project_option
@click.option("--no-judge", is_flag=True, help="Leave out LLM-judge predictions/suggestions.")
@click.option("--annotator-names", type=click.Choice(["email", "username"]), default="email", show_default=True,
              help="Label Studio: name annotators by email or username (Argilla has usernames only).")
@click.option("--strict", is_flag=True, help="Fail (exit 2, no file) if any answer does not fit the rubric.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def pull(platform: str | None, target: str | None, workspace: str | None, url: str | None,
         api_key_env: str | None, rubric_name: str | None, output: str | None, full: bool,
         project_file: str | None, no_judge: bool, annotator_names: str, strict: bool, as_json: bool) -> None:
    """Pull all annotations (submitted, draft, skipped/discarded: see the status column).

    Answers are mapped back to sample and candidate ids and to the rubric's question names and
    values, and checked against the rubric: answers that do not fit are reported, not used
    (--strict: exit 2, no file). The rubric is the one push recorded on the project/dataset; a
    --rubric with another fingerprint is refused. A candidate nobody rated gets no rows.

    \b
    Example:
      brun-label pull --from label-studio --project "Crisis replies v1" -o ann.parquet
      brun-label pull --from argilla --dataset crisis-replies-v1 -o ann.parquet
      brun-label pull            # in a project folder: every platform, merged, people named, incremental
    """
    project = current_project(project_file, required=False)
    if platform is None:
        if project is None:
            raise InputError("is required (or run in a project folder: brun-label init)", field="--from")
        if target or output or rubric_name:
            raise InputError("without --from, pull merges every platform of the project file into the project's "
                             "table; pass --from to pull one target to a file", field="--from")
        run_project_pull(project, full=full, include_judge=not no_judge, strict=strict, as_json=as_json)
        return
    target, workspace, url, api_key_env = resolve_target(platform, target, workspace, url, api_key_env, project)
    if output is None:
        raise InputError("give the output table (-o ann.parquet)", field="--output")
    if rubric_name is None and project is not None:
        rubric_name = project.rubric
    table_format(output)  # fail on a bad extension before talking to the server
    rubric = load_rubric(rubric_name) if rubric_name else None
    backend = make_backend(platform, url, api_key_env)
    bar = Progress(0, f"pull from {platform}")

    def on_progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done)

    try:
        result = backend.pull(rubric, PullOptions(target=target, workspace=workspace, include_judge=not no_judge,
                                                  annotator_names=annotator_names), on_progress)
    finally:
        bar.close()
    for note in result.notes:
        info(f"note: {note}")
    for problem in result.invalid[:MAX_SHOWN]:
        info(f"invalid answer (not used): {problem}")
    if len(result.invalid) > MAX_SHOWN:
        info(f"... and {len(result.invalid) - MAX_SHOWN} more")
    if strict and result.invalid:
        raise InputError(f"{len(result.invalid)} answer(s) do not fit the rubric; nothing written (--strict)",
                         field="--strict")
    write_annotations(result.table, output)
    table = result.table
    annotators = sorted(a for a in table["annotator"].unique() if not str(a).startswith("judge:"))
    summary = {
        "output": output,
        "rows": len(table),
        "items": result.n_items,
        "annotators": annotators,
        "by_status": {str(k): int(v) for k, v in table["status"].value_counts().items()},
        "invalid": len(result.invalid),
        "notes": result.notes,
    }
    if as_json:
        echo_json(summary)
    else:
        click.echo(f"{output}: {summary['rows']} row(s) from {summary['items']} item(s), "
                   f"{len(annotators)} annotator(s), {summary['invalid']} invalid answer(s)")
