"""Label Studio's task and result format: samples to task payloads, exported tasks to table rows.

Adapter helpers without network: they know Label Studio's JSON shapes (task ``data``,
``predictions``, annotation ``result`` regions) and use the SDK's offline config parser
(:class:`label_studio_sdk.label_interface.LabelInterface`) to check every region against the
project's labeling config, which the server itself never does (it stores an unknown choice
with HTTP 201).

Region shapes written and read, per control tag of the rendered config:

============  ==========================================  ===================================
tag           ``value``                                   raw answer given to ``decode_answer``
============  ==========================================  ===================================
Choices       ``{"choices": ["-1"]}`` (the ``alias``)     the list of choices
Rating        ``{"rating": 4}``                           the integer
TextArea      ``{"text": ["why"]}``                       the list of lines
============  ==========================================  ===================================

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.render_label_studio import render_label_studio
>>> rubric = load_rubric("de-escalation")
>>> config = ConfigIndex(render_label_studio(rubric, n_candidates=2))
>>> s = sample_from_dict({"id": "s1", "prompt": "You ruined my wedding!", "judge_model": "gpt-j",
...     "judge": {"preference": "c2"},
...     "candidates": [{"id": "c1", "text": "So sorry!", "judge": {"tone_zone": -2}},
...                    {"id": "c2", "text": "I hear you.", "judge": {"tone_zone": 0}}]})
>>> task, problems = task_payload(s, rubric, ["c2", "c1"], config)
>>> task["data"]["candidate_a"], task["data"]["brun_sample_id"], task["data"]["brun_order"]
('I hear you.', 's1', ['c2', 'c1'])
>>> [(r["from_name"], r["value"]) for r in task["predictions"][0]["result"]]
[('tone_zone_b', {'choices': ['-2']}), ('tone_zone_a', {'choices': ['0']}), ('preference', {'choices': ['a']})]
>>> reader = ResultReader(rubric, config)
>>> reader.read(task["predictions"][0]["result"][2], ["c2", "c1"])
[('', 'preference', 'c2')]
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from label_studio_sdk.label_interface import LabelInterface

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
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric, slot_name

PLATFORM = "label-studio"
#: Model name used for judge scores whose sample gives no ``judge_model``.
DEFAULT_JUDGE_MODEL = "llm"


class ConfigIndex:
    """A parsed labeling config: each control's tag and object, and a cached region validator."""

    def __init__(self, label_config: str) -> None:
        self.label_config = label_config
        self.interface = LabelInterface(label_config)
        self.controls: dict[str, tuple[str, str]] = {
            ctl.name: (ctl.tag, ctl.to_name[0]) for ctl in self.interface.controls
        }
        self._verdicts: dict[Any, list[str]] = {}

    def errors(self, region: dict[str, Any], key: Any = None) -> list[str]:
        """Return what is wrong with ``region`` under this config (empty when it is valid).

        Verdicts are cached by the region's content, so 200k choice regions cost a dict lookup
        each instead of a pydantic validation each.
        """
        key = _region_key(region) if key is None else key
        if key is not None and key in self._verdicts:
            return self._verdicts[key]
        raw = self.interface.validate_region(region, return_errors=True)
        errors = [re.sub(r"^Region \d+: ", "", str(e)) for e in raw]
        if key is not None:
            self._verdicts[key] = errors
        return errors


def _region_key(region: dict[str, Any]) -> Any:
    value = region.get("value")
    if not isinstance(value, dict):
        return None
    head = (region.get("from_name"), region.get("to_name"), region.get("type"))
    if len(value) == 1:
        if isinstance(value.get("choices"), list) and all(isinstance(c, str) for c in value["choices"]):
            return (*head, "choices", tuple(value["choices"]))
        if "rating" in value and type(value["rating"]) in (int, float):
            return (*head, "rating", value["rating"])
        # Free text is valid whatever it says, as long as it is a list of strings.
        if isinstance(value.get("text"), list) and all(isinstance(t, str) for t in value["text"]):
            return (*head, "text")
    return None


