"""The data model: samples, candidates, and the long annotation table.

Pure core: no I/O. A *sample* is a scenario (``id``, ``category``, ``prompt``, free ``metadata``)
with two or more drafted ``candidates``. Ids are stable: when the input gives none they are
derived from the content, so re-reading the same file gives the same ids.

Examples
--------
>>> s = sample_from_dict({
...     "category": "customer_complaint",
...     "prompt": "Your update deleted my invoices. I want a refund NOW.",
...     "candidates": [{"text": "I'm so sorry, it's all our fault."},
...                    {"text": "I understand how disruptive this is. Here is what I can do."}],
... })
>>> s.id
's-3bc5f6a9cf54'
>>> [c.id for c in s.candidates]
['c-9f5ea8d765', 'c-b17e12cb0a']
>>> s.prompt_text()
'Your update deleted my invoices. I want a refund NOW.'
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")

#: Columns of the long annotation table, one row per (item, candidate, question, annotator).
ANNOTATION_COLUMNS = (
    "item_id",
    "candidate_id",
    "question",
    "annotator",
    "value",
    "status",
    "platform",
    "submitted_at",
)
#: Optional columns with a fixed meaning (a table may lack them; readers keep them when present):
#: ``rubric``: the identity (``name@fingerprint``) of the rubric the answers were given under;
#: ``position``: the 0-based slot the row's candidate was shown in (for a preference row, the slot
#: of the preferred candidate; empty for ``tie``/``both_bad`` and for item questions);
#: ``shown_order``: the candidate ids in the order shown, as a JSON array;
#: ``round``: which routing round asked for the answer (adaptive overlap);
#: ``judge_shown``: on LLM-judge rows, ``yes`` when push showed that answer to annotators
#: (``push --show-judge``), ``no`` when it was hidden from them (the default).
OPTIONAL_COLUMNS = ("rubric", "position", "shown_order", "round", "judge_shown")
#: Statuses a row can have. Only ``submitted`` rows count for agreement and export.
STATUSES = ("submitted", "draft", "discarded", "skipped")
#: The annotator name given to LLM-judge rows: they are compared with humans, never vote.
JUDGE_PREFIX = "judge:"
#: How the export reaches a candidate's verdict, the default first: votes counted (``share``) or
#: weighed by each annotator's reliability (``dawid-skene``; :class:`brun_label.exporters.pairs.Gates`).
CONSENSUS = ("share", "dawid-skene")

#: Who wrote a candidate's text, or its judge scores (``source``, ``judge_source``): ``model`` (an
#: LLM, named by ``model`` / ``judge_model``) or ``hand-written`` (a person, e.g. the bundled
#: examples: a hand-written candidate names no ``model``). Absent: not recorded.
SOURCES = ("model", "hand-written")

_SAMPLE_KEYS = {"id", "category", "prompt", "metadata", "candidates", "judge", "judge_model", "judge_source",
                "judge_confidence", "judge_order"}
_CANDIDATE_KEYS = {"id", "text", "model", "persona", "arc", "judge", "judge_model", "params", "source", "judge_source",
                   "judge_confidence"}


class SampleError(ValueError):
    """A problem with one field of one sample; ``field`` is a dotted path like ``candidates[1].text``."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Message:
    """One chat message of a prompt."""

    role: str
    content: str


