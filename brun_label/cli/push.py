"""``brun-label push``: put samples into a Label Studio project or an Argilla dataset."""

from __future__ import annotations

import click

from brun_label.backends.base import PushOptions
from brun_label.cli.connection import PLATFORMS, make_backend, resolve_target, target_options
from brun_label.cli.output import Progress, echo_json, info
from brun_label.cli.project_commands import run_project_push
from brun_label.cli.project_ctx import current_project, project_option
from brun_label.errors import InputError
from brun_label.importers.samples import FORMATS, read_samples
from brun_label.model import Sample, trusted_judge
from brun_label.rubrics import load_rubric


def _trusted(samples: list[Sample], min_confidence: float | None) -> tuple[list[Sample], int]:
    """The samples without the judge answers not to send (see :func:`brun_label.model.trusted_judge`)."""
    out, dropped = [], 0
    for s in samples:
        kept, n = trusted_judge(s, min_confidence)
        out.append(kept)
        dropped += n
    return out, dropped


@click.command()
@click.argument("samples_file", metavar="[SAMPLES]", type=click.Path(dir_okay=False), required=False)
@click.option("--to", "platform", type=click.Choice(PLATFORMS), default=None,
              help="Annotation platform (default: every platform of the project file).")
@target_options
@click.option("--rubric", "rubric_name", default=None, metavar="NAME|FILE",
              help="Rubric pack name (see `brun-label rubric list`) or a rubric file (default: the project's).")
@project_option
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Sample file format.")
@click.option("--candidates", type=click.IntRange(min=2, max=26), default=None,
              help="Candidate slots of the named project/dataset (default: the most any sample has); "
                   "samples with another count go to its '<name> (N)' sibling.")
@click.option("--annotators-per-item", type=click.IntRange(min=1), default=None,
              help="Argilla: submitted responses needed per record (task distribution).")
@click.option("--update-config", is_flag=True,
              help="Replace a different existing config (refused if it would orphan annotations).")
@click.option("--show-judge", is_flag=True,
              help="Show the LLM judge's answers to annotators (pre-labelled in Label Studio, pre-selected "
                   "suggestions in Argilla). Default: stored for pull but hidden, so they do not anchor anyone.")
@click.option("--min-judge-confidence", type=click.FloatRange(0.0, 1.0), default=None, metavar="P",
              help="Send only judge answers whose calibrated confidence (judge --calibrate-with) is at "
                   "least P. Answers the swap check found inconsistent are never sent.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the candidate order shown.")
@click.option("--dry-run", is_flag=True, help="Say what would change, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def push(samples_file: str, platform: str, target: str, workspace: str | None, url: str | None,
         api_key_env: str | None, rubric_name: str, fmt: str | None, candidates: int | None,
         annotators_per_item: int | None, update_config: bool, show_judge: bool,
         min_judge_confidence: float | None, project_file: str | None, seed: int, dry_run: bool,
         as_json: bool) -> None:
    """Push samples as tasks/records, idempotently: samples already there are not added again.

    Every task carries the sample's stable id and the candidate order shown to annotators
    (randomised per sample, recorded). LLM-judge answers are stored for pull but hidden from
    annotators unless --show-judge (then Label Studio pre-labels tasks with them and Argilla
    pre-selects them as suggestions); the mode is recorded on the project/records. An
    interrupted push resumes on re-run.

    \b
    Example:
      brun-label push samples.jsonl --to label-studio --project "Crisis replies v1" --rubric de-escalation
      brun-label push samples.jsonl --to argilla --dataset crisis-replies-v1 --workspace team \\
          --rubric de-escalation --annotators-per-item 3
      brun-label push judged.jsonl --to label-studio --project "Crisis replies v1" \\
          --rubric de-escalation --show-judge --min-judge-confidence 0.8
      brun-label push            # in a project folder: the project's samples (and gold) to every platform
    """
    project = current_project(project_file, required=False)
    if platform is None:
        if project is None:
            raise InputError("is required (or run in a project folder: brun-label init)", field="--to")
        if samples_file or rubric_name or target:
            raise InputError("without --to, push sends the project's own samples to every platform of the "
                             "project file; pass --to to push another file or target", field="--to")
        run_project_push(project, dry_run=dry_run, show_judge=show_judge, as_json=as_json,
                         min_judge_confidence=min_judge_confidence)
        return
    target, workspace, url, api_key_env = resolve_target(platform, target, workspace, url, api_key_env, project)
    if rubric_name is None:
        if project is None:
            raise InputError("is required (or run in a project folder)", field="--rubric")
        rubric_name = project.rubric
    if samples_file is None:
        if project is None:
            raise InputError("give the samples file (or run in a project folder)", field="SAMPLES")
        samples_file = project.samples
    rubric = load_rubric(rubric_name)
    samples = read_samples(samples_file, fmt, rubric=rubric)
    samples, n_untrusted = _trusted(samples, min_judge_confidence)
    backend = make_backend(platform, url, api_key_env)
    options = PushOptions(target=target, workspace=workspace, n_candidates=candidates,
                          update_config=update_config, dry_run=dry_run,
                          annotators_per_item=annotators_per_item, seed=seed, show_judge=show_judge)
    bar = Progress(len(samples), f"push to {platform}")

    def on_progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done)

    try:
        result = backend.push(samples, rubric, options, on_progress)
    finally:
        bar.close()
    if as_json:
        echo_json(result.to_dict())
        return
    verb = "would add" if result.dry_run else "added"
    where = f"{platform} {'project' if platform == 'label-studio' else 'dataset'} {target!r}"
    state = "new" if result.created else "existing"
    click.echo(f"{where} ({state}): {verb} {result.n_added} sample(s), "
               f"{result.n_existing} already there, {result.n_samples} in the file")
    if n_untrusted:
        info(f"{n_untrusted} judge answer(s) not sent: inconsistent with the candidates reversed"
             + ("" if min_judge_confidence is None else f", or calibrated confidence below {min_judge_confidence:g}"))
    for note in result.notes:
        info(note)
    if result.url:
        click.echo(f"annotate at {result.url}")