def _region(tag: str, from_name: str, to_name: str, stored: Any) -> dict[str, Any]:
    if tag == "Rating":
        value: dict[str, Any] = {"rating": int(stored)}
    elif tag == "TextArea":
        value = {"text": [str(stored)]}
    else:
        value = {"choices": [str(v) for v in stored] if isinstance(stored, list) else [str(stored)]}
    return {"from_name": from_name, "to_name": to_name, "type": tag.lower(), "value": value}


def _native(value: Any) -> Any:
    """Undo JSON/Parquet drift: ``-1.0`` becomes ``-1``, a tuple a list."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _judge_region(
    q: Question, slot: str, value: Any, order: Sequence[str], config: ConfigIndex
) -> dict[str, Any]:
    value = _native(value)
    if q.type == "preference" and value not in (TIE, BOTH_BAD) and value not in order:
        raise AnswerError(f"{slot}: {value!r} is not a candidate id, {TIE} or {BOTH_BAD}")
    if slot not in config.controls:
        raise AnswerError(f"{slot}: not in the project's labeling config")
    tag, to_name = config.controls[slot]
    try:
        region = _region(tag, slot, to_name, encode_answer(q, value, order))
    except (TypeError, ValueError) as exc:
        raise AnswerError(f"{slot}: {value!r} does not fit ({exc})") from None
    errors = config.errors(region)
    if errors:
        raise AnswerError(f"{slot}: {errors[0]}")
    return region


def judge_predictions(
    sample: Sample, rubric: Rubric, order: Sequence[str], config: ConfigIndex
) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the sample's LLM-judge answers as Label Studio predictions (one per judge model).

    Candidate-level ``judge`` maps per-candidate questions; the sample-level ``judge`` maps item
    questions (a preference names a candidate id, ``tie`` or ``both_bad``). Answers that do not fit
    the rubric are left out and described in the second return value. Answers the swap check
    found inconsistent are never sent (:func:`brun_label.model.trusted_judge`).
    """
    sample = trusted_judge(sample)[0]
    by_model: dict[str, list[dict[str, Any]]] = {}
    problems: list[str] = []

    def add(model: str, q_name: str, scope: str, position: int | None, value: Any) -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        try:
            q = rubric.question(q_name)
        except KeyError:
            problems.append(f"sample {sample.id}: judge answer {q_name!r} is not a question of rubric {rubric.name}")
            return
        if q.scope != scope:
            problems.append(f"sample {sample.id}: judge answer {q_name!r} is asked per {q.scope}, not per {scope}")
            return
        slot = q.name if position is None else slot_name(q.name, position)
        try:
            by_model.setdefault(model, []).append(_judge_region(q, slot, value, order, config))
        except AnswerError as exc:
            problems.append(f"sample {sample.id}: judge answer {exc}")

    for cand in sample.candidates:
        model = cand.judge_model or sample.judge_model or DEFAULT_JUDGE_MODEL
        for q_name, value in (cand.judge or {}).items():
            add(model, q_name, "candidate", order.index(cand.id), value)
    for q_name, value in (sample.judge or {}).items():
        add(sample.judge_model or DEFAULT_JUDGE_MODEL, q_name, "item", None, value)
    predictions = [{"model_version": m, "result": regions} for m, regions in by_model.items() if regions]
    return predictions, problems


def judge_models(samples: Iterable[Sample]) -> Iterator[str]:
    """Yield the judge model (the prediction's ``model_version``) of every sample's judge answers.

    >>> from brun_label.model import sample_from_dict
    >>> s = sample_from_dict({"id": "s", "prompt": "p", "judge_model": "m1", "judge": {"preference": "tie"},
    ...     "candidates": [{"id": "a", "text": "x", "judge": {"tone_zone": 0}, "judge_model": "m2"},
    ...                    {"id": "b", "text": "y"}]})
    >>> list(judge_models([s]))
    ['m2', 'm1']
    """
    for sample in samples:
        for cand in sample.candidates:
            if cand.judge:
                yield cand.judge_model or sample.judge_model or DEFAULT_JUDGE_MODEL
        if sample.judge:
            yield sample.judge_model or DEFAULT_JUDGE_MODEL


