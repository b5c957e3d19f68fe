"""A simulated annotation project with known truth, to measure the quality loop (never for real data).

Pure core (NumPy/pandas). A *world* is a set of items whose candidates have a true tone-zone value
and true liability flags; *workers* answer them like people would (careful ones slip one step now
and then, a careless one answers at random half the time, a biased one calls soft or firm replies
"in zone" and misses flags). The strategies under test see only the annotation table the workers
produce, exactly what a real pull gives; the truth is used only afterwards, to score the exported
pairs (:func:`pair_precision`).

Strategies (:func:`run_strategy`):

``fixed``
    every item gets ``overlap`` distinct workers; the export's gates with ``min_annotators`` =
    ``overlap`` (the defaults: 3 voters, 80%).
``adaptive``
    every item starts with ``start`` workers; after each round :func:`brun_label.routing.plan_routing`
    adds one worker to the items without a clear decision under the export's gates (``min_annotators``
    = ``start``), up to ``max_overlap``.

Either runs with the export's ``share`` consensus (votes counted) or its ``dawid-skene`` one (votes
weighed by the reliability each worker shows in the table, :mod:`brun_label.agreement.verdicts`).
``gold``
    (with either) every worker first answers ``n_gold`` gold items; workers whose exact gold accuracy
    is below ``min_gold_accuracy`` are left out of routing and export, as
    ``--min-gold-accuracy`` does. Gold answers cost judgments too and are counted. With the
    ``dawid-skene`` consensus the gold items are also its anchors (:class:`brun_label.exporters.pairs.Anchors`),
    as ``route`` and ``export`` use a project's gold items.

A *judgment* is one worker answering one item (all its questions). The figure of merit is
judgments per exported pair and the pairs' precision against the truth.

Examples
--------
>>> world = make_world(60, seed=1)
>>> res = run_strategy(world, default_pool(), "fixed", seed=2)
>>> res.judgments == 3 * 60, 0 < res.pairs <= 60 * 2
(True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.gold import below_threshold, gold_scores, known_verdicts
from brun_label.exporters.pairs import Anchors, Gates, candidates_frame, select_pairs
from brun_label.routing import plan_routing, voters_per_item
from brun_label.rubric import BOTH_BAD, TIE, Rubric
from brun_label.rubrics import load_rubric
from brun_label.table import make_table

FLAGS = ("admits_fault", "promises_compensation", "speculates_cause", "blames_customer")


@dataclass(frozen=True)
class Worker:
    """A simulated worker: ``careful`` (slips with ``slip``), ``careless`` or ``biased``."""

    name: str
    kind: str = "careful"
    slip: float = 0.08


@dataclass(frozen=True)
class TrueCandidate:
    """A candidate's true answers."""

    id: str
    zone: int
    flags: tuple[str, ...]

    @property
    def good(self) -> bool:
        """In the zone and unflagged: what an exported chosen reply must be."""
        return self.zone == 0 and not self.flags


@dataclass(frozen=True)
class TrueItem:
    """An item with its true candidates."""

    id: str
    candidates: tuple[TrueCandidate, ...]


@dataclass
class StrategyResult:
    """What a strategy spent and exported."""

    strategy: str
    judgments: int
    pairs: int
    correct_pairs: int
    excluded: list[str] = field(default_factory=list)
    rounds: int = 1

    @property
    def precision(self) -> float:
        """Share of exported pairs whose chosen reply is truly good and rejected truly bad."""
        return self.correct_pairs / self.pairs if self.pairs else float("nan")

    @property
    def judgments_per_pair(self) -> float:
        """Human judgments spent per exported pair (gold included)."""
        return self.judgments / self.pairs if self.pairs else float("inf")


def default_pool() -> list[Worker]:
    """Five careful workers, one careless, one biased (the benchmark's pool)."""
    return [*(Worker(f"sim-careful-{i}", "careful", 0.06 + 0.02 * i) for i in range(5)),
            Worker("sim-careless", "careless", 0.1), Worker("sim-biased", "biased", 0.08)]


