"""Draft contrasting candidate replies for scenarios with an LLM (``brun-label draft``).

A *scenario* is a sample without candidates (``id``, ``category``, ``prompt``, ``metadata``):
the same file formats and checks as samples, with errors naming file, line and field. For each
scenario, :func:`plan_drafts` picks ``n`` personas from the rubric's persona pack (see
:mod:`brun_label.importers.personas`) and builds one chat request per candidate: the persona's
system prompt (persona + emotional arc), then the scenario's own messages. The requests go
through :mod:`brun_label.importers.request_runner` (bounded concurrency or the Batch API, retries,
the request cache, the atomic output), and :func:`assemble` turns the answers into samples in the foundation's
sample format, with ``source: model``, ``model``, ``persona``, ``arc`` and ``params`` recorded per
candidate.

Ids are stable: the sample keeps the scenario id (derived from category and prompt when the
scenario has none) and a candidate id is derived from the scenario id, the persona and the
candidate's position, so a re-run produces the same ids.

Examples
--------
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.importers.personas import load_personas
>>> sc = scenario_from_dict({"id": "s1", "category": "refund", "prompt": "Where is my refund?!"})
>>> pack = load_personas("de-escalation", load_rubric("de-escalation"))
>>> slots, plan = plan_drafts([sc], pack, DraftOptions(candidates=2, seed=7))
>>> [(plan[s.id].persona, plan[s.id].params) for s in slots]
[('Diplomatic_Firmness', {'temperature': 0.9, 'seed': 7}), ('Over_Apologetic_Doormat', {'temperature': 0.9, 'seed': 7})]
>>> [m["role"] for m in slots[0].body["messages"]]
['system', 'user']
>>> candidate_id("s1", "Diplomatic_Firmness", 0)
'c-f26632dd12'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Unpack

from brun_label.errors import InputError, ValidationFailed
from brun_label.importers.openai_client import Answer, ApiConfig, Slot
from brun_label.importers.personas import Persona, PersonaPack, load_personas
from brun_label.importers.request_cache import RequestCache
from brun_label.importers.request_runner import (
    JobResult,
    JobSettings,
    RunSettings,
    answer_slots,
    check_output_path,
    run_job,
)
from brun_label.importers.samples import iter_records
from brun_label.model import Candidate, Sample, SampleError, content_hash, sample_from_dict
from brun_label.rubrics import load_rubric

DEFAULT_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class DraftOptions:
    """What to ask for: model, number of candidates, sampling parameters, optional personas."""

    model: str = DEFAULT_MODEL
    candidates: int = 4
    temperature: float = 0.9
    seed: int | None = None
    max_tokens: int | None = None
    personas: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedCandidate:
    """Where one requested candidate goes: its scenario, position, persona, arc and parameters."""

    scenario: int
    position: int
    persona: str
    arc: str
    params: Mapping[str, Any]


@dataclass
class DraftResult(JobResult):
    """The drafted samples and what the run cost."""

    dropped: list[str] = field(default_factory=list)


# -- scenarios ---------------------------------------------------------------------------------
def scenario_from_dict(obj: Any) -> Sample:
    """Parse a scenario (a sample without candidates) with the sample parser's checks.

    >>> scenario_from_dict({"prompt": "hi", "candidates": [{"text": "a"}, {"text": "b"}]})
    Traceback (most recent call last):
    ...
    brun_label.model.SampleError: candidates: a scenario has no candidates (drafting adds them)
    """
    if isinstance(obj, Mapping) and obj.get("candidates") not in (None, [], ""):
        raise SampleError("candidates", "a scenario has no candidates (drafting adds them)")
    stub = [{"id": "_a", "text": "_"}, {"id": "_b", "text": "_"}]
    body = {**obj, "candidates": stub} if isinstance(obj, Mapping) else obj
    return replace(sample_from_dict(body), candidates=())


def read_scenarios(path: str | Path, fmt: str | None = None) -> list[Sample]:
    """Read every scenario; raise :class:`ValidationFailed` listing all problems if any."""
    scenarios: list[Sample] = []
    problems: list[InputError] = []
    seen: dict[str, int] = {}
    for line, rec in iter_records(path, fmt):
        if isinstance(rec, InputError):
            problems.append(rec)
            continue
        try:
            sc = scenario_from_dict(rec)
        except SampleError as exc:
            problems.append(InputError(exc.message, path=str(path), line=line, field=exc.field))
            continue
        if sc.id in seen:
            problems.append(InputError(f"duplicate scenario id {sc.id!r} (first on line {seen[sc.id]})",
                                       path=str(path), line=line, field="id"))
            continue
        seen[sc.id] = line
        scenarios.append(sc)
    if problems:
        raise ValidationFailed(problems)
    if not scenarios:
        raise InputError("file has no scenarios", path=str(path))
    return scenarios


# -- planning ----------------------------------------------------------------------------------
def candidate_id(sample_id: str, persona: str, position: int) -> str:
    """Return the stable id of the candidate drafted by ``persona`` in ``position``."""
    return "c-" + content_hash({"sample": sample_id, "persona": persona, "index": position}, 10)


def draft_messages(pack: PersonaPack, persona: Persona, scenario: Sample) -> list[dict[str, str]]:
    """Return the chat messages that draft one candidate: persona system prompt, then the scenario."""
    system = {"role": "system", "content": pack.system_prompt(persona, scenario.category)}
    return [system, *scenario.messages()]


def plan_drafts(scenarios: Sequence[Sample], pack: PersonaPack,
                options: DraftOptions) -> tuple[list[Slot], dict[Any, PlannedCandidate]]:
    """Return one request :class:`Slot` per wanted candidate, and where each answer goes."""
    if options.candidates < 2:
        raise InputError("must be at least 2 (annotators compare candidates)", field="--candidates")
    slots: list[Slot] = []
    plan: dict[Any, PlannedCandidate] = {}
    for si, sc in enumerate(scenarios):
        if options.personas:
            try:
                personas = pack.select(options.personas, options.candidates)
            except KeyError as exc:
                names = ", ".join(p.name for p in pack.personas)
                raise InputError(f"unknown persona {exc.args[0]!r} (known: {names})", field="--personas") from None
        else:
            personas = pack.choose(options.candidates, sc.id)
        repeats: Counter[str] = Counter()
        for pos, persona in enumerate(personas):
            variant = repeats[persona.name]
            repeats[persona.name] += 1
            body: dict[str, Any] = {"model": options.model, "messages": draft_messages(pack, persona, sc),
                                    "temperature": options.temperature}
            params: dict[str, Any] = {"temperature": options.temperature}
            if options.seed is not None:
                body["seed"] = params["seed"] = options.seed + variant
            if options.max_tokens is not None:
                body["max_tokens"] = params["max_tokens"] = options.max_tokens
            slot = Slot(id=(si, pos), body=body, variant=variant)
            slots.append(slot)
            plan[slot.id] = PlannedCandidate(scenario=si, position=pos, persona=persona.name,
                                             arc=persona.arc, params=params)
    return slots, plan


def valid_draft(_slot_id: Any, answer: Answer) -> str | None:
    """Return why a drafted reply is unusable (refused or empty), or None."""
    if answer.finish_reason == "refusal":
        return "the model refused to draft this reply"
    if not answer.content.strip():
        return "the model returned an empty reply"
    return None


def assemble(scenarios: Sequence[Sample], plan: Mapping[Any, PlannedCandidate],
             answers: Mapping[Any, Answer | None], model: str) -> tuple[list[Sample], list[str]]:
    """Build the samples; return them and a note per candidate or scenario left out."""
    per_scenario: dict[int, list[Candidate]] = {i: [] for i in range(len(scenarios))}
    dropped: list[str] = []
    for slot_id, planned in sorted(plan.items(), key=lambda kv: (kv[1].scenario, kv[1].position)):
        sc = scenarios[planned.scenario]
        answer = answers.get(slot_id)
        if answer is None:
            dropped.append(f"{sc.id}: candidate {planned.position + 1} ({planned.persona}) has no usable reply")
            continue
        params = dict(planned.params)
        if answer.draw:
            params["draw"] = answer.draw
            if "seed" in params:
                params["seed"] = params["seed"] + 1000 * answer.draw
        per_scenario[planned.scenario].append(Candidate(
            id=candidate_id(sc.id, planned.persona, planned.position),
            text=answer.content.strip(), source="model", model=answer.model or model,
            persona=planned.persona, arc=planned.arc, params=params,
        ))
    samples = []
    for i, sc in enumerate(scenarios):
        cands = per_scenario[i]
        if len(cands) < 2:
            dropped.append(f"{sc.id}: left out, fewer than 2 usable candidates")
            continue
        samples.append(replace(sc, candidates=tuple(cands)))
    return samples, dropped


# -- running -----------------------------------------------------------------------------------
async def draft_async(
    scenarios: Sequence[Sample],
    pack: PersonaPack,
    options: DraftOptions,
    api_config: ApiConfig,
    cache: RequestCache,
    **run: Unpack[RunSettings],  # type: ignore[misc]  # Any to mypy (package-dir)
) -> DraftResult:
    """Draft every candidate of every scenario (answers from the cache when it has them).

    ``run`` says how the requests are sent (concurrency or the Batch API, redraws, progress):
    see :func:`brun_label.importers.request_runner.answer_slots`.
    """
    slots, plan = plan_drafts(scenarios, pack, options)
    answers, stats = await answer_slots(slots, options.model, api_config, cache, valid_draft, **run)
    samples, dropped = assemble(scenarios, plan, answers, options.model)
    return DraftResult(samples=samples, stats=stats, dropped=dropped)


def draft_file(
    scenarios_path: str | Path,
    output: str | Path,
    *,
    rubric: str,
    options: DraftOptions,
    api_config: ApiConfig,
    fmt: str | None = None,
    personas_file: str | None = None,
    **settings: Unpack[JobSettings],  # type: ignore[misc]  # Any to mypy (package-dir)
) -> dict[str, Any]:
    """Read scenarios, draft candidates, write the samples atomically; return the run summary.

    ``settings`` are the cache, request and price options of
    :func:`brun_label.importers.request_runner.run_job`.
    """
    check_output_path(output)
    rub = load_rubric(rubric)
    pack = load_personas(rubric, rub, personas_file)
    scenarios = read_scenarios(scenarios_path, fmt)

    async def job(cache: RequestCache, run: RunSettings) -> DraftResult:
        return await draft_async(scenarios, pack, options, api_config, cache, **run)

    def details(result: DraftResult) -> dict[str, Any]:
        return {"command": "draft", "output": str(output), "rubric": rub.name,
                "scenarios": len(scenarios), "samples": len(result.samples),
                "candidates": sum(len(s.candidates) for s in result.samples),
                "dropped": result.dropped}

    return run_job(output, options.model, job, details, **settings)
