"""``brun-label validate`` and ``brun-label schema``."""

from __future__ import annotations

import json
from importlib import resources

import click

from brun_label.cli.output import echo_json, info
from brun_label.cli.project_ctx import current_project, project_option
from brun_label.errors import InputError
from brun_label.importers.samples import FORMATS, validate_samples
from brun_label.rubrics import load_rubric


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="File format (default: by extension).")
@click.option("--max-problems", type=click.IntRange(min=1), default=None, help="Stop after this many problems.")
@click.option("--rubric", "rubric_name", default=None, metavar="NAME|FILE",
              help="Also check the rubric, and the judge answers and candidate counts against it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts and problems.")
@project_option
def validate(files: tuple[str, ...], fmt: str | None, max_problems: int | None, rubric_name: str | None,
             as_json: bool, project_file: str | None) -> None:
    """Check sample files and report every problem with file, line and field.

    With ``--rubric`` the rubric file is checked first (an invalid rubric is exit 2 at once), then
    every sample's judge answers and candidate count against it.
    Exits 0 when every file is valid, 2 otherwise (one line per problem on stderr).

    \b
    Example:
      brun-label validate samples.jsonl
      brun-label validate samples.jsonl --rubric my-rubric.yaml
      brun-label validate export.csv --format csv --json
      brun-label validate          # in a project folder: its samples and gold file, with its rubric
    """
    if not files:
        project = current_project(project_file, required=False)
        if project is None:
            raise InputError("give the sample file(s) to check (or run in a project folder)", field="FILES")
        files = (project.samples,)
        rubric_name = rubric_name or project.rubric
        if project.gold:
            from brun_label.importers.gold import read_gold

            read_gold(project.gold, load_rubric(rubric_name))  # its problems are one error (exit 2)
    rubric = load_rubric(rubric_name) if rubric_name else None
    reports = [validate_samples(f, fmt, max_problems=max_problems, rubric=rubric) for f in files]
    n_problems = sum(len(r.problems) for r in reports)
    if as_json:
        echo_json({
            "ok": n_problems == 0 and all(r.ok for r in reports),
            "files": [
                {
                    "path": r.path,
                    "samples": r.n_valid,
                    "problems": [
                        {"path": p.path, "line": p.line, "field": p.field, "message": p.message}
                        for p in r.problems
                    ],
                }
                for r in reports
            ],
        })
    else:
        for r in reports:
            for p in r.problems:
                info(f"Error: {p.render()}")
            status = "ok" if not r.problems else f"{len(r.problems)} problem(s)"
            click.echo(f"{r.path}: {r.n_valid} valid sample(s), {status}")
    if n_problems:
        raise click.exceptions.Exit(2)


@click.command()
def schema() -> None:
    """Print the JSON Schema of the sample format.

    \b
    Example:
      brun-label schema > sample.schema.json
    """
    text = resources.files("brun_label").joinpath("sample.schema.json").read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:  # pragma: no cover - the shipped schema is tested
        raise InputError(f"shipped schema is broken: {exc}") from None
    click.echo(text.rstrip("\n"))
