"""``brun-label init``: write the project file (``brun-label.yaml``) from flags."""

from __future__ import annotations

from pathlib import Path

import click

from brun_label.cli.output import echo_json
from brun_label.errors import InputError
from brun_label.importers.gold import read_gold
from brun_label.importers.samples import read_samples
from brun_label.model import CONSENSUS
from brun_label.project import (
    PLATFORM_TARGET_KEYS,
    PROJECT_FILE,
    ProjectError,
    project_from_dict,
    render_path,
)
from brun_label.project_file import load_project, new_salt, write_project
from brun_label.rubrics import load_rubric


def parse_person(text: str) -> dict[str, str]:
    """Parse ``NAME:PLATFORM=ID[,PLATFORM=ID...][,pseudonym=P]`` into a people entry.

    >>> parse_person("Ana Lima:label-studio=ana@corp.com,argilla=ana")
    {'name': 'Ana Lima', 'label-studio': 'ana@corp.com', 'argilla': 'ana'}
    """
    name, sep, rest = text.partition(":")
    if not sep or not name.strip() or not rest.strip():
        raise InputError(f"{text!r}: use NAME:PLATFORM=ID[,PLATFORM=ID] (e.g. 'Ana:label-studio=ana@corp.com,argilla=ana')",
                         field="--person")
    entry = {"name": name.strip()}
    for part in rest.split(","):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in (*PLATFORM_TARGET_KEYS, "pseudonym") or not value.strip():
            raise InputError(f"{part!r}: use PLATFORM=ID with a platform of {', '.join(PLATFORM_TARGET_KEYS)} "
                             "(or pseudonym=P)", field="--person")
        entry[key] = value.strip()
    return entry


@click.command()
@click.option("--samples", "samples_file", required=True, type=click.Path(dir_okay=False),
              help="The project's samples file (checked now).")
@click.option("--rubric", "rubric_name", required=True, metavar="NAME|FILE", help="Rubric pack or file.")
@click.option("--label-studio-project", default=None, metavar="TITLE", help="Label Studio project title.")
@click.option("--argilla-dataset", default=None, metavar="NAME", help="Argilla dataset name.")
@click.option("--argilla-workspace", default=None, metavar="NAME", help="Argilla workspace.")
@click.option("--person", "people", multiple=True, metavar="NAME:PLATFORM=ID,...",
              help="A person and their identity on each platform (repeatable).")
@click.option("--overlap", type=click.IntRange(min=1), default=None,
              help="Annotators per item (with --max-overlap: the start of adaptive overlap).")
@click.option("--max-overlap", type=click.IntRange(min=1), default=None,
              help="Adaptive overlap: `brun-label route` adds annotators up to this many per item.")
@click.option("--consensus", type=click.Choice(CONSENSUS), default=None,
              help="How the export decides: share (votes counted) or dawid-skene (votes weighed by each "
                   "person's reliability). Default: dawid-skene with --max-overlap, else share.")
@click.option("--gold", "gold_file", default=None, type=click.Path(dir_okay=False),
              help="Gold file: samples with known answers, mixed into the push (checked now).")
@click.option("--gold-share", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=0.1,
              show_default=True, help="Share of gold items mixed in, relative to the samples.")
@click.option("--adjudicator", "adjudicators", multiple=True, metavar="NAME",
              help="A person (by --person name) who decides disputed items (repeatable).")
@click.option("--project-file", default=PROJECT_FILE, show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the project file.")
@click.option("--force", is_flag=True, help="Replace an existing project file.")
@click.option("--json", "as_json", is_flag=True, help="Print the project as JSON.")
def init(samples_file: str, rubric_name: str, label_studio_project: str | None, argilla_dataset: str | None,
         argilla_workspace: str | None, people: tuple[str, ...], overlap: int | None, max_overlap: int | None,
         consensus: str | None, gold_file: str | None, gold_share: float, adjudicators: tuple[str, ...], project_file: str,
         force: bool, as_json: bool) -> None:
    """Write a project file: samples, rubric (with its fingerprint), platforms, people, overlap.

    Every command run in the folder then reads it (flags override). Keys never go in it.

    \b
    Example:
      brun-label init --samples judged.jsonl --rubric de-escalation \\
          --label-studio-project "Crisis replies v1" --argilla-dataset crisis-replies-v1 \\
          --argilla-workspace team --person "Ana:label-studio=ana@corp.com,argilla=ana" --overlap 3
    """
    rubric = load_rubric(rubric_name)
    read_samples(samples_file, rubric=rubric)
    if gold_file is not None:
        read_gold(gold_file, rubric)
    platforms: dict[str, dict[str, str]] = {}
    if label_studio_project:
        platforms["label-studio"] = {"project": label_studio_project}
    if argilla_dataset:
        platforms["argilla"] = {"dataset": argilla_dataset}
        if argilla_workspace:
            platforms["argilla"]["workspace"] = argilla_workspace
    elif argilla_workspace:
        raise InputError("--argilla-workspace needs --argilla-dataset", field="--argilla-workspace")
    folder = Path(project_file).resolve().parent

    def rel(path: str) -> str:
        p = Path(path).resolve()
        try:
            return str(p.relative_to(folder))
        except ValueError:
            return str(p)

    raw = {
        "version": 1,
        "samples": rel(samples_file),
        "rubric": rubric_name if not Path(rubric_name).exists() else rel(rubric_name),
        "rubric_identity": rubric.identity,
        "platforms": platforms,
        "people": [parse_person(p) for p in people] or None,
        "overlap": overlap,
        "max_overlap": max_overlap,
        "consensus": consensus,
        "gold": rel(gold_file) if gold_file else None,
        "gold_share": gold_share if gold_file else None,
        "adjudicators": list(adjudicators) or None,
        "pseudonym_salt": new_salt(),
    }
    try:
        project = project_from_dict({k: v for k, v in raw.items() if v is not None})
    except ProjectError as exc:
        flag = {"platforms": "--label-studio-project/--argilla-dataset", "people": "--person",
                "adjudicators": "--adjudicator", "max_overlap": "--max-overlap"}.get(
            str(exc.path[0]) if exc.path else "", render_path(exc.path))
        raise InputError(exc.message, field=flag) from None
    write_project(project, project_file, overwrite=force)
    load_project(project_file)  # what was written reads back
    if as_json:
        echo_json({"project_file": project_file, "rubric_identity": rubric.identity,
                   "platforms": sorted(platforms), "people": len(project.people)})
    else:
        click.echo(f"{project_file}: project with {len(platforms)} platform(s), {len(project.people)} person(s), "
                   f"rubric {rubric.identity}")
