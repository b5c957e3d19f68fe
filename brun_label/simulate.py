"""Simulated annotators, for the demo and the end-to-end test (never for real data).

Pure core. Each simulated annotator answers every rubric question about every candidate from an
expected answer (the persona the candidate was drafted under says where its tone should sit and
which flags it trips), with a seeded amount of noise; a *careless* one answers at random half the
time. Their names start with ``sim-`` (:data:`SIMULATED_PATTERN`) so they are never mistaken for
people: the demo passes that pattern to the export (``--simulated-annotators 'sim-*'``), whose
dataset card then says the data comes from simulated annotators, not people.

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> from brun_label.rubrics import load_rubric
>>> s = sample_from_dict({"id": "s1", "prompt": "You lost my parcel!", "candidates": [
...     {"id": "a", "text": "I hear you; here is the tracking escalation.", "persona": "Diplomatic_Firmness"},
...     {"id": "b", "text": "So sorry, our fault, full refund!", "persona": "Over_Apologetic_Doormat"}]})
>>> expect = {"Diplomatic_Firmness": (0, ()),
...           "Over_Apologetic_Doormat": (-2, ("admits_fault", "promises_compensation"))}
>>> rows = simulate_answers([s], load_rubric("de-escalation"), [SimulatedAnnotator("sim-exact", noise=0.0)],
...                         expectations=expect)
>>> [(r["candidate_id"], r["question"], r["value"]) for r in rows]
[('a', 'tone_zone', 0), ('a', 'liability_flags', []), ('b', 'tone_zone', -2), ('b', 'liability_flags', ['admits_fault', 'promises_compensation']), ('', 'preference', 'a')]
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from brun_label.model import Candidate, Sample
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric

#: What a persona's replies are expected to get: the zone value and the flags they trip.
Expectation = tuple[int | None, tuple[str, ...]]


@dataclass(frozen=True)
class SimulatedAnnotator:
    """A simulated annotator.

    ``noise`` is the chance of a one-step slip per answer; for a ``careless`` annotator it is the
    chance of answering at random instead.
    """

    name: str
    noise: float = 0.1
    careless: bool = False
    seed: int = 0


#: The demo's three annotators: two careful ones who mostly agree, and one careless one.
#: The names of simulated annotators match this glob (tell the export: ``--simulated-annotators``).
SIMULATED_PATTERN = "sim-*"

DEMO_ANNOTATORS = (
    SimulatedAnnotator("sim-careful-ana", noise=0.05, seed=1),
    SimulatedAnnotator("sim-careful-ben", noise=0.12, seed=2),
    SimulatedAnnotator("sim-careless-cy", noise=0.2, careless=True, seed=3),
)


def _expected(
    candidate: Candidate, zone: Question | None, flag_qs: Sequence[Question],
    expectations: Mapping[str, Expectation],
) -> tuple[int | None, dict[str, list[str]]]:
    known = candidate.persona in expectations
    persona_zone, flags = expectations.get(candidate.persona or "", (None, ()))
    judge = candidate.judge or {}
    zone_value: int | None = None
    if zone is not None:
        target = int(zone.target) if zone.target is not None else 0
        if known and persona_zone is not None:
            zone_value = persona_zone
        elif isinstance(judge.get(zone.name), int):
            zone_value = int(judge[zone.name])
        else:
            zone_value = target
        values = [int(v) for v in zone.values()]
        zone_value = min(max(zone_value, min(values)), max(values))
    out_flags: dict[str, list[str]] = {}
    for q in flag_qs:
        allowed = {str(v) for v in q.values()}
        if known:
            out_flags[q.name] = sorted(f for f in flags if f in allowed)
        else:
            judged = judge.get(q.name)
            judged_flags: list[Any] = judged if isinstance(judged, list) else []
            out_flags[q.name] = sorted(str(f) for f in judged_flags if str(f) in allowed)
    return zone_value, out_flags


def _rng(annotator: SimulatedAnnotator, *parts: str) -> random.Random:
    digest = hashlib.sha256("|".join((annotator.name, str(annotator.seed), *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _answer(q: Question, expected: Any, annotator: SimulatedAnnotator, rng: random.Random) -> Any:
    random_answer = annotator.careless and rng.random() < annotator.noise
    slip = not annotator.careless and rng.random() < annotator.noise
    if q.type in ("scale", "rating"):
        values = [int(v) for v in q.values()]
        if random_answer:
            return rng.choice(values)
        value = int(expected) if expected is not None else values[len(values) // 2]
        if slip:
            value += rng.choice((-1, 1))
        return min(max(value, min(values)), max(values))
    if q.type == "flags":
        options = [str(v) for v in q.values()]
        if random_answer:
            return sorted(rng.sample(options, rng.randint(0, 2)))
        chosen = set(expected or [])
        if slip:
            chosen ^= {rng.choice(options)}
        return sorted(chosen)
    if q.type == "choice":
        options = [str(v) for v in q.values()]
        if random_answer or expected is None:
            return rng.choice(options)
        return rng.choice(options) if slip else expected
    raise ValueError(f"cannot simulate question type {q.type}")


def simulate_answers(
    samples: Sequence[Sample], rubric: Rubric, annotators: Sequence[SimulatedAnnotator],
    *, expectations: Mapping[str, Expectation] | None = None,
) -> list[dict[str, Any]]:
    """Return annotation-table rows (``item_id``, ``candidate_id``, ``question``, ``annotator``, ``value``).

    ``expectations`` maps persona names to what their replies should get (from the rubric's
    persona pack); a candidate whose persona is unknown is expected to get the judge's answers
    when there are any, else the in-zone value and no flags. Free-text questions are left
    unanswered; the preference is the candidate closest to the zone with the fewest expected flags
    (the first of equals; a careful annotator slips to the runner-up with probability ``noise``),
    ``both_bad`` when even the best is more than one step away.
    """
    expectations = expectations or {}
    zone = rubric.zone_question()
    flag_qs = rubric.flag_questions()
    rows: list[dict[str, Any]] = []
    for annotator in annotators:
        for sample in samples:
            scores: list[tuple[float, str]] = []
            for cand in sample.candidates:
                zone_value, flags = _expected(cand, zone, flag_qs, expectations)
                answers: dict[str, Any] = {}
                for q in rubric.questions:
                    if q.scope != "candidate" or q.type == "text":
                        continue
                    rng = _rng(annotator, sample.id, cand.id, q.name)
                    expected: Any = zone_value if q is zone else flags.get(q.name)
                    if q.type == "rating" and expected is None:
                        expected = q.max if zone_value == (zone.target if zone else None) else q.min
                    answers[q.name] = _answer(q, expected, annotator, rng)
                    rows.append({"item_id": sample.id, "candidate_id": cand.id, "question": q.name,
                                 "annotator": annotator.name, "value": answers[q.name]})
                # The preference is a holistic judgement: it follows what the reply deserves
                # (its expected zone and flags), not this annotator's slips on the scales.
                off = 0.0
                if zone is not None and zone.target is not None and zone_value is not None:
                    off = abs(zone_value - int(zone.target))
                scores.append((off + sum(len(f) for f in flags.values()), cand.id))
            for q in rubric.questions:
                if q.scope != "item" or q.type == "text":
                    continue
                rng = _rng(annotator, sample.id, q.name)
                if q.type == "preference":
                    ranked = sorted(scores)
                    slip = not annotator.careless and rng.random() < annotator.noise / 3
                    pick = ranked[1] if len(ranked) > 1 and slip else ranked[0]
                    value: Any = BOTH_BAD if pick[0] > 1 else pick[1]
                    if annotator.careless and rng.random() < annotator.noise:
                        value = rng.choice([c.id for c in sample.candidates] + [TIE, BOTH_BAD])
                else:
                    value = _answer(q, None, annotator, rng)
                rows.append({"item_id": sample.id, "candidate_id": "", "question": q.name,
                             "annotator": annotator.name, "value": value})
    return rows