def task_payload(
    sample: Sample, rubric: Rubric, order: Sequence[str], config: ConfigIndex, n_slots: int | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Return the import payload of one sample (task data, and predictions from judge scores).

    The data holds the visible fields, the stable sample id, the candidate order shown and the
    rubric's identity (``name@fingerprint``) and version, so a pull needs nothing but the project
    and can tell a different rubric of the same name.
    """
    slots = n_slots if n_slots is not None else slot_count(config)
    data: dict[str, Any] = dict(task_fields(sample, order, slots))
    data[SAMPLE_ID_KEY] = sample.id
    data[ORDER_KEY] = list(order)
    data[RUBRIC_KEY] = rubric.identity
    data[RUBRIC_VERSION_KEY] = rubric.version
    if sample.judge_order is not None:
        data[JUDGE_ORDER_KEY] = list(sample.judge_order)
    task: dict[str, Any] = {"data": data}
    predictions, problems = judge_predictions(sample, rubric, order, config)
    if predictions:
        task["predictions"] = predictions
    return task, problems


def slot_count(config: ConfigIndex) -> int:
    """Return how many candidate slots (``candidate_a``…) the config shows."""
    objects = {to for _, to in config.controls.values()}
    return sum(1 for o in objects if o.startswith("candidate_"))


def chunks(tasks: Iterable[dict[str, Any]], max_tasks: int, max_bytes: int) -> Iterator[list[dict[str, Any]]]:
    """Group task payloads into import requests of at most ``max_tasks`` tasks and ``max_bytes`` of JSON.

    >>> [len(c) for c in chunks(({"data": {"t": "x" * 10}} for _ in range(5)), 2, 10_000)]
    [2, 2, 1]
    >>> [len(c) for c in chunks(({"data": {"t": "x" * 10}} for _ in range(3)), 100, 40)]
    [1, 1, 1]
    """
    batch: list[dict[str, Any]] = []
    size = 2
    for task in tasks:
        n = len(json.dumps(task, ensure_ascii=False).encode("utf-8")) + 2  # ", " between tasks
        if batch and (len(batch) >= max_tasks or size + n > max_bytes):
            yield batch
            batch, size = [], 2
        batch.append(task)
        size += n
    if batch:
        yield batch


def guidelines_html(markdown: str) -> str:
    """Render a rubric's guidelines (paragraphs and ``**bold**``/``*italic*``) as the HTML Label Studio shows.

    The text comes from a user's rubric file: it is escaped first, so the only markup in the result
    is the ``<p>``, ``<b>`` and ``<i>`` added here (Label Studio puts instructions into the page as
    HTML).

    >>> guidelines_html("Read **all** replies.\\n\\nPick *one*.")
    '<p>Read <b>all</b> replies.</p><p>Pick <i>one</i>.</p>'
    >>> guidelines_html("**<img src=x onerror=alert(1)>**")
    '<p><b>&lt;img src=x onerror=alert(1)&gt;</b></p>'
    """
    out = []
    for para in re.split(r"\n\s*\n", markdown.strip()):
        text = html.escape(" ".join(line.strip() for line in para.splitlines()))
        text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
        text = re.sub(r"\*(.+?)\*", r"<i>\1</i>", text)
        if text:
            out.append(f"<p>{text}</p>")
    return "".join(out)


def instructions_html(rubric: Rubric, n_slots: int) -> str:
    """The project's instructions: the rubric's guidelines, then the hotkeys of this config.

    >>> from brun_label.rubrics import load_rubric
    >>> text = instructions_html(load_rubric("de-escalation"), 2)
    >>> "<p><b>Hotkeys</b></p>" in text and "Tone zone of B: q-t" in text
    True
    """
    from brun_label.render_label_studio import hotkey_legend

    legend = "".join(f"<p>{html.escape(line)}</p>" for line in hotkey_legend(rubric, n_slots))
    body = guidelines_html(rubric.guidelines or rubric.description)
    return body + ("<p><b>Hotkeys</b></p>" + legend if legend else "")


#: What the open-source edition cannot do, said on every push (and in the README).
BLINDING_NOTE = (
    "Label Studio's open-source edition has no roles and no blinding: every member of the organization can "
    "open and update other members' annotations, see the judge's predictions in the Data Manager and delete "
    "the project. brun-label's default Data Manager tab hides the annotator, annotation and prediction "
    "columns and predictions do not pre-label tasks (unless --show-judge), but any member can turn them back on; use Argilla (or "
    "Label Studio Enterprise) when annotators must not see each other's answers"
)

#: Data Manager columns that show who answered what (hidden on the tab push creates).
ANNOTATOR_COLUMNS = ("annotators", "annotations_results", "annotations_ids", "updated_by", "cancelled_annotations")


def _raw_answer(region: dict[str, Any]) -> Any:
    value = region["value"]
    kind = str(region.get("type", "")).lower()
    if kind == "choices":
        return value["choices"]
    if kind == "rating":
        return value["rating"]
    if kind == "textarea":
        return value["text"]
    raise AnswerError(f"{region.get('from_name')}: region type {kind!r} is not one brun-label writes")


_POSITION_MARK = "\x00"
_POSITIONS = tuple(f"{_POSITION_MARK}{i}" for i in range(64))


def _at(value: str, order: Sequence[str]) -> str:
    """Replace a position stand-in by the candidate id in that position (other text as is)."""
    return order[int(value[1:])] if value.startswith(_POSITION_MARK) else value


class ResultReader:
    """Check annotation regions against the project config, then map them to the rubric."""

    def __init__(self, rubric: Rubric, config: ConfigIndex) -> None:
        self.rubric = rubric
        self.config = config
        self._answers: dict[Any, list[tuple[str, str, Any]] | str] = {}

    def read(self, region: Any, order: Sequence[str]) -> list[tuple[str, str, Any]]:
        """Return ``[(candidate_id, question, value)]`` for one region; raise :class:`AnswerError` if invalid.

        Choice and rating answers are few and repeat across tasks, so each (region content,
        candidate order) is checked and decoded once; free text is decoded every time.
        """
        if not isinstance(region, dict):
            raise AnswerError(f"region is not an object: {region!r}")
        key = _region_key(region)
        if key is None or key[3] == "text":
            return self._read(region, order, key)
        # Decoded once per content and number of candidates, against stand-in ids for the
        # positions; the task's own candidate ids are put in afterwards.
        cache_key = (key, len(order))
        hit = self._answers.get(cache_key)
        if hit is None:
            try:
                hit = self._read(region, _POSITIONS[: len(order)], key)
            except AnswerError as exc:
                hit = str(exc).replace(_POSITION_MARK, "position ")
            self._answers[cache_key] = hit
        if isinstance(hit, str):
            raise AnswerError(hit)
        return [(_at(c, order), q, _at(v, order) if isinstance(v, str) else list(v) if isinstance(v, list) else v)
                for c, q, v in hit]

    def _read(self, region: dict[str, Any], order: Sequence[str], key: Any = None) -> list[tuple[str, str, Any]]:
        errors = self.config.errors(region, key)
        if errors:
            raise AnswerError(f"{region.get('from_name')}: {errors[0]}")
        return decode_answer(self.rubric, str(region["from_name"]), _raw_answer(region), order)


def user_names(users: Iterable[Any], prefer: str = "email") -> dict[int, str]:
    """Map user ids to the name used as ``annotator``: the email (or the username, with
    ``prefer="username"``), falling back to the other one.
    """
    order = ("email", "username") if prefer == "email" else ("username", "email")
    out = {}
    for u in users:
        first, second = (getattr(u, k, None) for k in order)
        out[int(u.id)] = (first or second or f"user:{u.id}").strip()
    return out


def _user_id(raw: Any) -> int | None:
    if isinstance(raw, dict):
        raw = raw.get("id")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def skip_question(rubric: Rubric) -> str:
    """The question under which an annotation with no answer (a skip) is recorded, with value None.

    Shared with the Argilla backend, so both record a skip the same way.
    """
    pref = rubric.preference_question()
    if pref is not None:
        return pref.name
    items = [q for q in rubric.questions if q.scope == "item"]
    return (items or list(rubric.questions))[0].name


class TaskReader:
    """Turn exported tasks into annotation-table rows, collecting answers that do not fit."""

    def __init__(self, rubric: Rubric, config: ConfigIndex, users: dict[int, str]) -> None:
        self.reader = ResultReader(rubric, config)
        self.users = users
        self.skip_question = skip_question(rubric)
        self.rows: list[dict[str, Any]] = []
        self.invalid: list[str] = []
        self.n_items = 0
        self.orders: dict[int, tuple[str, list[str]]] = {}
        """task id -> (sample id, candidate order), for mapping predictions afterwards."""
        self.judge_orders: dict[str, list[str]] = {}
        """sample id -> the candidate order the judge was shown (when the task records one)."""

    def annotator(self, raw: Any) -> str:
        """Return the annotator name of a ``completed_by``/``user`` field."""
        if isinstance(raw, dict) and (raw.get("email") or raw.get("username")):
            return str(raw.get("email") or raw.get("username"))
        uid = _user_id(raw)
        if uid is None:
            # Drafts name their user by its display string (the email) rather than its id.
            return raw.strip() if isinstance(raw, str) and raw.strip() else "unknown"
        return self.users.get(uid, f"user:{uid}")

    def add_task(self, task: dict[str, Any]) -> None:
        """Add the rows of one exported task (its annotations and drafts)."""
        data = task.get("data") or {}
        tid = task.get("id")
        sid, order = data.get(SAMPLE_ID_KEY), data.get(ORDER_KEY)
        if not isinstance(sid, str) or not isinstance(order, list):
            if task.get("annotations") or task.get("drafts"):
                self.invalid.append(f"task {tid}: no {SAMPLE_ID_KEY}/{ORDER_KEY} in its data (not pushed by brun-label); its annotations are not used")
            return
        order = [str(o) for o in order]
        self.n_items += 1
        judge_order = data.get(JUDGE_ORDER_KEY)
        if isinstance(judge_order, list) and sorted(map(str, judge_order)) == sorted(order):
            self.judge_orders[sid] = [str(o) for o in judge_order]
        if isinstance(tid, int):
            self.orders[tid] = (sid, order)
        for ann in task.get("annotations") or []:
            status = "skipped" if ann.get("was_cancelled") else "submitted"
            self._add(sid, order, ann.get("result") or [], self.annotator(ann.get("completed_by")), status,
                      ann.get("updated_at") or ann.get("created_at"), f"task {tid} annotation {ann.get('id')}")
        for draft in task.get("drafts") or []:
            self._add(sid, order, draft.get("result") or [], self.annotator(draft.get("user")), "draft",
                      draft.get("updated_at") or draft.get("created_at"), f"task {tid} draft {draft.get('id')}")

    def add_prediction(self, task_id: int, model_version: str | None, result: list[Any], created_at: Any) -> None:
        """Add a judge prediction's rows (annotator ``judge:<model_version>``)."""
        if task_id not in self.orders:
            return
        sid, order = self.orders[task_id]
        when = created_at.isoformat() if hasattr(created_at, "isoformat") else created_at
        self._add(sid, order, result or [], JUDGE_PREFIX + (model_version or DEFAULT_JUDGE_MODEL), "submitted",
                  when, f"task {task_id} prediction {model_version!r}")

    def _add(self, sid: str, order: list[str], result: list[Any], who: str, status: str, when: Any, where: str) -> None:
        if not result:
            # An annotation with no answers (a skip, usually): one row with no value keeps its status.
            self.rows.append({"item_id": sid, "candidate_id": "", "question": self.skip_question, "annotator": who,
                              "value": None, "status": status, "platform": PLATFORM, "submitted_at": when})
            return
        seen: set[str] = set()
        for region in result:
            try:
                answers = self.reader.read(region, order)
            except (AnswerError, KeyError, TypeError, ValueError) as exc:
                self.invalid.append(f"{where} (sample {sid}) by {who}: {exc}")
                continue
            slot = str(region.get("from_name"))
            if slot in seen:
                self.invalid.append(f"{where} (sample {sid}) by {who}: {slot}: answered twice; the second is not used")
                continue
            seen.add(slot)
            for cid, question, value in answers:
                self.rows.append({"item_id": sid, "candidate_id": cid, "question": question, "annotator": who,
                                  "value": value, "status": status, "platform": PLATFORM, "submitted_at": when})
