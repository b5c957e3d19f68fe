"""``route``: ask for one more annotator only where the export's gates see no clear consensus.

Adapter (project state on disk, platforms through their own mechanisms). One run:

1. reads the project table (a ``pull`` writes it) and leaves out gold items and people below the
   project's ``min_gold_accuracy`` gate;
2. decides with :func:`brun_label.routing.plan_routing` under the export's own gates;
3. applies the new targets on every platform:

   * **Label Studio**: the task's own ``overlap`` (+1) and ``is_labeled`` cleared
     (:mod:`brun_label.backends.label_studio_routing`); the label stream then serves it to one more
     person who has not annotated it;
   * **Argilla**: the task distribution (``min_submitted``) is per dataset, not per record, so
     routed items go to a *round dataset* ``<dataset>-round-<k>`` in the same workspace with
     ``min_submitted`` 1: exactly one more submitted response each. Argilla cannot keep a person who
     already answered an item from getting it again there; the project pull counts that person once
     (their later answer), and the next ``route`` asks again for that item;

4. records the round, the targets and what was routed, atomically, in
   ``<project state>/routing.json``; a pull numbers each person's answer to an item by its round
   (:func:`brun_label.routing.assign_rounds`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from brun_label.agreement.gold import below_threshold, gold_scores, known_verdicts
from brun_label.atomic import atomic_write_text
from brun_label.backends.base import Backend, PushOptions
from brun_label.errors import InputError
from brun_label.exporters.pairs import Anchors, Gates, candidates_frame, select_pairs
from brun_label.project import Project
from brun_label.project_push import ProjectSamples
from brun_label.routing import RoutePlan, plan_routing, voters_per_item
from brun_label.rubric import Rubric

BackendFactory = Callable[[str, Any], Backend]
STATE_FILE = "routing.json"


@dataclass
class RoutingState:
    """What earlier ``route`` runs did (``round`` 1 is the initial push)."""

    round: int = 1
    targets: dict[str, int] = field(default_factory=dict)
    """Overlap target of every routed item (others keep the project's ``overlap``)."""
    argilla_rounds: list[str] = field(default_factory=list)
    """Round datasets created on Argilla, pulled with the project."""
    history: list[dict[str, Any]] = field(default_factory=list)


def state_path(project: Project) -> Path:
    """Where the routing state lives."""
    return Path(project.state_dir) / STATE_FILE


def load_state(project: Project) -> RoutingState:
    """Read the routing state (a fresh one when no route ran yet)."""
    path = state_path(project)
    if not path.exists():
        return RoutingState()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return RoutingState(round=int(raw["round"]), targets={str(k): int(v) for k, v in raw["targets"].items()},
                            argilla_rounds=[str(x) for x in raw.get("argilla_rounds", [])],
                            history=list(raw.get("history", [])))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"routing state is damaged ({exc.__class__.__name__}); remove it to start over",
                         path=str(path)) from None


def save_state(project: Project, state: RoutingState) -> None:
    """Write the routing state atomically."""
    atomic_write_text(state_path(project), json.dumps(state.__dict__, indent=1, sort_keys=True) + "\n")


def gates_of(project: Project) -> Gates:
    """The export's gates as the project sets them (:meth:`brun_label.project.Project.export_gates`)."""
    return Gates.from_settings(project.export_gates())


def excluded_people(table: pd.DataFrame, pushed: ProjectSamples, project: Project, rubric: Rubric) -> list[str]:
    """People left out by the project's gold gate (none without gold or without the gate)."""
    threshold = project.gates.get("min_gold_accuracy")
    if threshold is None or pushed.gold_answers is None or pushed.gold_answers.empty:
        return []
    return below_threshold(gold_scores(table, pushed.gold_answers, rubric), float(threshold))


