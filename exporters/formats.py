"""The shapes of exported examples, one per format, and their published JSON Schemas.

Pure core (no files written here). Formats:

``trl``        TRL's standard preference format: ``{"prompt": str, "chosen": str, "rejected": str}``.
``trl-chat``   TRL's conversational format: ``prompt`` is the list of prompt messages (system, user
               and earlier turns), ``chosen``/``rejected`` one assistant message each.
``openai``     OpenAI's preference fine-tuning JSONL: ``{"input": {"messages": [...]},
               "preferred_output": [...], "non_preferred_output": [...]}`` and no other key.
``kto``        TRL's unpaired format: ``{"prompt": str, "completion": str, "label": bool}``.
``parquet``    the ``trl`` columns plus the provenance columns, one Parquet file.
``hf``         the same columns as a ``datasets.DatasetDict`` saved with ``save_to_disk``.

Provenance (:data:`PAIR_PROVENANCE`, :data:`KTO_PROVENANCE`) goes in extra columns for
``parquet``/``hf``, in extra keys for ``trl``/``trl-chat``/``kto`` with ``inline=True``, and in a
``<output>.provenance.jsonl`` sidecar otherwise (always for ``openai``, which allows no other key).

A chat prompt with more than one message becomes one string in the string formats (``trl``,
``kto``, ``parquet``, ``hf``): the system message, then each turn as ``User: ...`` /
``Assistant: ...`` when there is history. Use ``trl-chat`` or ``openai`` to keep the messages.

Examples
--------
>>> from brun_label.model import sample_from_dict
>>> s = sample_from_dict({"id": "s1", "prompt": "Refund me now!",
...     "candidates": [{"id": "a", "text": "I hear you."}, {"id": "b", "text": "No."}]})
>>> pair_record("trl", s, s.candidate("a"), s.candidate("b"))
{'prompt': 'Refund me now!', 'chosen': 'I hear you.', 'rejected': 'No.'}
>>> pair_record("openai", s, s.candidate("a"), s.candidate("b"))["non_preferred_output"]
[{'role': 'assistant', 'content': 'No.'}]
>>> sorted(load_schema("openai")["required"])
['input', 'non_preferred_output', 'preferred_output']
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from brun_label.model import Candidate, Sample

#: Every ``--format``.
FORMATS = ("trl", "trl-chat", "openai", "kto", "parquet", "hf")
#: Formats written as JSON Lines (each has a published schema).
JSONL_FORMATS = ("trl", "trl-chat", "openai", "kto")
#: Formats whose extra keys may carry provenance (``--provenance inline``).
INLINE_OK = ("trl", "trl-chat", "kto")
#: Formats stored as tables, always with provenance columns.
TABLE_FORMATS = ("parquet", "hf")
#: Provenance fields of a pair, in order. ``*_source`` is who wrote the reply (``model`` or
#: ``hand-written``, None when the sample file does not say) and ``*_model`` the model that
#: wrote it (None for hand-written text): see :func:`reply_provenance`.
PAIR_PROVENANCE = (
    "sample_id", "chosen_id", "rejected_id", "category", "n_annotators", "agreement", "margin",
    "n_preference_votes", "preference_share", "rubric", "rubric_version",
    "chosen_source", "chosen_model", "rejected_source", "rejected_model", "adjudicated_by",
)
#: Provenance fields of an unpaired (KTO) example, in order.
KTO_PROVENANCE = (
    "sample_id", "candidate_id", "label", "category", "n_annotators", "agreement", "rubric",
    "rubric_version", "source", "model",
)
_SCHEMA_NAMES = (*JSONL_FORMATS, "provenance")


def load_schema(name: str) -> dict[str, Any]:
    """Return the published JSON Schema of a JSONL format, or of the provenance sidecar.

    >>> load_schema("trl")["additionalProperties"]
    False
    >>> load_schema("csv")
    Traceback (most recent call last):
    ...
    ValueError: no schema named 'csv' (have trl, trl-chat, openai, kto, provenance)
    """
    if name not in _SCHEMA_NAMES:
        raise ValueError(f"no schema named {name!r} (have {', '.join(_SCHEMA_NAMES)})")
    text = (
        resources.files("brun_label.exporters").joinpath("schemas", f"{name}.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


def prompt_string(sample: Sample) -> str:
    """Return the prompt as one string (see the module docstring for chat prompts).

    >>> from brun_label.model import sample_from_dict
    >>> s = sample_from_dict({"prompt": [{"role": "system", "content": "Be calm."},
    ...     {"role": "user", "content": "Where is my order?"}],
    ...     "candidates": [{"text": "a"}, {"text": "b"}]})
    >>> print(prompt_string(s))
    Be calm.
    <BLANKLINE>
    Where is my order?
    """
    if isinstance(sample.prompt, str):
        return sample.prompt
    msgs = sample.messages()
    system = [m["content"] for m in msgs if m["role"] == "system"]
    turns = [m for m in msgs if m["role"] != "system"]
    if len(turns) == 1:
        body = [turns[0]["content"]]
    else:
        body = [f"{m['role'].capitalize()}: {m['content']}" for m in turns]
    return "\n\n".join([*system, *body])


def reply_provenance(candidate: Candidate) -> tuple[str | None, str | None]:
    """Return ``(source, model)`` of a reply, as the provenance records them.

    A hand-written reply never names a model, whatever else the file says; a reply whose
    source is not recorded keeps its ``model`` (it may have been drafted by a model).

    >>> from brun_label.model import Candidate
    >>> reply_provenance(Candidate("a", "hi", model="gpt-4o-mini", source="model"))
    ('model', 'gpt-4o-mini')
    >>> reply_provenance(Candidate("b", "hi", source="hand-written")), reply_provenance(Candidate("c", "hi"))
    (('hand-written', None), (None, None))
    """
    if candidate.source == "hand-written":
        return "hand-written", None
    return candidate.source, candidate.model


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def pair_record(fmt: str, sample: Sample, chosen: Candidate, rejected: Candidate) -> dict[str, Any]:
    """Return one pair in ``fmt`` (``trl``, ``trl-chat``, ``openai``, ``parquet`` or ``hf``)."""
    if fmt in ("trl", "parquet", "hf"):
        return {"prompt": prompt_string(sample), "chosen": chosen.text, "rejected": rejected.text}
    if fmt == "trl-chat":
        return {"prompt": sample.messages(), "chosen": _assistant(chosen.text), "rejected": _assistant(rejected.text)}
    if fmt == "openai":
        return {
            "input": {"messages": sample.messages()},
            "preferred_output": _assistant(chosen.text),
            "non_preferred_output": _assistant(rejected.text),
        }
    raise ValueError(f"{fmt!r} is not a pair format")


def kto_record(sample: Sample, candidate: Candidate, label: bool) -> dict[str, Any]:
    """Return one unpaired example in TRL's KTO format.

    >>> from brun_label.model import sample_from_dict
    >>> s = sample_from_dict({"prompt": "hi", "candidates": [{"id": "a", "text": "hello"}, {"text": "b"}]})
    >>> kto_record(s, s.candidate("a"), True)
    {'prompt': 'hi', 'completion': 'hello', 'label': True}
    """
    return {"prompt": prompt_string(sample), "completion": candidate.text, "label": bool(label)}