def make_world(n_items: int, *, seed: int = 0, prefix: str = "s") -> list[TrueItem]:
    """Items with 2-3 candidates: usually one good reply against soft, harsh or flagged ones."""
    rng = np.random.default_rng(seed)
    items = []
    for i in range(n_items):
        n = int(rng.choice([2, 2, 3]))
        cands = []
        for k in range(n):
            flags: tuple[str, ...]
            if k == 0 and rng.random() < 0.85:
                zone, flags = 0, ()
            else:
                kind = rng.random()
                if kind < 0.35:
                    zone, flags = int(rng.choice([-1, 1])), ()
                elif kind < 0.65:
                    zone, flags = int(rng.choice([-2, 2])), (str(rng.choice(FLAGS)),)
                elif kind < 0.85:
                    zone, flags = 0, (str(rng.choice(FLAGS)),)
                else:
                    zone, flags = 0, ()
            cands.append(TrueCandidate(f"{prefix}{i}-c{k}", zone, tuple(sorted(flags))))
        items.append(TrueItem(f"{prefix}{i}", tuple(cands)))
    return items


def _zone_answer(worker: Worker, truth: int, rng: np.random.Generator) -> int:
    if worker.kind == "careless" and rng.random() < 0.5:
        return int(rng.integers(-2, 3))
    if worker.kind == "biased" and truth in (-1, 1) and rng.random() < 0.7:
        return 0
    if rng.random() < worker.slip:
        return int(np.clip(truth + rng.choice([-1, 1]), -2, 2))
    return truth


def _flags_answer(worker: Worker, truth: tuple[str, ...], rng: np.random.Generator) -> list[str]:
    if worker.kind == "careless" and rng.random() < 0.5:
        return sorted({str(f) for f in rng.choice(FLAGS, size=int(rng.integers(0, 2)), replace=False)})
    miss = 0.5 if worker.kind == "biased" else worker.slip / 2
    out = {f for f in truth if rng.random() >= miss}
    if rng.random() < worker.slip / 4:
        out.add(str(rng.choice(FLAGS)))
    return sorted(out)


def answer_rows(worker: Worker, item: TrueItem, rng: np.random.Generator) -> list[dict[str, Any]]:
    """One worker's answers to one item, as annotation-table rows (the only thing strategies see)."""
    rows: list[dict[str, Any]] = []
    good: list[str] = []
    for cand in item.candidates:
        zone = _zone_answer(worker, cand.zone, rng)
        flags = _flags_answer(worker, cand.flags, rng)
        rows.append({"item_id": item.id, "candidate_id": cand.id, "question": "tone_zone",
                     "annotator": worker.name, "value": zone})
        rows.append({"item_id": item.id, "candidate_id": cand.id, "question": "liability_flags",
                     "annotator": worker.name, "value": flags})
        if zone == 0 and not flags:
            good.append(cand.id)
    if worker.kind == "careless" and rng.random() < 0.5:
        pref = str(rng.choice([*(c.id for c in item.candidates), TIE, BOTH_BAD]))
    else:
        pref = good[0] if len(good) == 1 else (TIE if good else BOTH_BAD)
    rows.append({"item_id": item.id, "candidate_id": "", "question": "preference",
                 "annotator": worker.name, "value": pref})
    return rows


def pair_precision(pairs: pd.DataFrame, world: Sequence[TrueItem]) -> int:
    """Count exported pairs that are right by the truth (chosen good, rejected not good)."""
    truth = {c.id: c.good for item in world for c in item.candidates}
    return int(sum(truth.get(c, False) and not truth.get(r, True)
                   for c, r in zip(pairs["chosen_id"], pairs["rejected_id"], strict=True)))