@dataclass(frozen=True)
class Candidate:
    """One drafted reply to a scenario."""

    id: str
    text: str
    model: str | None = None
    persona: str | None = None
    arc: str | None = None
    judge: Mapping[str, Any] | None = None
    judge_model: str | None = None
    params: Mapping[str, Any] | None = None
    #: Per judged question, how far the judge's answer can be trusted: ``{"logprob": …,
    #: "consistent": …, "calibrated": …}`` (see :mod:`brun_label.importers.judge`).
    judge_confidence: Mapping[str, Any] | None = None
    #: Who wrote ``text``: ``model`` or ``hand-written`` (:data:`SOURCES`); None: not recorded.
    source: str | None = None
    #: Who wrote ``judge``: ``model`` (the LLM ``judge_model``) or ``hand-written``.
    judge_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form, leaving out fields that are not set."""
        out: dict[str, Any] = {"id": self.id, "text": self.text}
        for key in ("source", "model", "persona", "arc", "judge", "judge_source", "judge_model", "params",
                    "judge_confidence"):
            value = getattr(self, key)
            if value is not None:
                out[key] = dict(value) if isinstance(value, Mapping) else value
        return out


@dataclass(frozen=True)
class Sample:
    """A scenario with its drafted candidates."""

    id: str
    category: str
    prompt: str | tuple[Message, ...]
    candidates: tuple[Candidate, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)
    judge: Mapping[str, Any] | None = None
    judge_model: str | None = None
    #: Who wrote the item-level ``judge`` answers (like :attr:`Candidate.judge_source`).
    judge_source: str | None = None
    #: Confidence of the item-level judge answers (like :attr:`Candidate.judge_confidence`).
    judge_confidence: Mapping[str, Any] | None = None
    #: The candidate ids in the order the judge was shown them (its positions, for position bias).
    judge_order: tuple[str, ...] | None = None

    def messages(self) -> list[dict[str, str]]:
        """Return the prompt as chat messages (a string prompt becomes one user turn)."""
        if isinstance(self.prompt, str):
            return [{"role": "user", "content": self.prompt}]
        return [{"role": m.role, "content": m.content} for m in self.prompt]

    def prompt_text(self) -> str:
        """Return the prompt as plain text (the last user turn for a chat prompt)."""
        if isinstance(self.prompt, str):
            return self.prompt
        users = [m.content for m in self.prompt if m.role == "user"]
        return users[-1] if users else self.prompt[-1].content

    def candidate(self, candidate_id: str) -> Candidate:
        """Return the candidate with this id (``KeyError`` when there is none)."""
        for cand in self.candidates:
            if cand.id == candidate_id:
                return cand
        raise KeyError(candidate_id)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (the sample file format)."""
        out: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "prompt": self.prompt if isinstance(self.prompt, str) else self.messages(),
        }
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        out["candidates"] = [c.to_dict() for c in self.candidates]
        if self.judge is not None:
            out["judge"] = dict(self.judge)
        if self.judge_source is not None:
            out["judge_source"] = self.judge_source
        if self.judge_model is not None:
            out["judge_model"] = self.judge_model
        if self.judge_confidence is not None:
            out["judge_confidence"] = dict(self.judge_confidence)
        if self.judge_order is not None:
            out["judge_order"] = list(self.judge_order)
        return out


