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
``judge:<model>``). The order the judge saw is stored as ``sample.judge_order`` (its positions,
for position bias).

How far each answer can be trusted is stored next to it, in ``judge_confidence`` (per question):

* ``logprob``: the log-probability the model gave its own answer, the sum of the log-probabilities
  of the answer tokens that make up the value (:func:`answer_logprobs`), when the request asks for
  ``logprobs`` (the default) and the endpoint returns them; ``None`` otherwise;
* ``consistent`` (``swap_check``): the sample is asked a second time with the candidates in the
  reverse order; ``True`` when the answer about the same candidate (or the preferred candidate) is
  the same both times. An inconsistent verdict depends on where a reply was shown: it is kept in
  the file, marked, and never pushed (:func:`brun_label.model.trusted_judge`). :func:`swap_summary`
  gives the share of consistent verdicts with its exact 95% interval; for a preference between two
  replies, an inconsistent pair means both verdicts went to the same slot, so the share of pairs
  with both verdicts in the first slot estimates the rate at which the judge picks the first reply
  whatever it is;
* ``calibrated``: the cross-validated probability that the answer matches a clear human consensus,
  given the judge's own confidence (:mod:`brun_label.agreement.calibration`; ``calibrate_with``).

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
>>> content = '{"candidates": {"A": {"tone_zone": 0}}, "preference": "a"}'
>>> tokens = [('{"candidates": {"A": {"tone_zone": ', -0.01), ('0', -0.4), ('}}, "preference": ', 0.0),
...           ('"a"', -0.7), ('}', 0.0)]
>>> answer_logprobs(content, tokens, ["c2"])
({'c2': {'tone_zone': -0.4}}, {'preference': -0.7})
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from json.decoder import scanstring  # type: ignore[attr-defined]  # public, untyped in typeshed
from pathlib import Path
from typing import Any, Unpack

from brun_label.agreement.position_bias import clopper_pearson
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
    #: Ask the endpoint for the answer tokens' log-probabilities (the judge's own confidence).
    logprobs: bool = True
    #: Ask each sample again with the candidates reversed and mark the answers that change.
    swap_check: bool = False


@dataclass(frozen=True)
class Judgement:
    """Checked judge scores: ``candidates[cid][question]`` and ``item[question]``."""

    candidates: dict[str, dict[str, Any]]
    item: dict[str, Any]


@dataclass
class JudgeResult(JobResult):
    """The judged samples and what the run cost."""

    unjudged: list[str] = field(default_factory=list)
    swap: dict[str, Any] | None = None


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