def _gold_filter(pool: Sequence[Worker], n_gold: int, min_accuracy: float, rubric: Rubric,
                 rng: np.random.Generator) -> tuple[set[str], int, Anchors]:
    gold_world = make_world(n_gold, seed=int(rng.integers(1 << 30)), prefix="g")
    answers = make_table([row for w in pool for item in gold_world for row in answer_rows(w, item, rng)])
    known = pd.DataFrame([
        {"item_id": item.id, "candidate_id": c.id, "question": q, "value": v}
        for item in gold_world for c in item.candidates
        for q, v in (("tone_zone", c.zone), ("liability_flags", list(c.flags)))])
    scores = gold_scores(answers, known, rubric)
    excluded = set(below_threshold(scores, min_accuracy, min_items=min(5, n_gold)))
    # the gold answers are known by design (what a gold file holds), never the world's truth
    anchors = Anchors(rows=answers[~answers["annotator"].isin(excluded)], known=known_verdicts(known, rubric))
    return excluded, len(pool) * n_gold, anchors


def run_strategy(world: Sequence[TrueItem], pool: Sequence[Worker], strategy: str, *, seed: int = 0,
                 overlap: int = 3, start: int = 2, max_overlap: int = 5, n_gold: int = 0,
                 min_gold_accuracy: float = 0.8, consensus: str = "share",
                 min_posterior: float = 0.99) -> StrategyResult:
    """Run ``fixed`` or ``adaptive`` on ``world`` with ``pool`` (``n_gold`` > 0 adds the gold filter).

    ``consensus`` is the export's (:class:`brun_label.exporters.pairs.Gates`): ``share`` counts
    votes, ``dawid-skene`` weighs them by the reliability each worker shows in the table.
    """
    rubric = load_rubric("de-escalation")
    rng = np.random.default_rng(seed)
    excluded: set[str] = set()
    judgments = 0
    anchors: Anchors | None = None
    if n_gold:
        excluded, judgments, anchors = _gold_filter(pool, n_gold, min_gold_accuracy, rubric, rng)
    frame = candidates_frame([(it.id, [c.id for c in it.candidates]) for it in world])
    by_id = {it.id: it for it in world}
    assigned: dict[str, list[Worker]] = {}
    rows: list[dict[str, Any]] = []

    def add_worker(item_id: str) -> bool:
        have = {w.name for w in assigned.setdefault(item_id, [])}
        free = [w for w in pool if w.name not in have]
        if not free:
            return False
        w = free[int(rng.integers(len(free)))]
        assigned[item_id].append(w)
        rows.extend(answer_rows(w, by_id[item_id], rng))
        return True

    first = overlap if strategy == "fixed" else start
    for it in world:
        for _ in range(first):
            add_worker(it.id)
    judgments += sum(len(v) for v in assigned.values())
    gates = Gates(min_annotators=overlap if strategy == "fixed" else start, consensus=consensus,
                  min_posterior=min_posterior)
    rounds = 1
    if strategy == "adaptive":
        targets = {it.id: start for it in world}
        while True:
            table = make_table(rows)
            kept = table[~table["annotator"].isin(excluded)]
            sel = select_pairs(kept, frame, rubric, gates, anchors=anchors)
            plan = plan_routing(sel.items, voters_per_item(kept), targets, max_overlap=max_overlap)
            # an excluded worker's answers do not count: their items wait for a replacement
            added = 0
            for item_id in plan.waiting:
                added += add_worker(item_id)
            for item_id in plan.extend:
                targets[item_id] = plan.targets[item_id]
                added += add_worker(item_id)
            judgments += added
            if not added:
                break
            rounds += 1
    elif strategy != "fixed":
        raise ValueError(f"unknown strategy {strategy!r} (use fixed or adaptive)")
    table = make_table(rows)
    kept = table[~table["annotator"].isin(excluded)]
    sel = select_pairs(kept, frame, rubric, gates, anchors=anchors)
    name = strategy + (" + gold" if n_gold else "") + ("" if consensus == "share" else f" ({consensus})")
    return StrategyResult(name, judgments, len(sel.pairs), pair_precision(sel.pairs, world), sorted(excluded), rounds)
