"""Pure mapping between samples and Argilla records, and between Argilla responses and table rows.

No SDK, no network: the Argilla adapter (:mod:`brun_label.backends.argilla`) sends and receives
the JSON built and read here (the shapes of argilla-server's ``/api/v1`` records endpoints).

* :func:`record_for_sample` builds the bulk-upsert item of one sample: ``external_id`` is the
  stable sample id (so a re-push upserts, never duplicates), fields come from
  :func:`~brun_label.layout.task_fields` in the recorded candidate order, metadata holds the
  category (visible) and the sample id, order and rubric (hidden from annotators), and the
  LLM judge's answers as described below.

Where the judge's answers are stored (the contract push and pull share):

* ``metadata["brun_judge"]`` (:data:`JUDGE_KEY`), always written when the sample has judge
  answers, whatever the mode: a JSON object keyed by the dataset's question name (the slot,
  ``tone_zone_b``, ``liability_flags_a``, ``preference``) whose values are
  ``{"value": <the value Argilla would store, see argilla_value>, "agent": <judge model>}``.
  A flags answer of "no flags" is kept as ``[]`` (a suggestion cannot hold an empty list). Pull
  reads judge rows from here; records without it (pushed before) fall back to suggestions.
* ``metadata["brun_judge_shown"]`` (:data:`JUDGE_SHOWN_KEY`): ``true`` when the answers were also
  sent as suggestions, which Argilla's UI shows to annotators pre-selected (``push
  --show-judge``), ``false`` by default (no suggestions at all, so nothing is pre-selected).
* Both are extra metadata (no metadata property), which argilla-server hands only to owners and
  admins in its annotator views (``/me/.../records/search``); the stock server's
  ``GET /api/v1/records/{id}`` gives any workspace member all metadata, and the local server
  (``brun-label serve argilla``) patches that endpoint to filter it the same way.
* :func:`rows_for_record` turns one pulled record into annotation-table rows: one per response
  value (with the response's status and the annotator's username) and one per suggestion
  (annotator ``judge:<agent>``), mapped back to candidate ids and rubric values.

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> from brun_label.rubrics import load_rubric
>>> r = load_rubric("de-escalation")
>>> s = sample_from_dict({"id": "s1", "prompt": "You ruined my wedding!", "judge_model": "gpt-4o",
...     "judge": {"preference": "c2"},
...     "candidates": [{"id": "c1", "text": "So sorry!", "judge": {"tone_zone": -2}},
...                    {"id": "c2", "text": "I hear you."}]})
>>> qids = {name: f"q-{name}" for name in ("tone_zone_a", "tone_zone_b", "preference")}
>>> rec, problems = record_for_sample(s, r, ["c2", "c1"], 2, qids, show_judge=True)
>>> rec["external_id"], rec["fields"]["candidate_a"], rec["metadata"]["brun_order"]
('s1', 'I hear you.', ['c2', 'c1'])
>>> [(x["question_id"], x["value"], x["agent"]) for x in rec["suggestions"]]
[('q-tone_zone_b', '-2', 'gpt-4o'), ('q-preference', 'a', 'gpt-4o')]
>>> record = {"external_id": "s1", "metadata": rec["metadata"],
...     "responses": [{"user_id": "u1", "status": "submitted", "updated_at": "2025-01-01T00:00:00",
...                    "values": {"tone_zone_a": {"value": "0"}, "preference": {"value": "b"}}}],
...     "suggestions": [{"question_id": "q-tone_zone_b", "value": "-2", "agent": "gpt-4o",
...                      "updated_at": "2025-01-01T00:00:00"}]}
>>> rows, bad = rows_for_record(record, r, {"u1": "ann1"}, {v: k for k, v in qids.items()})
>>> [(x["candidate_id"], x["question"], x["annotator"], x["value"]) for x in rows]
[('c2', 'tone_zone', 'ann1', 0), ('', 'preference', 'ann1', 'c1'), ('c1', 'tone_zone', 'judge:gpt-4o', -2), ('', 'preference', 'judge:gpt-4o', 'c2')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from brun_label.backends.label_studio_format import DEFAULT_JUDGE_MODEL, skip_question
from brun_label.layout import (
    JUDGE_ORDER_KEY,
    ORDER_KEY,
    RUBRIC_KEY,
    RUBRIC_VERSION_KEY,
    SAMPLE_ID_KEY,
    AnswerError,
    decode_answer,
    encode_answer,
    task_fields,
)
from brun_label.model import JUDGE_PREFIX, Sample, trusted_judge
from brun_label.render_argilla import GUIDELINES_FIELD, field_text
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric, slot_name

PLATFORM = "argilla"
#: Agent name of judge answers whose sample names no judge model (the same as Label Studio's).
DEFAULT_AGENT = DEFAULT_JUDGE_MODEL
#: Argilla response statuses, kept as they are in the table.
STATUSES = ("submitted", "draft", "discarded")
#: Record metadata holding every judge answer, hidden from annotators (see the module docstring).
JUDGE_KEY = "brun_judge"
#: Record metadata saying whether the judge's answers were shown to annotators as suggestions.
JUDGE_SHOWN_KEY = "brun_judge_shown"


class RecordError(ValueError):
    """A pulled record lacks what brun-label needs (its candidate order or sample id)."""


def argilla_value(question: Question, value: Any, order: Sequence[str]) -> Any:
    """Return the value Argilla stores for a rubric answer (checked against the rubric).

    Ratings are integers, flags lists of strings, everything else text (a scale's ``-2`` is the
    label value ``"-2"``, a preferred candidate its position letter).

    >>> from brun_label.rubrics import load_rubric
    >>> r = load_rubric("project-architect")
    >>> argilla_value(r.question("preference"), "c9", ["c1", "c9"])
    'b'
    >>> argilla_value(r.question("actionability"), 4, ["c1", "c9"]), argilla_value(r.question("plan_depth"), -1, [])
    (4, '-1')
    >>> argilla_value(r.question("plan_depth"), 5, ["c1", "c9"])
    Traceback (most recent call last):
    ...
    brun_label.layout.AnswerError: plan_depth: 5 is not an option
    """
    if question.type == "preference":
        if value not in (TIE, BOTH_BAD) and value not in order:
            raise AnswerError(f"{question.name}: {value!r} is not a candidate of this sample")
        return encode_answer(question, value, order)
    if question.type == "text":
        return str(value)
    if question.type == "flags":
        items = value if isinstance(value, list | tuple) else [value]
        allowed = {str(v) for v in question.values()}
        bad = [v for v in items if str(v) not in allowed]
        if bad:
            raise AnswerError(f"{question.name}: {bad[0]!r} is not an option")
        return sorted({str(v) for v in items})
    if question.type in ("scale", "rating"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise AnswerError(f"{question.name}: {value!r} is not an option")
        try:
            number = int(str(value).strip())
        except ValueError:
            raise AnswerError(f"{question.name}: {value!r} is not an option") from None
        if number not in question.values():
            raise AnswerError(f"{question.name}: {value!r} is not an option")
        return number if question.type == "rating" else str(number)
    if str(value) not in [str(v) for v in question.values()]:
        raise AnswerError(f"{question.name}: {value!r} is not an option")
    return str(value)


def _judge_answers(
    judge: Mapping[str, Any] | None,
    rubric: Rubric,
    scope: str,
    position: int | None,
    order: Sequence[str],
    agent: str,
    question_ids: Mapping[str, str],
    problems: list[str],
    where: str,
) -> list[tuple[str, Any, str]]:
    """Return ``(slot, stored value, agent)`` for each usable judge answer (``[]`` flags included)."""
    out: list[tuple[str, Any, str]] = []
    for name, value in (judge or {}).items():
        if value is None:
            continue
        try:
            question = rubric.question(name)
        except KeyError:
            problems.append(f"{where}: judge answer for {name!r}, which is not a question of rubric {rubric.name}")
            continue
        if question.scope != scope:
            problems.append(f"{where}: judge answer for {name!r} belongs on the {question.scope}, not the {scope}")
            continue
        slot = slot_name(name, position) if position is not None else name
        if slot not in question_ids:
            continue
        try:
            stored = argilla_value(question, value, order)
        except AnswerError as exc:
            problems.append(f"{where}: judge {exc}")
            continue
        out.append((slot, stored, agent))
    return out


def _judge_suggestions(
    answers: Sequence[tuple[str, Any, str]], question_ids: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Return the suggestions that show ``answers`` to annotators (Argilla cannot store ``[]``)."""
    return [{"question_id": question_ids[slot], "value": stored, "agent": agent, "type": "model"}
            for slot, stored, agent in answers if stored != []]


