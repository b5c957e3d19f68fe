"""How a sample is laid out for annotators, and how their answers map back to the rubric.

Pure core, shared by every backend so that Label Studio and Argilla produce the same table:

* :func:`candidate_order` shuffles the candidates per sample (seeded by the sample id, so a
  re-push shows the same order) and the order is stored with the task, so position bias can be
  measured later;
* :func:`task_fields` gives the text fields (``prompt``, ``category``, ``candidate_a``…);
* :func:`decode_answer` turns one platform answer (a slot name like ``tone_zone_b`` and the raw
  value the platform stored) into table rows keyed by candidate id and question name, checking the
  value against the rubric (platforms store unknown choices without complaint);
* :func:`fill_unticked_flags` adds the "no flags" (``[]``) a person's submitted response means
  for the candidates that person rated, and nothing for the others (a pull says only what was said);
* :func:`add_table_columns` writes the ``rubric``, ``position`` and ``shown_order`` columns.

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> from brun_label.rubrics import load_rubric
>>> s = sample_from_dict({"id": "s1", "prompt": "You ruined my wedding!",
...     "candidates": [{"id": "c1", "text": "So sorry!"}, {"id": "c2", "text": "I hear you."}]})
>>> sorted(candidate_order(s, seed=0)), candidate_order(s, seed=0) == candidate_order(s, seed=0)
(['c1', 'c2'], True)
>>> order = ["c2", "c1"]  # as shown: A is c2, B is c1
>>> r = load_rubric("de-escalation")
>>> decode_answer(r, "tone_zone_a", "-2", order)
[('c2', 'tone_zone', -2)]
>>> decode_answer(r, "preference", "b", order)
[('', 'preference', 'c1')]
>>> decode_answer(r, "liability_flags_b", ["admits_fault"], order)
[('c1', 'liability_flags', ['admits_fault'])]
>>> decode_answer(r, "tone_zone_a", "7", order)
Traceback (most recent call last):
...
brun_label.layout.AnswerError: tone_zone_a: '7' is not an option of tone_zone
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from brun_label.model import JUDGE_PREFIX, Sample, candidate_label
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric, split_slot_name

#: Keys brun-label adds to each task / record besides the visible fields.
SAMPLE_ID_KEY = "brun_sample_id"
ORDER_KEY = "brun_order"
#: The rubric's identity (``name@fingerprint``; older pushes stored the bare name) and version.
RUBRIC_KEY = "brun_rubric"
RUBRIC_VERSION_KEY = "brun_rubric_version"
#: The candidate order the LLM judge was shown, when the sample records one.
JUDGE_ORDER_KEY = "brun_judge_order"


class AnswerError(ValueError):
    """A platform answer does not fit the rubric (unknown question, option or position)."""


def candidate_order(sample: Sample, *, seed: int = 0) -> list[str]:
    """Return the candidate ids in the order annotators see them (stable per sample and seed)."""
    ids = [c.id for c in sample.candidates]
    digest = hashlib.sha256(f"{seed}:{sample.id}".encode()).digest()
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(ids)
    return ids


def prompt_display(sample: Sample) -> str:
    """Return the prompt as text for display (chat turns as ``Role: content`` paragraphs)."""
    if isinstance(sample.prompt, str):
        return sample.prompt
    return "\n\n".join(f"{m.role.capitalize()}: {m.content}" for m in sample.prompt)


def task_fields(sample: Sample, order: Sequence[str], n_slots: int) -> dict[str, str]:
    """Return the visible text fields: ``prompt``, ``category`` and one per candidate slot.

    Slots beyond the sample's own candidates are empty strings.
    """
    if len(order) > n_slots:
        raise ValueError(f"sample {sample.id} has {len(order)} candidates but only {n_slots} slots")
    out = {"prompt": prompt_display(sample), "category": sample.category}
    for i in range(n_slots):
        key = f"candidate_{candidate_label(i).lower()}"
        out[key] = sample.candidate(order[i]).text if i < len(order) else ""
    return out


def _position_to_id(order: Sequence[str], letter: str, slot: str) -> str:
    pos = 0
    for ch in letter.upper():
        if not ch.isalpha():
            raise AnswerError(f"{slot}: {letter!r} is not a candidate position")
        pos = pos * 26 + (ord(ch) - 64)
    pos -= 1
    if not 0 <= pos < len(order):
        raise AnswerError(f"{slot}: position {letter!r} is beyond the {len(order)} candidates")
    return order[pos]


def _decode_value(q: Question, raw: Any, slot: str, order: Sequence[str]) -> Any:
    if q.type == "text":
        if isinstance(raw, list):
            raw = "\n".join(str(x) for x in raw)
        if not isinstance(raw, str):
            raise AnswerError(f"{slot}: expected text, got {raw!r}")
        return raw
    if q.type == "flags":
        items = raw if isinstance(raw, list | tuple) else [raw]
        allowed = {str(v) for v in q.values()}
        out = []
        for item in items:
            if str(item) not in allowed:
                raise AnswerError(f"{slot}: {item!r} is not an option of {q.name}")
            out.append(str(item))
        return sorted(set(out))
    if isinstance(raw, list):
        if len(raw) != 1:
            raise AnswerError(f"{slot}: expected one answer, got {len(raw)}")
        raw = raw[0]
    if q.type == "preference":
        value = str(raw).strip().lower()
        if value in (TIE, BOTH_BAD):
            return value
        return _position_to_id(order, value, slot)
    if q.type in ("scale", "rating"):
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise AnswerError(f"{slot}: {raw!r} is not an option of {q.name}") from None
        if number not in q.values():
            raise AnswerError(f"{slot}: {raw!r} is not an option of {q.name}")
        return number
    value = str(raw)
    if value not in q.values():
        raise AnswerError(f"{slot}: {raw!r} is not an option of {q.name}")
    return value


def decode_answer(
    rubric: Rubric, slot: str, raw: Any, order: Sequence[str]
) -> list[tuple[str, str, Any]]:
    """Map one platform answer to ``[(candidate_id, question, value)]`` (``candidate_id`` ``""`` for item questions).

    An answer about a slot beyond the sample's candidates (an empty slot) is an :class:`AnswerError`.
    """
    try:
        question_name, position = split_slot_name(rubric, slot)
    except KeyError:
        raise AnswerError(f"{slot}: not a question of rubric {rubric.name}") from None
    q = rubric.question(question_name)
    if position is None:
        return [("", q.name, _decode_value(q, raw, slot, order))]
    if position >= len(order):
        raise AnswerError(f"{slot}: the sample has only {len(order)} candidates; slot {position + 1} is empty")
    return [(order[position], q.name, _decode_value(q, raw, slot, order))]


def encode_answer(question: Question, value: Any, order: Sequence[str]) -> Any:
    """Invert :func:`decode_answer`'s value mapping: the value a platform stores (as text).

    >>> from brun_label.rubrics import load_rubric
    >>> q = load_rubric("de-escalation").question("preference")
    >>> encode_answer(q, "c1", ["c2", "c1"]), encode_answer(q, "tie", ["c2", "c1"])
    ('b', 'tie')
    """
    if question.type == "preference":
        if value in (TIE, BOTH_BAD):
            return value
        return candidate_label(list(order).index(value)).lower()
    if question.type == "flags":
        return [str(v) for v in value]
    if question.type == "text":
        return str(value)
    return str(value)


def fill_unticked_flags(rubric: Rubric, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the ``[]`` answers a person's submitted response means but no platform can store.

    Neither Label Studio nor Argilla stores an empty multi-label answer: a person who ticks no flag
    and submits leaves the question unanswered. The rule, the same for both platforms:

    * a candidate is *rated* in a response when the person gave at least one answer about it
      (any question of the candidate's slot); only for rated candidates does an unanswered
      ``flags`` question become ``[]`` ("no flags"). A candidate the person did not rate gets no
      rows at all, so it neither adds "no flag" agreement nor passes the export's "unflagged" gate;
    * an item-level ``flags`` question becomes ``[]`` when the response answers at least one other
      item-level question (the preference, a rationale…);
    * only ``submitted`` responses with an answer are filled: skips (a response with no answer),
      drafts and discarded responses are left as they are;
    * an LLM judge (``judge:`` annotator) is never filled: its ``[]`` is an explicit answer that
      push stores and pull reads back, and a flag question it did not answer was not judged.

    A response is one (item, annotator, platform).

    >>> from brun_label.rubrics import load_rubric
    >>> r = load_rubric("de-escalation")
    >>> row = {"item_id": "s1", "candidate_id": "c1", "question": "tone_zone", "annotator": "ann",
    ...        "value": 0, "status": "submitted", "platform": "argilla", "submitted_at": None}
    >>> [(x["candidate_id"], x["question"], x["value"]) for x in fill_unticked_flags(r, [row])]
    [('c1', 'tone_zone', 0), ('c1', 'liability_flags', [])]
    >>> pref = {**row, "candidate_id": "", "question": "preference", "value": "c2"}
    >>> [(x["candidate_id"], x["question"]) for x in fill_unticked_flags(r, [pref])]
    [('', 'preference')]
    >>> judge = {**row, "annotator": "judge:gpt"}
    >>> len(fill_unticked_flags(r, [judge]))
    1
    """
    flag_qs = [q for q in rubric.questions if q.type == "flags"]
    if not flag_qs:
        return rows
    groups: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = {}
    for row in rows:
        if (row.get("status") == "submitted" and row.get("value") is not None
                and not str(row["annotator"]).startswith(JUDGE_PREFIX)):
            groups.setdefault((row["item_id"], row["annotator"], row.get("platform")), []).append(row)
    added: list[dict[str, Any]] = []
    for group in groups.values():
        have = {(r["candidate_id"] or "", r["question"]) for r in group}
        rated = dict.fromkeys(r["candidate_id"] for r in group if r["candidate_id"])  # in answer order
        item_answered = any(not r["candidate_id"] for r in group)
        base = group[0]
        for q in flag_qs:
            targets = rated if q.scope == "candidate" else ([""] if item_answered else [])
            for cand in targets:
                if (cand, q.name) not in have:
                    added.append({**base, "candidate_id": cand, "question": q.name, "value": []})
    return rows + added


