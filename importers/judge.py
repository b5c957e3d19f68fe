"""An LLM judge that answers the rubric's questions per candidate (``brun-label judge``).

For each sample the judge gets the rubric (guidelines, questions, options with their hints), the
scenario and the candidates labelled A, B… (in a shuffled order, stable per sample, to limit
position bias), and must answer with structured output: a JSON schema built from the rubric
(:func:`judge_schema`): per candidate, the scale value, the flags (an enum array), the rating;
per item, the choice questions and the preference among the letters, ``tie`` and ``both_bad``.
Free-text questions are not asked. Every answer is checked against the rubric
(:func:`parse_judgement`) and redrawn when it does not fit; the scores are stored in
``candidate.judge`` / ``sample.judge`` with ``judge_model``, where the backends push them as
predictions/suggestions and the agreement engine compares them with humans (as annotator
``judge:<model>``).

Examples
--------
>>> from brun_label.rubrics import load_rubric
>>> r = load_rubric("de-escalation")
>>> schema = judge_schema(r, 2)
>>> sorted(schema["properties"]), schema["properties"]["preference"]["enum"]
(['candidates', 'preference'], ['a', 'b', 'tie', 'both_bad'])
>>> schema["properties"]["candidates"]["properties"]["A"]["properties"]["tone_zone"]["enum"]
[-2, -1, 0, 1, 2]
>>> order = ["c2", "c1"]           # the judge saw c2 as A and c1 as B
>>> j = parse_judgement(r, '{"candidates": {"A": {"tone_zone": 0, "liability_flags": []}, '
...     '"B": {"tone_zone": -2, "liability_flags": ["admits_fault"]}}, "preference": "a"}', order)
>>> j.candidates["c1"], j.item
({'tone_zone': -2, 'liability_flags': ['admits_fault']}, {'preference': 'c2'})
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Unpack

from brun_label.errors import InputError
from brun_label.importers.openai_client import Answer, ApiConfig, Slot
from brun_label.importers.request_cache import RequestCache
from brun_label.importers.request_runner import (
    JobResult,
    JobSettings,
    RunSettings,
    answer_slots,
    check_output_path,
    run_job,
)
from brun_label.importers.samples import read_samples
from brun_label.layout import candidate_order, prompt_display
from brun_label.model import Sample, candidate_label
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric
from brun_label.rubrics import load_rubric

DEFAULT_JUDGE_MODEL = "gpt-4o-mini"
#: Seed of the order the judge sees the candidates in (annotators' order uses seed 0).
JUDGE_ORDER_SEED = 1


class JudgeAnswerError(ValueError):
    """A judge answer does not fit the rubric."""


@dataclass(frozen=True)
class JudgeOptions:
    """Model and sampling parameters of the judge."""

    model: str = DEFAULT_JUDGE_MODEL
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class Judgement:
    """Checked judge scores: ``candidates[cid][question]`` and ``item[question]``."""

    candidates: dict[str, dict[str, Any]]
    item: dict[str, Any]


@dataclass
class JudgeResult(JobResult):
    """The judged samples and what the run cost."""

    unjudged: list[str] = field(default_factory=list)


def judged_questions(rubric: Rubric) -> list[Question]:
    """Return the questions the judge answers (every one but free text)."""
    return [q for q in rubric.questions if q.type != "text"]


def _value_schema(q: Question, n: int) -> dict[str, Any]:
    desc = q.title
    if q.type in ("scale", "choice", "flags"):
        labels = "; ".join(f"{o.value} = {o.label}" for o in q.options)
        desc += f" ({labels})"
    if q.type in ("scale", "rating"):
        return {"type": "integer", "enum": list(q.values()), "description": desc}
    if q.type == "choice":
        return {"type": "string", "enum": [str(v) for v in q.values()], "description": desc}
    if q.type == "flags":
        return {"type": "array", "items": {"type": "string", "enum": [str(v) for v in q.values()]},
                "description": desc + ". Empty when none applies."}
    letters = [candidate_label(i).lower() for i in range(n)]
    return {"type": "string", "enum": [*letters, TIE, BOTH_BAD], "description": desc}


def judge_schema(rubric: Rubric, n_candidates: int) -> dict[str, Any]:
    """Return the JSON schema of a judge answer for a sample with ``n_candidates`` (strict-mode ready)."""
    per_cand = [q for q in judged_questions(rubric) if q.scope == "candidate"]
    per_item = [q for q in judged_questions(rubric) if q.scope == "item"]
    cand_schema = {"type": "object", "properties": {q.name: _value_schema(q, n_candidates) for q in per_cand},
                   "required": [q.name for q in per_cand], "additionalProperties": False}
    letters = [candidate_label(i) for i in range(n_candidates)]
    props: dict[str, Any] = {}
    if per_cand:
        props["candidates"] = {"type": "object", "properties": dict.fromkeys(letters, cand_schema),
                               "required": letters, "additionalProperties": False}
    for q in per_item:
        props[q.name] = _value_schema(q, n_candidates)
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _question_guide(q: Question, n: int) -> str:
    line = f"- {q.name}: {q.title}."
    if q.description:
        line += f" {q.description.strip()}"
    if q.type in ("scale", "choice", "flags"):
        opts = "; ".join(f"{o.value} = {o.label}" + (f" ({o.hint})" if o.hint else "") for o in q.options)
        kind = "Any of (a list, empty when none applies)" if q.type == "flags" else "One of"
        line += f" {kind}: {opts}."
    elif q.type == "rating":
        line += f" An integer from {q.min} to {q.max}."
    elif q.type == "preference":
        letters = ", ".join(candidate_label(i).lower() for i in range(n))
        line += f" The letter of the best reply ({letters}), or {TIE} or {BOTH_BAD}."
    return line


def judge_messages(rubric: Rubric, sample: Sample, order: Sequence[str]) -> list[dict[str, str]]:
    """Return the chat messages asking the judge about ``sample`` (candidates in ``order``)."""
    n = len(order)
    per_cand = [q for q in judged_questions(rubric) if q.scope == "candidate"]
    per_item = [q for q in judged_questions(rubric) if q.scope == "item"]
    parts = [f"You are an expert annotator applying the rubric \"{rubric.title}\". "
             f"{rubric.description.strip()}".strip()]
    if rubric.guidelines.strip():
        parts.append("Guidelines:\n" + rubric.guidelines.strip())
    if per_cand:
        parts.append("Answer for each reply, judging it on its own:\n"
                     + "\n".join(_question_guide(q, n) for q in per_cand))
    if per_item:
        parts.append("Then answer once for the whole set of replies:\n"
                     + "\n".join(_question_guide(q, n) for q in per_item))
    parts.append("Answer with JSON only, following the given schema.")
    user = [f"{rubric.prompt_title}:\n{prompt_display(sample)}"]
    for i, cid in enumerate(order):
        user.append(f"Reply {candidate_label(i)}:\n{sample.candidate(cid).text}")
    return [{"role": "system", "content": "\n\n".join(parts)},
            {"role": "user", "content": "\n\n".join(user)}]


def judge_body(rubric: Rubric, sample: Sample, options: JudgeOptions) -> tuple[dict[str, Any], list[str]]:
    """Return the chat request body for one sample and the candidate order it shows."""
    order = candidate_order(sample, seed=JUDGE_ORDER_SEED)
    name = re.sub(r"[^A-Za-z0-9_-]", "_", f"{rubric.name}_judgement")[:64]
    body: dict[str, Any] = {
        "model": options.model,
        "messages": judge_messages(rubric, sample, order),
        "temperature": options.temperature,
        "response_format": {"type": "json_schema", "json_schema": {
            "name": name, "strict": True, "schema": judge_schema(rubric, len(order))}},
    }
    if options.seed is not None:
        body["seed"] = options.seed
    if options.max_tokens is not None:
        body["max_tokens"] = options.max_tokens
    return body, order


def _json_object(content: str) -> dict[str, Any]:
    text = content.strip()
    fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
    if fenced:  # servers without structured output sometimes fence the JSON
        text = fenced.group(1)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JudgeAnswerError(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise JudgeAnswerError("not a JSON object")
    return obj


def _check_value(q: Question, raw: Any, order: Sequence[str], where: str) -> Any:
    if q.type in ("scale", "rating"):
        value = raw
        is_int_text = isinstance(raw, str) and re.fullmatch(r"[+-]?\d+", raw.strip()) is not None
        if is_int_text or (isinstance(raw, float) and raw.is_integer()):
            value = int(raw)  # lenient with servers that have no structured output
        if isinstance(value, bool) or not isinstance(value, int) or value not in q.values():
            raise JudgeAnswerError(f"{where}: {raw!r} is not one of {q.values()}")
        return value
    if q.type == "choice":
        if not isinstance(raw, str) or raw not in q.values():
            raise JudgeAnswerError(f"{where}: {raw!r} is not one of {q.values()}")
        return raw
    if q.type == "flags":
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or any(not isinstance(x, str) or x not in q.values() for x in items):
            raise JudgeAnswerError(f"{where}: {raw!r} is not a list of {q.values()}")
        return sorted(set(items))
    value = str(raw).strip().lower() if isinstance(raw, str) else None
    if value in (TIE, BOTH_BAD):
        return value
    letters = [candidate_label(i).lower() for i in range(len(order))]
    if value not in letters:
        raise JudgeAnswerError(f"{where}: {raw!r} is not one of {[*letters, TIE, BOTH_BAD]}")
    return order[letters.index(value)]


def parse_judgement(rubric: Rubric, content: str, order: Sequence[str]) -> Judgement:
    """Check a judge answer against the rubric; map letters back to candidate ids.

    >>> from brun_label.rubrics import load_rubric
    >>> try:
    ...     parse_judgement(load_rubric("de-escalation"), '{"preference": "z"}', ["c1", "c2"])
    ... except JudgeAnswerError as exc:
    ...     print(exc)
    candidates: missing
    """
    obj = _json_object(content)
    per_cand = [q for q in judged_questions(rubric) if q.scope == "candidate"]
    per_item = [q for q in judged_questions(rubric) if q.scope == "item"]
    cands: dict[str, dict[str, Any]] = {}
    if per_cand:
        raw = obj.get("candidates")
        if not isinstance(raw, dict):
            raise JudgeAnswerError("candidates: missing")
        by_letter = {str(k).strip().upper(): v for k, v in raw.items()}
        for i, cid in enumerate(order):
            letter = candidate_label(i)
            answers = by_letter.get(letter)
            if not isinstance(answers, dict):
                raise JudgeAnswerError(f"candidates.{letter}: missing")
            scores: dict[str, Any] = {}
            for q in per_cand:
                where = f"candidates.{letter}.{q.name}"
                if q.name not in answers or answers[q.name] is None:
                    if q.type == "flags":
                        scores[q.name] = []
                        continue
                    raise JudgeAnswerError(f"{where}: missing")
                scores[q.name] = _check_value(q, answers[q.name], order, where)
            cands[cid] = scores
    item: dict[str, Any] = {}
    for q in per_item:
        if q.name not in obj or obj[q.name] is None:
            if q.type == "flags":
                item[q.name] = []
                continue
            raise JudgeAnswerError(f"{q.name}: missing")
        item[q.name] = _check_value(q, obj[q.name], order, q.name)
    return Judgement(candidates=cands, item=item)


def apply_judgement(sample: Sample, judgement: Judgement, model: str) -> Sample:
    """Return ``sample`` with the judge scores stored on its candidates (and item)."""
    cands = tuple(
        replace(c, judge=judgement.candidates[c.id], judge_model=model) if c.id in judgement.candidates else c
        for c in sample.candidates)
    if judgement.item:
        return replace(sample, candidates=cands, judge=dict(judgement.item), judge_model=model)
    return replace(sample, candidates=cands)


async def judge_async(
    samples: Sequence[Sample],
    rubric: Rubric,
    options: JudgeOptions,
    api_config: ApiConfig,
    cache: RequestCache,
    **run: Unpack[RunSettings],  # type: ignore[misc]  # Any to mypy (package-dir)
) -> JudgeResult:
    """Judge every sample; a sample whose answers stay invalid is kept without judge scores.

    ``run`` says how the requests are sent (concurrency or the Batch API, redraws, progress):
    see :func:`brun_label.importers.request_runner.answer_slots`.
    """
    if not judged_questions(rubric):
        raise InputError(f"rubric {rubric.name!r} has no question a judge can answer", field="--rubric")
    slots: list[Slot] = []
    orders: dict[int, list[str]] = {}
    for i, sample in enumerate(samples):
        body, order = judge_body(rubric, sample, options)
        orders[i] = order
        slots.append(Slot(id=i, body=body))

    def validate(slot_id: Any, answer: Answer) -> str | None:
        try:
            parse_judgement(rubric, answer.content, orders[slot_id])
        except JudgeAnswerError as exc:
            return f"{samples[slot_id].id}: {exc}"
        return None

    answers, stats = await answer_slots(slots, options.model, api_config, cache, validate, **run)
    out: list[Sample] = []
    unjudged: list[str] = []
    for i, sample in enumerate(samples):
        answer = answers.get(i)
        if answer is None:
            unjudged.append(sample.id)
            out.append(sample)
            continue
        judgement = parse_judgement(rubric, answer.content, orders[i])
        out.append(apply_judgement(sample, judgement, options.model))
    return JudgeResult(samples=out, stats=stats, unjudged=unjudged)


def judge_file(
    samples_path: str | Path,
    output: str | Path,
    *,
    rubric: str,
    options: JudgeOptions,
    api_config: ApiConfig,
    fmt: str | None = None,
    **settings: Unpack[JobSettings],  # type: ignore[misc]  # Any to mypy (package-dir)
) -> dict[str, Any]:
    """Read samples, judge them, write the judged samples atomically; return the run summary.

    ``settings`` are the cache, request and price options of
    :func:`brun_label.importers.request_runner.run_job`.
    """
    check_output_path(output)
    rub = load_rubric(rubric)
    samples = read_samples(samples_path, fmt)

    async def job(cache: RequestCache, run: RunSettings) -> JudgeResult:
        return await judge_async(samples, rub, options, api_config, cache, **run)

    def details(result: JudgeResult) -> dict[str, Any]:
        return {"command": "judge", "output": str(output), "rubric": rub.name,
                "samples": len(result.samples), "judged": len(result.samples) - len(result.unjudged),
                "unjudged": result.unjudged}

    return run_job(output, options.model, job, details, **settings)