def judge_body(rubric: Rubric, sample: Sample, options: JudgeOptions,
               order: Sequence[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Return the chat request body for one sample and the candidate order it shows.

    ``order`` defaults to the judge's own shuffled order (:data:`JUDGE_ORDER_SEED`).
    """
    order = list(order) if order is not None else candidate_order(sample, seed=JUDGE_ORDER_SEED)
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
    if options.logprobs:
        body["logprobs"] = True
    return body, order


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)
_WS = re.compile(r"\s*")
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_LITERALS = ("true", "false", "null")


def _scan(text: str, i: int, path: tuple[str, ...], spans: dict[tuple[str, ...], tuple[int, int]]) -> int:
    """Scan one JSON value at ``text[i:]``, recording ``spans[path] = (start, end)`` of every value."""
    i = _WS.match(text, i).end()  # type: ignore[union-attr]  # \s* always matches
    start = i
    ch = text[i:i + 1]
    if ch in ("{", "["):
        close = "}" if ch == "{" else "]"
        i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
        index = 0
        while text[i:i + 1] != close:
            if ch == "{":
                if text[i:i + 1] != '"':
                    raise ValueError(f"expected a key at {i}")
                key, i = scanstring(text, i + 1)
                i = _WS.match(text, i).end()  # type: ignore[union-attr]
                if text[i:i + 1] != ":":
                    raise ValueError(f"expected ':' at {i}")
                i = _scan(text, i + 1, (*path, key), spans)
            else:
                i = _scan(text, i, (*path, str(index)), spans)
                index += 1
            i = _WS.match(text, i).end()  # type: ignore[union-attr]
            if text[i:i + 1] == ",":
                i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
            elif text[i:i + 1] != close:
                raise ValueError(f"expected ',' or {close!r} at {i}")
        i += 1
    elif ch == '"':
        _, i = scanstring(text, i + 1)
    else:
        m = _NUMBER.match(text, i)
        lit = next((w for w in _LITERALS if text.startswith(w, i)), None)
        if m is None and lit is None:
            raise ValueError(f"no JSON value at {i}")
        i = m.end() if m is not None else i + len(lit or "")
    spans[path] = (start, i)
    return i


def answer_logprobs(content: str, tokens: Sequence[tuple[str, float]] | None,
                    order: Sequence[str]) -> tuple[dict[str, dict[str, float]], dict[str, float]] | None:
    """Return the log-probability of each answer value: ``({cid: {question: lp}}, {question: lp})``.

    The value's log-probability is the sum over the tokens that overlap its characters in the
    answer text (for a string, its quotes included; for a list of flags, the whole list). None
    when there are no tokens or they do not spell the answer text.
    """
    if not tokens or "".join(t for t, _ in tokens) != content:
        return None
    lead = len(content) - len(content.lstrip())
    stripped = content.strip()
    fenced = _FENCE.match(stripped)
    base = lead + (fenced.start(1) if fenced else 0)
    inner = fenced.group(1) if fenced else stripped
    spans: dict[tuple[str, ...], tuple[int, int]] = {}
    try:
        _scan(inner, 0, (), spans)
    except (ValueError, IndexError):
        return None
    starts = [0]
    for t, _ in tokens:
        starts.append(starts[-1] + len(t))
    tok_start = starts[:-1]
    tok_end = starts[1:]

    def lp(span: tuple[int, int]) -> float:
        s, e = span[0] + base, span[1] + base
        return float(sum(p for (_, p), a, b in zip(tokens, tok_start, tok_end, strict=True) if a < e and b > s))

    cands: dict[str, dict[str, float]] = {}
    item: dict[str, float] = {}
    letters = {candidate_label(i): cid for i, cid in enumerate(order)}
    for path, span in spans.items():
        if len(path) == 3 and path[0] == "candidates" and path[1].strip().upper() in letters:
            cands.setdefault(letters[path[1].strip().upper()], {})[path[2]] = lp(span)
        elif len(path) == 1 and path[0] != "candidates":
            item[path[0]] = lp(span)
    return cands, item


def _json_object(content: str) -> dict[str, Any]:
    text = content.strip()
    fenced = _FENCE.match(text)
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


@dataclass(frozen=True)
class Confidence:
    """What is known about how far each answer of one judgement can be trusted."""

    logprobs: tuple[dict[str, dict[str, float]], dict[str, float]] | None = None
    swapped: Judgement | None = None

    def entries(self, judgement: Judgement) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        """Return the ``judge_confidence`` mappings: ``({cid: {question: entry}}, {question: entry})``."""
        if self.logprobs is None and self.swapped is None:
            return {}, {}
        lp_c, lp_i = self.logprobs or ({}, {})

        def entry(lp: float | None, value: Any, other: Any) -> dict[str, Any]:
            consistent = None if self.swapped is None else bool(_same(value, other))
            return {"logprob": lp, "consistent": consistent}

        sw = self.swapped
        cands = {cid: {q: entry(lp_c.get(cid, {}).get(q), v,
                                None if sw is None else sw.candidates.get(cid, {}).get(q))
                       for q, v in scores.items()}
                 for cid, scores in judgement.candidates.items()}
        item = {q: entry(lp_i.get(q), v, None if sw is None else sw.item.get(q)) for q, v in judgement.item.items()}
        return cands, item


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and sorted(map(str, a)) == sorted(map(str, b))
    return a is not None and a == b


def apply_judgement(sample: Sample, judgement: Judgement, model: str, *,
                    order: Sequence[str] | None = None, confidence: Confidence | None = None) -> Sample:
    """Return ``sample`` with the judge scores stored on its candidates (and item).

    ``order`` (the candidate order the judge saw) becomes ``judge_order``; ``confidence`` fills
    ``judge_confidence`` next to each score. The scores are marked ``judge_source: model``. A
    previous calibration is dropped with the scores.
    """
    conf_c, conf_i = (confidence or Confidence()).entries(judgement)
    cands = tuple(
        replace(c, judge=judgement.candidates[c.id], judge_model=model, judge_source="model",
                judge_confidence=conf_c.get(c.id))
        if c.id in judgement.candidates else c
        for c in sample.candidates)
    out = replace(sample, candidates=cands)
    if order is not None:
        out = replace(out, judge_order=tuple(order))
    if judgement.item:
        return replace(out, judge=dict(judgement.item), judge_model=model, judge_source="model",
                       judge_confidence=conf_i or None)
    return out


def swap_summary(rubric: Rubric, pairs: Sequence[tuple[Judgement, Judgement, Sequence[str]]]) -> dict[str, Any]:
    """Return the share of consistent verdicts per question when the candidates are reversed.

    ``pairs`` holds ``(answer in order, answer in the reversed order, order)``. Per question:
    ``n`` verdict pairs, ``n_consistent``, ``consistency`` and its exact 95% interval; for a
    preference how many pairs went to the first slot both times (``n_first_both``; its share
    ``first_position_rate`` with its exact 95% interval: for two candidates, the rate at which the
    judge picks the first reply whatever it is) and to the last slot both times (``n_last_both``,
    ``last_position_rate``).

    >>> from brun_label.rubrics import load_rubric
    >>> r = load_rubric("de-escalation")
    >>> a = Judgement(candidates={"c1": {"tone_zone": 0}, "c2": {"tone_zone": 1}}, item={"preference": "c1"})
    >>> b = Judgement(candidates={"c1": {"tone_zone": 0}, "c2": {"tone_zone": 2}}, item={"preference": "c2"})
    >>> s = swap_summary(r, [(a, b, ["c1", "c2"])])
    >>> s["preference"]["consistency"], s["preference"]["n_first_both"], s["tone_zone"]["n_consistent"]
    (0.0, 1, 1)
    """
    out: dict[str, Any] = {}
    for q in judged_questions(rubric):
        n = same = first = last = 0
        for one, two, order in pairs:
            if q.scope == "item":
                if q.name not in one.item or q.name not in two.item:
                    continue
                v1, v2 = one.item[q.name], two.item[q.name]
                n += 1
                same += _same(v1, v2)
                if q.type == "preference" and v1 in order and v2 in order:
                    s1, s2 = list(order).index(v1), list(order)[::-1].index(v2)
                    first += s1 == 0 and s2 == 0
                    last += s1 == len(order) - 1 and s2 == len(order) - 1
            else:
                for cid, scores in one.candidates.items():
                    if q.name in scores and q.name in two.candidates.get(cid, {}):
                        n += 1
                        same += _same(scores[q.name], two.candidates[cid][q.name])
        if not n:
            continue
        entry: dict[str, Any] = {"n": n, "n_consistent": same, "consistency": same / n,
                                 "consistency_ci95": clopper_pearson(same, n)}
        if q.type == "preference":
            entry.update({"n_first_both": first, "first_position_rate": first / n,
                          "first_position_rate_ci95": clopper_pearson(first, n),
                          "n_last_both": last, "last_position_rate": last / n, "last_position_rate_ci95": clopper_pearson(last, n)})
        out[q.name] = entry
    return out


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
    orders: dict[tuple[int, int], list[str]] = {}
    for i, sample in enumerate(samples):
        body, order = judge_body(rubric, sample, options)
        orders[(i, 0)] = order
        slots.append(Slot(id=(i, 0), body=body))
        if options.swap_check and len(order) > 1:
            reverse = order[::-1]
            orders[(i, 1)] = reverse
            slots.append(Slot(id=(i, 1), body=judge_body(rubric, sample, options, reverse)[0]))

    def validate(slot_id: Any, answer: Answer) -> str | None:
        try:
            parse_judgement(rubric, answer.content, orders[slot_id])
        except JudgeAnswerError as exc:
            return f"{samples[slot_id[0]].id}{' (reversed order)' if slot_id[1] else ''}: {exc}"
        return None

    answers, stats = await answer_slots(slots, options.model, api_config, cache, validate, **run)
    out: list[Sample] = []
    unjudged: list[str] = []
    pairs: list[tuple[Judgement, Judgement, Sequence[str]]] = []
    for i, sample in enumerate(samples):
        answer = answers.get((i, 0))
        if answer is None:
            unjudged.append(sample.id)
            out.append(sample)
            continue
        order = orders[(i, 0)]
        judgement = parse_judgement(rubric, answer.content, order)
        swapped_answer = answers.get((i, 1))
        swapped = None
        if swapped_answer is not None:
            swapped = parse_judgement(rubric, swapped_answer.content, orders[(i, 1)])
            pairs.append((judgement, swapped, order))
        lps = answer_logprobs(answer.content, answer.logprobs, order) if options.logprobs else None
        confidence = Confidence(logprobs=lps, swapped=swapped)
        out.append(apply_judgement(sample, judgement, options.model, order=order, confidence=confidence))
    swap = swap_summary(rubric, pairs) if options.swap_check else None
    return JudgeResult(samples=out, stats=stats, unjudged=unjudged, swap=swap)


def judge_file(
    samples_path: str | Path,
    output: str | Path,
    *,
    rubric: str,
    options: JudgeOptions,
    api_config: ApiConfig,
    fmt: str | None = None,
    calibrate_with: str | Path | None = None,
    calibration_method: str = "isotonic",
    **settings: Unpack[JobSettings],  # type: ignore[misc]  # Any to mypy (package-dir)
) -> dict[str, Any]:
    """Read samples, judge them, write the judged samples atomically; return the run summary.

    ``calibrate_with`` is an annotation table: the judge's confidence is calibrated against its
    clear human consensus (:func:`brun_label.agreement.calibration.calibrate`) and every answer
    gets ``judge_confidence[question]["calibrated"]``; the summary's ``calibration`` gives the
    reliability per question. ``settings`` are the cache, request and price options of
    :func:`brun_label.importers.request_runner.run_job`.
    """
    check_output_path(output)
    rub = load_rubric(rubric)
    samples = read_samples(samples_path, fmt)
    table = None
    if calibrate_with is not None:
        from brun_label.importers.annotations import read_annotations

        table = read_annotations(calibrate_with)
    calibration: dict[str, Any] = {}

    async def job(cache: RequestCache, run: RunSettings) -> JudgeResult:
        result = await judge_async(samples, rub, options, api_config, cache, **run)
        if table is not None:
            from brun_label.agreement.calibration import apply_calibration, calibrate

            try:
                calibration.update(calibrate(table, {s.id: s for s in result.samples}, rubric=rub,
                                             method=calibration_method))
            except ValueError as exc:
                raise InputError(str(exc), path=str(calibrate_with)) from None
            result.samples = apply_calibration(result.samples, calibration)
        return result

    def details(result: JudgeResult) -> dict[str, Any]:
        out = {"command": "judge", "output": str(output), "rubric": rub.name,
               "samples": len(result.samples), "judged": len(result.samples) - len(result.unjudged),
               "unjudged": result.unjudged}
        if result.swap is not None:
            out["swap_check"] = result.swap
        if table is not None:
            out["calibration"] = calibration
        return out

    return run_job(output, options.model, job, details, **settings)
