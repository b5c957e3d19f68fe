"""``brun-label rubric list|show``."""

from __future__ import annotations

import json

import click

from brun_label.cli.output import echo_json
from brun_label.render_argilla import render_argilla
from brun_label.render_label_studio import render_label_studio
from brun_label.rubrics import load_rubric, pack_names, rubric_source


@click.group()
def rubric() -> None:
    """List and render rubric packs.

    \b
    Example:
      brun-label rubric list
      brun-label rubric show de-escalation --format label-studio
    """


@rubric.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List the shipped rubric packs.

    \b
    Example:
      brun-label rubric list --json
    """
    packs = [load_rubric(n) for n in pack_names()]
    if as_json:
        echo_json([
            {"name": r.name, "title": r.title, "version": r.version,
             "questions": [{"name": q.name, "type": q.type, "scope": q.scope, "level": q.level} for q in r.questions]}
            for r in packs
        ])
        return
    for r in packs:
        qs = ", ".join(f"{q.name} ({q.type})" for q in r.questions)
        click.echo(f"{r.name:<18} v{r.version}  {r.title}\n{'':<20}{qs}")


@rubric.command()
@click.argument("name")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "label-studio", "argilla"]), default="yaml",
    show_default=True, help="What to print.",
)
@click.option("--candidates", type=click.IntRange(min=2, max=26), default=2, show_default=True,
              help="Number of candidate slots to render.")
def show(name: str, fmt: str, candidates: int) -> None:
    """Print a rubric (a pack name or a file) as YAML, Label Studio XML or Argilla settings JSON.

    \b
    Example:
      brun-label rubric show de-escalation --format argilla > settings.json
      brun-label rubric show ./my-rubric.yaml --format label-studio --candidates 4
    """
    if fmt == "yaml":
        click.echo(rubric_source(name).rstrip("\n"))
    elif fmt == "label-studio":
        click.echo(render_label_studio(load_rubric(name), n_candidates=candidates).rstrip("\n"))
    else:
        click.echo(json.dumps(render_argilla(load_rubric(name), n_candidates=candidates), indent=2))