def add_table_columns(
    rubric: Rubric,
    rows: list[dict[str, Any]],
    orders: Mapping[str, Sequence[str]],
    judge_orders: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """Fill the optional columns ``rubric``, ``position`` and ``shown_order`` of pulled rows (in place).

    ``orders`` maps each item to the candidate ids in the order annotators were shown them;
    ``judge_orders`` the order the LLM judge was shown them, where push recorded one (a judge row
    of an item without one gets empty ``position`` and ``shown_order``: nothing is invented).
    ``position`` is the 0-based slot of the row's candidate; for a preference row, the slot of the
    preferred candidate (empty for ``tie``/``both_bad``); empty for other item questions. The
    question's kind comes from the rubric, never from the value.

    >>> from brun_label.rubrics import load_rubric
    >>> r = load_rubric("de-escalation")
    >>> rows = [{"item_id": "s1", "candidate_id": "c1", "question": "tone_zone", "annotator": "ann"},
    ...         {"item_id": "s1", "candidate_id": "", "question": "preference", "annotator": "ann", "value": "c1"},
    ...         {"item_id": "s1", "candidate_id": "", "question": "preference", "annotator": "ann", "value": "tie"},
    ...         {"item_id": "s1", "candidate_id": "c1", "question": "tone_zone", "annotator": "judge:m"}]
    >>> out = add_table_columns(r, rows, {"s1": ["c2", "c1"]}, {"s1": ["c1", "c2"]})
    >>> [(x["position"], x["shown_order"]) for x in out]
    [(1, '["c2", "c1"]'), (1, '["c2", "c1"]'), (None, '["c2", "c1"]'), (0, '["c1", "c2"]')]
    >>> out[0]["rubric"] == r.identity
    True
    """
    identity = rubric.identity
    preference = {q.name for q in rubric.questions if q.type == "preference"}
    judge_orders = judge_orders or {}
    texts: dict[tuple[str, bool], tuple[dict[str, int], str | None]] = {}
    for row in rows:
        item = str(row["item_id"])
        is_judge = str(row["annotator"]).startswith(JUDGE_PREFIX)
        key = (item, is_judge)
        if key not in texts:
            order = (judge_orders if is_judge else orders).get(item)
            if order is None:
                texts[key] = ({}, None)
            else:
                ids = [str(c) for c in order]
                texts[key] = ({c: i for i, c in enumerate(ids)}, json.dumps(ids, ensure_ascii=False))
        slots, shown = texts[key]
        row["rubric"] = identity
        row["shown_order"] = shown
        cand = str(row.get("candidate_id") or "")
        if cand:
            row["position"] = slots.get(cand)
        elif row["question"] in preference and isinstance(row.get("value"), str):
            row["position"] = slots.get(row["value"])
        else:
            row["position"] = None
    return rows


def count_target(base: str, n_candidates: int) -> str:
    """Return the name of the sibling project/dataset holding samples with ``n_candidates`` candidates.

    Neither platform can show a different number of candidate slots per task (Label Studio's
    ``visibleWhen`` reacts to the annotator's own choices, never to task data; Argilla's fields and
    questions belong to the dataset), so samples are grouped by candidate count: the count the
    ``base`` target was created with keeps its name, every other count gets a sibling with this
    name (short: Label Studio titles stop at 50 characters). Push routes each sample there and
    pull reads the base and every sibling.

    >>> count_target("Crisis replies v1", 3)
    'Crisis replies v1 (3)'
    """
    return f"{base} ({n_candidates})"


def sibling_counts(base: str, names: Sequence[str]) -> dict[int, str]:
    """Return ``{candidate count: name}`` of the siblings of ``base`` among ``names``.

    >>> sibling_counts("p", ["p", "p (3)", "p (x)", "q (3)"])
    {3: 'p (3)'}
    """
    out = {}
    for n in range(2, 27):
        if count_target(base, n) in names:
            out[n] = count_target(base, n)
    return out


def route_by_count(samples: Sequence[Sample], base: str, base_count: int | None) -> dict[str, list[Sample]]:
    """Group samples by candidate count and name each group's target (see :func:`count_target`).

    ``base_count`` is the slot count of the existing ``base`` target (None when it does not exist
    yet: it is then created for the largest count among ``samples``). Order is kept per group.

    >>> from brun_label.model import sample_from_dict
    >>> def s(i, n):
    ...     return sample_from_dict({"id": i, "prompt": "p",
    ...                              "candidates": [{"id": f"{i}{k}", "text": str(k)} for k in range(n)]})
    >>> {t: [x.id for x in g] for t, g in route_by_count([s("a", 3), s("b", 4), s("c", 3)], "P", None).items()}
    {'P (3)': ['a', 'c'], 'P': ['b']}
    >>> list(route_by_count([s("a", 3)], "P", 4))
    ['P (3)']
    """
    if not samples:
        return {base: []}
    counts = [max(2, len(x.candidates)) for x in samples]
    home = base_count if base_count is not None and base_count >= 2 else max(counts)
    out: dict[str, list[Sample]] = {}
    for sample, n in zip(samples, counts, strict=True):
        out.setdefault(base if n == home else count_target(base, n), []).append(sample)
    return out