def record_for_sample(
    sample: Sample,
    rubric: Rubric,
    order: Sequence[str],
    n_slots: int,
    question_ids: Mapping[str, str],
    *,
    show_judge: bool = False,
    guidelines: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Return the bulk-upsert item for ``sample`` and the judge answers that could not be used.

    ``guidelines`` (when the dataset has the field) is repeated on the record, under the candidates.

    ``question_ids`` maps the dataset's question names (``tone_zone_a``…) to their server ids;
    empty candidate slots are left out of the fields (Argilla rejects empty text). The judge's
    answers always go into the hidden :data:`JUDGE_KEY` metadata; with ``show_judge`` they are
    also sent as suggestions, which annotators see pre-selected.

    >>> from brun_label.model import sample_from_dict
    >>> from brun_label.rubrics import load_rubric
    >>> s = sample_from_dict({"id": "s1", "prompt": "Hi", "judge_model": "m",
    ...     "candidates": [{"id": "c1", "text": "A", "judge": {"liability_flags": []}}, {"id": "c2", "text": "B"}]})
    >>> rec, _ = record_for_sample(s, load_rubric("de-escalation"), ["c1", "c2"], 2, {"liability_flags_a": "q1"})
    >>> rec["metadata"]["brun_judge"], rec["metadata"]["brun_judge_shown"], "suggestions" in rec
    ({'liability_flags_a': {'value': [], 'agent': 'm'}}, False, False)
    """
    sample = trusted_judge(sample)[0]  # answers that changed with the order reversed are never sent
    fields = task_fields(sample, order, n_slots)
    fields.pop("category", None)
    # Shown as text, never markup (see render_argilla.field_text).
    record_fields = {k: field_text(v) for k, v in fields.items() if v != ""}
    if guidelines:
        record_fields[GUIDELINES_FIELD] = field_text(guidelines)
    metadata: dict[str, Any] = {
        "category": sample.category,
        SAMPLE_ID_KEY: sample.id,
        ORDER_KEY: list(order),
        RUBRIC_KEY: rubric.identity,
        RUBRIC_VERSION_KEY: rubric.version,
    }
    if sample.judge_order is not None:
        metadata[JUDGE_ORDER_KEY] = list(sample.judge_order)
    problems: list[str] = []
    answers: list[tuple[str, Any, str]] = []
    for position, cid in enumerate(order):
        cand = sample.candidate(cid)
        agent = cand.judge_model or sample.judge_model or DEFAULT_AGENT
        answers += _judge_answers(cand.judge, rubric, "candidate", position, order, agent,
                                  question_ids, problems, f"sample {sample.id} candidate {cid}")
    agent = sample.judge_model or DEFAULT_AGENT
    answers += _judge_answers(sample.judge, rubric, "item", None, order, agent, question_ids,
                              problems, f"sample {sample.id}")
    if answers:
        metadata[JUDGE_KEY] = {slot: {"value": stored, "agent": who} for slot, stored, who in answers}
    metadata[JUDGE_SHOWN_KEY] = bool(show_judge)
    record: dict[str, Any] = {"external_id": sample.id, "fields": record_fields, "metadata": metadata}
    suggestions = _judge_suggestions(answers, question_ids) if show_judge else []
    if suggestions:
        record["suggestions"] = suggestions
    return record, problems


def judge_mode_note(shown_before: set[Any], show_judge: bool) -> str:
    """Say that records already in the dataset were pushed with another judge mode.

    ``shown_before`` holds the :data:`JUDGE_SHOWN_KEY` values found on the existing records
    (``None`` for records pushed before the mode was recorded, which showed suggestions).

    >>> print(judge_mode_note({True}, False))
    records already in the dataset showed the judge's answers to annotators as suggestions; the new ones do not (they stay as they were: the dataset card will say "mixed")
    """
    before = "showed" if (True in shown_before or None in shown_before) else "did not show"
    now = "do" if show_judge else "do not"
    return (f"records already in the dataset {before} the judge's answers to annotators as suggestions; the new "
            f"ones {now} (they stay as they were: the dataset card will say \"mixed\")")


def record_order(record: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Return ``(sample_id, candidate order)`` recorded on a pulled record.

    >>> record_order({"external_id": "s1", "metadata": {"brun_order": ["c2", "c1"]}})
    ('s1', ['c2', 'c1'])
    """
    metadata = record.get("metadata") or {}
    order = metadata.get(ORDER_KEY)
    sample_id = metadata.get(SAMPLE_ID_KEY) or record.get("external_id")
    if not isinstance(order, list) or not all(isinstance(x, str) for x in order) or not sample_id:
        raise RecordError(f"record {record.get('external_id') or record.get('id')} was not pushed by brun-label "
                          f"(no {ORDER_KEY} metadata)")
    return str(sample_id), list(order)


def record_judge_order(record: Mapping[str, Any]) -> list[str] | None:
    """Return the candidate order the judge was shown, when push recorded one (else None).

    >>> record_judge_order({"metadata": {"brun_order": ["c2", "c1"], "brun_judge_order": ["c1", "c2"]}})
    ['c1', 'c2']
    >>> record_judge_order({"metadata": {"brun_order": ["c2", "c1"]}}) is None
    True
    """
    metadata = record.get("metadata") or {}
    order, judge_order = metadata.get(ORDER_KEY), metadata.get(JUDGE_ORDER_KEY)
    if (isinstance(judge_order, list) and isinstance(order, list)
            and sorted(map(str, judge_order)) == sorted(map(str, order))):
        return [str(c) for c in judge_order]
    return None


def _rows(
    rubric: Rubric,
    item_id: str,
    order: Sequence[str],
    values: Mapping[str, Any],
    annotator: str,
    status: str,
    submitted_at: Any,
    invalid: list[str],
) -> list[dict[str, Any]]:
    rows = []
    for slot, raw in values.items():
        try:
            decoded = decode_answer(rubric, slot, raw, order)
        except AnswerError as exc:
            invalid.append(f"item {item_id}, {annotator}: {exc}")
            continue
        for candidate_id, question, value in decoded:
            rows.append({
                "item_id": item_id,
                "candidate_id": candidate_id,
                "question": question,
                "annotator": annotator,
                "value": value,
                "status": status,
                "platform": PLATFORM,
                "submitted_at": submitted_at,
            })
    return rows


def rows_for_record(
    record: Mapping[str, Any],
    rubric: Rubric,
    usernames: Mapping[str, str],
    question_names: Mapping[str, str],
    *,
    include_judge: bool = True,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the table rows of one pulled record and the answers that do not fit the rubric.

    A response with no values (a discarded record, usually) gives one row with value ``None``
    under the rubric's preference question (as Label Studio's skips do), so its status is kept.
    """
    item_id, order = record_order(record)
    invalid: list[str] = []
    rows: list[dict[str, Any]] = []
    for response in record.get("responses") or []:
        user_id = str(response.get("user_id"))
        annotator = usernames.get(user_id, user_id)
        status = str(response.get("status") or "submitted")
        when = response.get("updated_at") or response.get("inserted_at")
        values = {slot: v.get("value") if isinstance(v, Mapping) else v
                  for slot, v in (response.get("values") or {}).items()}
        if not values:
            rows.append({"item_id": item_id, "candidate_id": "", "question": skip_question(rubric),
                         "annotator": annotator, "value": None, "status": status, "platform": PLATFORM,
                         "submitted_at": when})
            continue
        rows += _rows(rubric, item_id, order, values, annotator, status, when, invalid)
    stored = (record.get("metadata") or {}).get(JUDGE_KEY)
    if include_judge and isinstance(stored, Mapping):
        # The judge's answers as push stored them (every answer, "no flags" as []).
        when = record.get("updated_at") or record.get("inserted_at")
        for slot, answer in stored.items():
            if not isinstance(answer, Mapping) or "value" not in answer:
                invalid.append(f"item {item_id}, judge: {slot}: the judge answer in the record's "
                               f"{JUDGE_KEY} metadata is not an object with a value")
                continue
            annotator = JUDGE_PREFIX + str(answer.get("agent") or DEFAULT_AGENT)
            rows += _rows(rubric, item_id, order, {str(slot): answer["value"]}, annotator, "submitted", when,
                          invalid)
    elif include_judge:  # records pushed before the judge's answers were kept in metadata
        for suggestion in record.get("suggestions") or []:
            slot = question_names.get(str(suggestion.get("question_id")))
            if slot is None:
                continue
            annotator = JUDGE_PREFIX + str(suggestion.get("agent") or DEFAULT_AGENT)
            when = suggestion.get("updated_at") or suggestion.get("inserted_at")
            rows += _rows(rubric, item_id, order, {slot: suggestion.get("value")}, annotator, "submitted", when,
                          invalid)
    shown = judge_shown(record)
    for row in rows:
        if str(row["annotator"]).startswith(JUDGE_PREFIX):
            row["judge_shown"] = shown
    return rows, invalid


def judge_shown(record: Mapping[str, Any]) -> str:
    """``yes`` when the record's judge answers were shown to annotators as suggestions, else ``no``.

    Records pushed before the mode was recorded (no :data:`JUDGE_SHOWN_KEY`) showed their
    suggestions, if any.

    >>> judge_shown({"metadata": {"brun_judge_shown": False}}), judge_shown({"suggestions": [{"value": "a"}]})
    ('no', 'yes')
    """
    recorded = (record.get("metadata") or {}).get(JUDGE_SHOWN_KEY)
    if isinstance(recorded, bool):
        return "yes" if recorded else "no"
    return "yes" if record.get("suggestions") else "no"


def utc_timestamps(rows: list[dict[str, Any]]) -> None:
    """Mark Argilla's naive UTC timestamps (``2026-01-01T10:00:00``) as UTC, in place.

    >>> rows = [{"submitted_at": "2026-01-01T10:00:00"}, {"submitted_at": "2026-01-01T10:00:00+00:00"}]
    >>> utc_timestamps(rows); [r["submitted_at"] for r in rows]
    ['2026-01-01T10:00:00Z', '2026-01-01T10:00:00+00:00']
    """
    for row in rows:
        when = row.get("submitted_at")
        if isinstance(when, str) and when and not when.endswith("Z") and "+" not in when[10:]:
            row["submitted_at"] = when + "Z"