def gold_anchors(table: pd.DataFrame, pushed: ProjectSamples, rubric: Rubric,
                 excluded: Collection[str] = ()) -> Anchors | None:
    """The project's gold items as anchors of the weighted consensus (None without gold).

    The gold items' rows of the people not ``excluded`` and the verdicts their gold answers settle
    (:func:`brun_label.agreement.gold.known_verdicts`); ``route``, ``status`` and ``export`` use the
    same, so they judge "clear" alike.
    """
    if not pushed.gold_ids or pushed.gold_answers is None or pushed.gold_answers.empty:
        return None
    rows = table[table["item_id"].isin(set(pushed.gold_ids)) & ~table["annotator"].isin(set(excluded))]
    return Anchors(rows=rows, known=known_verdicts(pushed.gold_answers, rubric))


def plan(project: Project, rubric: Rubric, table: pd.DataFrame, pushed: ProjectSamples,
         state: RoutingState) -> tuple[RoutePlan, list[str]]:
    """Decide the next round from the project table (pure apart from reading ``state``)."""
    if project.max_overlap is None:
        raise InputError("the project sets no max_overlap: adaptive overlap is off (brun-label init --max-overlap N)",
                         field="max_overlap")
    excluded = excluded_people(table, pushed, project, rubric)
    gold = set(pushed.gold_ids)
    kept = table[~table["annotator"].isin(set(excluded)) & ~table["item_id"].isin(gold)]
    originals = [s for s in pushed.originals if s.id not in gold]
    sel = select_pairs(kept, candidates_frame([(s.id, [c.id for c in s.candidates]) for s in originals]),
                       rubric, gates_of(project), anchors=gold_anchors(table, pushed, rubric, excluded))
    start = project.overlap or 1
    targets = {s.id: state.targets.get(s.id, start) for s in originals}
    return plan_routing(sel.items, voters_per_item(kept), targets, max_overlap=project.max_overlap,
                        gold_items=gold), excluded


def apply(project: Project, rubric: Rubric, route: RoutePlan, pushed: ProjectSamples, state: RoutingState,
          make_backend: BackendFactory, *, dry_run: bool = False) -> dict[str, Any]:
    """Apply a plan on every platform and record it; returns what changed per platform."""
    from brun_label.backends.label_studio import LabelStudioBackend
    from brun_label.backends.label_studio_routing import set_overlaps

    new_targets = {**state.targets, **route.targets}
    done: dict[str, Any] = {}
    next_round = state.round + 1
    by_id = {s.id: s for s in pushed.samples}
    to_key = {} if pushed.keys is None else {v: k for k, v in pushed.keys.items.items()}
    for platform, target in project.targets.items():
        backend = make_backend(platform, target)
        if platform == "label-studio":
            assert isinstance(backend, LabelStudioBackend)
            # every target re-applied: a project settings save in the UI resets task overlaps
            wanted = {to_key.get(i, i): t for i, t in new_targets.items()}
            done[platform] = {"tasks_changed": set_overlaps(backend, target.target, wanted, dry_run=dry_run)}
        elif platform == "argilla":
            if not route.extend:
                done[platform] = {"round_dataset": None, "records": 0}
                continue
            name = f"{target.target}-round-{next_round}"
            subset: Sequence[Any] = [by_id[to_key.get(i, i)] for i in route.extend]
            result = backend.push(list(subset), rubric, PushOptions(
                target=name, workspace=target.workspace, annotators_per_item=1, dry_run=dry_run))
            done[platform] = {"round_dataset": name, "records": result.n_added}
            if not dry_run and name not in state.argilla_rounds:
                state.argilla_rounds.append(name)
        else:  # pragma: no cover - the project file allows only the two
            raise InputError(f"routing is not supported on {platform}", field="platforms")
    if not dry_run and route.extend:
        state.round = next_round
        state.targets = new_targets
        state.history.append({"round": next_round, "at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "extended": list(route.extend), "counts": route.to_dict()["counts"]})
        save_state(project, state)
    return done


def ensure_state_dir(project: Project) -> None:
    """Create the project's state folder (0700: it holds who answered what)."""
    os.makedirs(project.state_dir, mode=0o700, exist_ok=True)
