"""Render a :class:`~brun_label.rubric.Rubric` to Argilla 2.x dataset settings.

Pure core: returns the dict that ``argilla.Settings.serialize()`` produces (and
``argilla.Settings._from_dict`` / ``Settings.from_json`` load), so that no SDK is imported here.
Argilla's limits are respected: lowercase names, rating values within 0–10. A ``scale`` is
rendered as a label question whose label values are the scale's integers as text (``"-2"``), so
its meaning survives the round trip whatever Argilla stores.

Examples
--------
>>> from brun_label.rubric import rubric_from_dict
>>> r = rubric_from_dict({"name": "m", "questions": [
...     {"name": "tone", "type": "scale", "options": [{"value": -1, "label": "Soft"},
...                                                   {"value": 0, "label": "In zone"}]},
...     {"name": "pref", "type": "preference"}]})
>>> s = render_argilla(r, n_candidates=2)
>>> [q["name"] for q in s["questions"]]
['tone_a', 'tone_b', 'pref']
>>> s["questions"][0]["settings"]["options"][0]
{'text': '-1 Soft', 'value': '-1'}
>>> s["distribution"]
{'strategy': 'overlap', 'min_submitted': 1}
"""

from __future__ import annotations

import html
from typing import Any

from brun_label.model import candidate_label
from brun_label.render_label_studio import option_text
from brun_label.rubric import Question, Rubric, preference_options, slot_name


def _question(q: Question, name: str, title: str, n_candidates: int) -> dict[str, Any]:
    settings: dict[str, Any]
    if q.type in ("scale", "choice", "preference"):
        if q.type == "preference":
            opts = [{"text": label, "value": value} for value, label in preference_options(n_candidates)]
        else:
            opts = [{"text": option_text(q, o), "value": str(o.value)} for o in q.options]
        settings = {"type": "label_selection", "options": opts, "visible_options": None}
    elif q.type == "flags":
        opts = [{"text": o.label, "value": str(o.value)} for o in q.options]
        settings = {
            "type": "multi_label_selection",
            "options": opts,
            "visible_options": None,
            "options_order": "natural",
        }
    elif q.type == "rating":
        settings = {"type": "rating", "options": [{"value": v} for v in q.values()]}
    elif q.type == "text":
        settings = {"type": "text", "use_markdown": False}
    else:  # pragma: no cover - rubric validation rules this out
        raise ValueError(f"unknown question type {q.type}")
    description = q.description
    if q.type == "scale":
        hints = "; ".join(f"{option_text(q, o)}: {o.hint}" for o in q.options if o.hint)
        description = " ".join(x for x in (description, hints) if x) or None
    return {
        "name": name,
        "title": title,
        "description": description,
        "required": q.required,
        "settings": settings,
        "type": settings["type"],
    }


def field_text(text: str) -> str:
    """Return ``text`` as the value of a non-markdown Argilla text field, shown as written.

    Argilla's annotation page puts a non-markdown field into the page as HTML (``innerHTML``, or a
    same-origin ``srcdoc`` frame when it looks like HTML), so a ``<script>`` or ``<img onerror>``
    in an LLM reply would run with the annotator's session. Escaping ``&``, ``<`` and ``>`` makes the
    browser show exactly the characters written and run nothing.

    >>> field_text("<img src=x onerror=alert(1)> & co")
    '&lt;img src=x onerror=alert(1)&gt; &amp; co'
    """
    return html.escape(text, quote=False)


#: The record field that repeats the guidelines on every record (not a platform field name clash:
#: candidate fields are ``candidate_*``).
GUIDELINES_FIELD = "guidelines"


def guidelines_markdown(text: str) -> str:
    r"""The rubric's guidelines as Argilla's (Markdown) guidelines panel may show them: emphasis kept,
    no HTML and no links or images (a rubric is a user file: untrusted).

    >>> print(guidelines_markdown('**Tone**: <img src=x onerror="alert(1)"> see [here](javascript:x) & ![i](http://t/x)'))
    **Tone**: &lt;img src=x onerror="alert(1)"&gt; see \[here\](javascript:x) &amp; !\[i\](http://t/x)
    """
    return html.escape(text, quote=False).replace("[", "\\[").replace("]", "\\]")


def guidelines_text(rubric: Rubric) -> str:
    """The guidelines as plain paragraphs, for the record field an annotator reads.

    >>> from brun_label.rubrics import load_rubric
    >>> guidelines_text(load_rubric("de-escalation")).split("\\n\\n")[1][:30]
    'Tone zone (bipolar): -2 is a d'
    """
    from brun_label.render_label_studio import guideline_paragraphs

    return "\n\n".join(guideline_paragraphs(rubric.guidelines or rubric.description or rubric.title))


def argilla_field_names(n_candidates: int) -> list[str]:
    """Return the record field names (``prompt`` and one per candidate slot).

    >>> argilla_field_names(3)
    ['prompt', 'candidate_a', 'candidate_b', 'candidate_c', 'guidelines']
    """
    return ["prompt"] + [f"candidate_{candidate_label(i).lower()}" for i in range(n_candidates)] + [GUIDELINES_FIELD]


def render_argilla(rubric: Rubric, *, n_candidates: int = 2, min_submitted: int = 1) -> dict[str, Any]:
    """Return Argilla settings (the ``Settings.serialize()`` dict) for ``rubric``."""
    if n_candidates < 2:
        raise ValueError("n_candidates must be at least 2")
    if min_submitted < 1:
        raise ValueError("min_submitted must be at least 1")
    fields: list[dict[str, Any]] = [
        {
            "name": "prompt",
            "title": rubric.prompt_title,
            "required": True,
            "description": None,
            "settings": {"type": "text", "use_markdown": False},
            "type": "text",
        }
    ]
    questions: list[dict[str, Any]] = []
    for i in range(n_candidates):
        letter = candidate_label(i)
        fields.append(
            {
                "name": f"candidate_{letter.lower()}",
                "title": f"Candidate {letter}",
                "required": True,
                "description": None,
                "settings": {"type": "text", "use_markdown": False},
                "type": "text",
            }
        )
    fields.append(
        {
            # Argilla keeps the dataset's guidelines in a collapsed panel: each record repeats
            # them under the candidates, in the pane the annotator reads (see guidelines_text).
            "name": GUIDELINES_FIELD,
            "title": "How to rate",
            "required": False,
            "description": None,
            "settings": {"type": "text", "use_markdown": False},
            "type": "text",
        }
    )
    for i in range(n_candidates):
        letter = candidate_label(i)
        for q in rubric.questions:
            if q.scope == "candidate":
                questions.append(_question(q, slot_name(q.name, i), f"{letter}: {q.title}", n_candidates))
    for q in rubric.questions:
        if q.scope == "item":
            questions.append(_question(q, q.name, q.title, n_candidates))
    guidelines = guidelines_markdown(rubric.guidelines.strip() or rubric.description.strip() or rubric.title)
    return {
        "guidelines": guidelines,
        "questions": questions,
        "fields": fields,
        "vectors": [],
        "metadata": [
            {
                "name": "category",
                "title": "Category",
                "settings": {"type": "terms", "values": None, "visible_for_annotators": True},
                "visible_for_annotators": True,
            }
        ],
        "allow_extra_metadata": True,
        "distribution": {"strategy": "overlap", "min_submitted": min_submitted},
        "mapping": None,
    }