def content_hash(value: Any, length: int = 12) -> str:
    """Return a short, stable hex digest of a JSON-able value.

    >>> content_hash({"b": 1, "a": [1, 2]}) == content_hash({"a": [1, 2], "b": 1})
    True
    """
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:length]


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _opt_str(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    if _is_blank(value):
        return None
    if not isinstance(value, str):
        raise SampleError(f"{path}{key}", f"must be a string, got {type(value).__name__}")
    return value


def _opt_mapping(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
    value = obj.get(key)
    if _is_blank(value):
        return None
    if not isinstance(value, Mapping):
        raise SampleError(f"{path}{key}", f"must be an object, got {type(value).__name__}")
    return dict(value)


def _source(obj: Mapping[str, Any], key: str, path: str) -> str | None:
    value = _opt_str(obj, key, path)
    if value is not None and value not in SOURCES:
        raise SampleError(f"{path}{key}", f"must be {' or '.join(SOURCES)}, got {value!r}")
    if value == "hand-written" and key == "source" and not _is_blank(obj.get("model")):
        raise SampleError(f"{path}model", "a hand-written candidate names no model (leave model out)")
    if value is not None and key == "judge_source" and _is_blank(obj.get("judge")):
        raise SampleError(f"{path}{key}", "there are no judge scores to attribute")
    return value


def _parse_prompt(value: Any) -> str | tuple[Message, ...]:
    if _is_blank(value):
        raise SampleError("prompt", "is missing")
    if isinstance(value, str):
        if not value.strip():
            raise SampleError("prompt", "is empty")
        return value
    if not isinstance(value, Sequence) or isinstance(value, bytes):
        raise SampleError(
            "prompt", f"must be a string or a list of messages, got {type(value).__name__}"
        )
    if not value:
        raise SampleError("prompt", "is an empty list of messages")
    messages = []
    for i, msg in enumerate(value):
        where = f"prompt[{i}]"
        if not isinstance(msg, Mapping):
            raise SampleError(where, f"must be an object with role and content, got {type(msg).__name__}")
        role, content = msg.get("role"), msg.get("content")
        if role not in ROLES:
            raise SampleError(f"{where}.role", f"must be one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise SampleError(f"{where}.content", "must be a string")
        messages.append(Message(role=role, content=content))
    if not any(m.role == "user" for m in messages):
        raise SampleError("prompt", "has no user message")
    return tuple(messages)


def _parse_candidate(value: Any, index: int) -> Candidate:
    path = f"candidates[{index}]."
    if not isinstance(value, Mapping):
        raise SampleError(f"candidates[{index}]", f"must be an object, got {type(value).__name__}")
    unknown = sorted(set(value) - _CANDIDATE_KEYS)
    if unknown:
        raise SampleError(f"{path}{unknown[0]}", "is not a known candidate field")
    text = value.get("text")
    if _is_blank(text):
        raise SampleError(f"{path}text", "is missing")
    if not isinstance(text, str):
        raise SampleError(f"{path}text", f"must be a string, got {type(text).__name__}")
    if not text.strip():
        raise SampleError(f"{path}text", "is empty")
    cid = value.get("id")
    if _is_blank(cid):
        cid = "c-" + content_hash(text, 10)
    elif isinstance(cid, int) and not isinstance(cid, bool):
        cid = str(cid)
    elif not isinstance(cid, str) or not cid.strip():
        raise SampleError(f"{path}id", "must be a non-empty string")
    return Candidate(
        id=cid,
        text=text,
        model=_opt_str(value, "model", path),
        persona=_opt_str(value, "persona", path),
        arc=_opt_str(value, "arc", path),
        judge=_opt_mapping(value, "judge", path),
        judge_model=_opt_str(value, "judge_model", path),
        params=_opt_mapping(value, "params", path),
        judge_confidence=_opt_mapping(value, "judge_confidence", path),
        source=_source(value, "source", path),
        judge_source=_source(value, "judge_source", path),
    )


def sample_from_dict(obj: Any) -> Sample:
    """Build a :class:`Sample` from its JSON form, raising :class:`SampleError` on the first problem.

    >>> sample_from_dict({"prompt": "hi", "candidates": [{"text": "a"}]})
    Traceback (most recent call last):
    ...
    brun_label.model.SampleError: candidates: needs at least 2 candidates, got 1
    """
    if not isinstance(obj, Mapping):
        raise SampleError("(sample)", f"must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - _SAMPLE_KEYS)
    if unknown:
        raise SampleError(unknown[0], "is not a known sample field")
    prompt = _parse_prompt(obj.get("prompt"))
    category = obj.get("category")
    if _is_blank(category):
        category = "default"
    if not isinstance(category, str) or not category.strip():
        raise SampleError("category", "must be a non-empty string")
    metadata = _opt_mapping(obj, "metadata", "") or {}
    raw = obj.get("candidates")
    if _is_blank(raw):
        raise SampleError("candidates", "is missing")
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise SampleError("candidates", f"must be a list, got {type(raw).__name__}")
    if len(raw) < 2:
        raise SampleError("candidates", f"needs at least 2 candidates, got {len(raw)}")
    candidates = tuple(_parse_candidate(c, i) for i, c in enumerate(raw))
    seen: dict[str, int] = {}
    for i, cand in enumerate(candidates):
        if cand.id in seen:
            raise SampleError(
                f"candidates[{i}].id", f"duplicate candidate id {cand.id!r} (also candidates[{seen[cand.id]}])"
            )
        seen[cand.id] = i
    sid = obj.get("id")
    if _is_blank(sid):
        prompt_json: Any = prompt if isinstance(prompt, str) else [m.__dict__ for m in prompt]
        sid = "s-" + content_hash({"category": category, "prompt": prompt_json})
    elif isinstance(sid, int) and not isinstance(sid, bool):
        sid = str(sid)
    elif not isinstance(sid, str) or not sid.strip():
        raise SampleError("id", "must be a non-empty string")
    return Sample(
        id=sid,
        category=category,
        prompt=prompt,
        candidates=candidates,
        metadata=metadata,
        judge=_opt_mapping(obj, "judge", ""),
        judge_model=_opt_str(obj, "judge_model", ""),
        judge_source=_source(obj, "judge_source", ""),
        judge_confidence=_opt_mapping(obj, "judge_confidence", ""),
        judge_order=_judge_order(obj.get("judge_order"), seen),
    )


def _judge_order(value: Any, ids: Mapping[str, int]) -> tuple[str, ...] | None:
    """Check ``judge_order``: every candidate id once, in the order the judge saw them."""
    if _is_blank(value):
        return None
    if not isinstance(value, Sequence) or isinstance(value, str | bytes) or not all(isinstance(v, str) for v in value):
        raise SampleError("judge_order", "must be a list of candidate ids")
    if sorted(value) != sorted(ids):
        raise SampleError("judge_order", f"must list each candidate id once, got {list(value)!r}")
    return tuple(value)


def _trusted(judge: Mapping[str, Any] | None, confidence: Mapping[str, Any] | None,
             min_confidence: float | None) -> tuple[dict[str, Any] | None, int]:
    if judge is None:
        return None, 0
    kept: dict[str, Any] = {}
    for q, value in judge.items():
        entry = (confidence or {}).get(q)
        entry = entry if isinstance(entry, Mapping) else {}
        calibrated = entry.get("calibrated")
        if entry.get("consistent") is False or (min_confidence is not None and (
                not isinstance(calibrated, int | float) or calibrated < min_confidence)):
            continue
        kept[q] = value
    return kept, len(judge) - len(kept)


def trusted_judge(sample: Sample, min_confidence: float | None = None) -> tuple[Sample, int]:
    """Return ``sample`` without the judge answers that must not be pushed, and how many were dropped.

    An answer is dropped when the swap check found it inconsistent (``consistent`` false), and,
    with ``min_confidence``, when its calibrated confidence is below it or unknown. The samples
    file keeps every answer; this is what push sends.

    >>> s = sample_from_dict({"id": "s1", "prompt": "hi", "judge": {"preference": "a"},
    ...     "judge_confidence": {"preference": {"consistent": False}},
    ...     "candidates": [{"id": "a", "text": "x", "judge": {"tone": 0, "flags": []},
    ...                     "judge_confidence": {"tone": {"calibrated": 0.9}, "flags": {"calibrated": 0.4}}},
    ...                    {"id": "b", "text": "y"}]})
    >>> out, dropped = trusted_judge(s, 0.8)
    >>> out.judge, out.candidates[0].judge, dropped
    ({}, {'tone': 0}, 2)
    """
    from dataclasses import replace

    dropped = 0
    cands = []
    for c in sample.candidates:
        kept, n = _trusted(c.judge, c.judge_confidence, min_confidence)
        dropped += n
        cands.append(replace(c, judge=kept) if n else c)
    kept, n = _trusted(sample.judge, sample.judge_confidence, min_confidence)
    dropped += n
    if not dropped:
        return sample, 0
    return replace(sample, candidates=tuple(cands), judge=kept), dropped


def candidate_label(index: int) -> str:
    """Return the letter annotators see for the candidate in this position (0 → ``A``).

    >>> [candidate_label(i) for i in range(3)], candidate_label(27)
    (['A', 'B', 'C'], 'AB')
    """
    label = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        label = chr(65 + rem) + label
    return label
