"""One push for the project: its samples, with gold items mixed in, to every configured platform.

Adapter (reads the project's files, talks to the platforms through the backend port). With a gold
file, a share of gold items (``gold_share`` of the number of samples, chosen and placed by the
project's salt, so a re-push picks the same ones in the same places) is mixed into the samples,
and *every* sample is pushed under opaque ids (:mod:`brun_label.masking`): same fields, no telling
ids, no telling order. The gold answers themselves never leave the machine.

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> def s(i): return sample_from_dict({"id": i, "prompt": "p " + i, "candidates": [{"text": "a"}, {"text": "b"}]})
>>> chosen = choose_gold([s(f"g{i}") for i in range(10)], n_samples=30, share=0.1, salt="x")
>>> len(chosen), chosen == choose_gold([s(f"g{i}") for i in range(10)], n_samples=30, share=0.1, salt="x")
(3, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from brun_label.backends.base import Backend, PushOptions, PushResult
from brun_label.errors import InputError
from brun_label.importers.gold import read_gold
from brun_label.importers.samples import read_samples
from brun_label.masking import KeyMap, item_key, mask_samples
from brun_label.model import Sample, trusted_judge
from brun_label.project import Project
from brun_label.rubric import Rubric

BackendFactory = Callable[[str, Any], Backend]


@dataclass
class ProjectSamples:
    """What a project pushes, and how to read its pulls back."""

    samples: list[Sample]
    """As pushed (masked when the project has gold)."""
    keys: KeyMap | None
    gold_ids: list[str] = field(default_factory=list)
    gold_answers: pd.DataFrame | None = None
    originals: list[Sample] = field(default_factory=list)
    """The project's samples and chosen gold items under their real ids."""


def choose_gold(gold: Sequence[Sample], *, n_samples: int, share: float, salt: str) -> list[Sample]:
    """Pick ``round(share * n_samples)`` gold items (at least 1, at most all), stably by the salt."""
    n = min(len(gold), max(1, round(share * n_samples)))
    return sorted(gold, key=lambda g: item_key(salt, "gold\x00" + g.id))[:n]


def project_samples(project: Project, rubric: Rubric) -> ProjectSamples:
    """Read the project's samples (and gold), mix and mask them as the push does."""
    samples = read_samples(project.samples, rubric=rubric)
    if not project.gold:
        return ProjectSamples(samples=samples, keys=None, originals=samples)
    assert project.pseudonym_salt is not None  # the project file refuses gold without a salt
    salt = project.pseudonym_salt
    gold_samples, answers = read_gold(project.gold, rubric)
    ids = {s.id for s in samples}
    clash = sorted(ids & {g.id for g in gold_samples})
    if clash:
        raise InputError(f"gold sample id {clash[0]!r} is also a sample id: gold items need their own ids",
                         path=project.gold, field="id")
    categories = {s.category for s in samples}
    odd = sorted({g.category for g in gold_samples} - categories)
    if odd:
        raise InputError(f"gold category {odd[0]!r} occurs in no sample: it would tell annotators which items are gold",
                         path=project.gold, field="category")
    chosen = choose_gold(gold_samples, n_samples=len(samples), share=project.gold_share, salt=salt)
    mixed = sorted([*samples, *chosen], key=lambda s: item_key(salt, s.id))
    masked, keys = mask_samples(mixed, salt, rubric)
    chosen_ids = [g.id for g in chosen]
    return ProjectSamples(samples=masked, keys=keys, gold_ids=chosen_ids,
                          gold_answers=answers[answers["item_id"].isin(set(chosen_ids))].reset_index(drop=True),
                          originals=mixed)


def push_project(project: Project, rubric: Rubric, make_backend: BackendFactory, *, dry_run: bool = False,
                 show_judge: bool = False, min_judge_confidence: float | None = None,
                 progress: Callable[[str, int, int], None] | None = None
                 ) -> tuple[ProjectSamples, dict[str, PushResult]]:
    """Push the project's samples (gold mixed in) to every platform; returns what was pushed and each result.

    Judge answers the swap check found inconsistent, or calibrated below ``min_judge_confidence``,
    are not sent (:func:`brun_label.model.trusted_judge`).
    """
    pushed = project_samples(project, rubric)
    pushed.samples = [trusted_judge(s, min_judge_confidence)[0] for s in pushed.samples]
    results: dict[str, PushResult] = {}
    for platform, target in project.targets.items():
        backend = make_backend(platform, target)
        options = PushOptions(target=target.target, workspace=target.workspace, dry_run=dry_run,
                              annotators_per_item=project.overlap)
        if hasattr(options, "show_judge"):
            options.show_judge = show_judge

        def on_progress(done: int, total: int, platform: str = platform) -> None:
            if progress is not None:
                progress(platform, done, total)

        results[platform] = backend.push(pushed.samples, rubric, options, on_progress)
    return pushed, results
