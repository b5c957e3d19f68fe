"""Render a :class:`~brun_label.rubric.Rubric` to a Label Studio labeling config (XML).

Pure core. The config shows the scenario, then each candidate in its own box with its
per-candidate questions, then the item-level questions (preference, rationale). Task data keys:
``prompt``, ``category``, ``candidate_a``, ``candidate_b``… (see :func:`task_data_keys`).

Examples
--------
>>> from brun_label.rubric import rubric_from_dict
>>> r = rubric_from_dict({"name": "m", "questions": [
...     {"name": "tone", "type": "scale", "options": [{"value": -1, "label": "Soft"},
...                                                   {"value": 0, "label": "In zone"}]}]})
>>> xml = render_label_studio(r, n_candidates=2)
>>> '<Choices name="tone_b" toName="candidate_b"' in xml
True
>>> '<Choice value="-1 Soft" alias="-1"' in xml
True
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from brun_label.model import candidate_label
from brun_label.rubric import Question, Rubric, preference_options, slot_name

_STYLE = (
    ".brun-scenario { background: #f6f8fa; border-radius: 6px; padding: 8px 12px; }"
    " .brun-candidate { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px;"
    " margin: 12px 0; }"
    " .brun-item { border-top: 2px solid #d0d7de; margin-top: 12px; padding-top: 8px; }"
)


def task_data_keys(n_candidates: int) -> list[str]:
    """Return the task ``data`` keys the config reads.

    >>> task_data_keys(2)
    ['prompt', 'category', 'candidate_a', 'candidate_b']
    """
    return ["prompt", "category"] + [f"candidate_{candidate_label(i).lower()}" for i in range(n_candidates)]


def _attrs(**attrs: object) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items() if v is not None)


def choice_value(question: Question, value: int | str) -> str:
    """Return the visible ``value`` of a Label Studio ``<Choice>`` (its ``alias`` is the raw value).

    >>> from brun_label.rubric import Question, Option
    >>> choice_value(Question("t", "scale", "T", options=(Option(-2, "Doormat"),)), -2)
    '-2 Doormat'
    """
    if question.type == "scale":
        opt = question.option(value)
        number = f"{value:+d}" if isinstance(value, int) and value > 0 else str(value)
        return f"{number} {opt.label}"
    return question.option(value).label


def _question_xml(
    q: Question, name: str, to_name: str, n_candidates: int, indent: str, *, optional: bool = False
) -> list[str]:
    title = q.title if q.description is None else f"{q.title}: {q.description}"
    lines = [f"{indent}<Header {_attrs(value=title, size='6')}/>"]
    required = "true" if q.required and not optional else None
    if q.type in ("scale", "choice", "flags"):
        kind = "multiple" if q.type == "flags" else "single-radio"
        lines.append(
            f"{indent}<Choices {_attrs(name=name, toName=to_name, choice=kind, showInline='true', required=required)}>"
        )
        for opt in q.options:
            lines.append(
                f"{indent}  <Choice {_attrs(value=choice_value(q, opt.value), alias=str(opt.value), hint=opt.hint)}/>"
            )
        lines.append(f"{indent}</Choices>")
    elif q.type == "rating":
        assert q.min is not None and q.max is not None
        if q.min == 1:
            lines.append(
                f"{indent}<Rating {_attrs(name=name, toName=to_name, maxRating=q.max, required=required)}/>"
            )
        else:  # Label Studio's Rating always starts at 1: fall back to choices.
            lines.append(
                f"{indent}<Choices {_attrs(name=name, toName=to_name, choice='single-radio', showInline='true', required=required)}>"
            )
            for v in range(q.min, q.max + 1):
                lines.append(f"{indent}  <Choice {_attrs(value=str(v), alias=str(v))}/>")
            lines.append(f"{indent}</Choices>")
    elif q.type == "preference":
        lines.append(
            f"{indent}<Choices {_attrs(name=name, toName=to_name, choice='single-radio', showInline='true', required=required)}>"
        )
        for value, label in preference_options(n_candidates):
            lines.append(f"{indent}  <Choice {_attrs(value=label, alias=value)}/>")
        lines.append(f"{indent}</Choices>")
    elif q.type == "text":
        lines.append(
            f"{indent}<TextArea {_attrs(name=name, toName=to_name, rows=3, maxSubmissions=1, editable='true', required=required)}/>"
        )
    else:  # pragma: no cover - rubric validation rules this out
        raise ValueError(f"unknown question type {q.type}")
    return lines


def render_label_studio(rubric: Rubric, *, n_candidates: int = 2) -> str:
    """Return the Label Studio XML config for ``rubric`` with ``n_candidates`` candidate slots."""
    if n_candidates < 2:
        raise ValueError("n_candidates must be at least 2")
    out = ["<View>", f"  <Style>{_STYLE}</Style>"]
    out.append(f"  <View {_attrs(className='brun-scenario')}>")
    out.append(f"    <Header {_attrs(value=rubric.prompt_title + ' ($category)', size='4')}/>")
    out.append(f"    <Text {_attrs(name='prompt', value='$prompt')}/>")
    out.append("  </View>")
    for i in range(n_candidates):
        letter = candidate_label(i)
        field = f"candidate_{letter.lower()}"
        out.append(f"  <View {_attrs(className='brun-candidate')}>")
        out.append(f"    <Header {_attrs(value='Candidate ' + letter, size='5')}/>")
        out.append(f"    <Text {_attrs(name=field, value='$' + field)}/>")
        for q in rubric.questions:
            if q.scope == "candidate":
                # Slots past the second may be empty for samples with fewer candidates: optional.
                out.extend(_question_xml(q, slot_name(q.name, i), field, n_candidates, "    ", optional=i >= 2))
        out.append("  </View>")
    item_qs = [q for q in rubric.questions if q.scope == "item"]
    if item_qs:
        out.append(f"  <View {_attrs(className='brun-item')}>")
        for q in item_qs:
            out.extend(_question_xml(q, q.name, "prompt", n_candidates, "    "))
        out.append("  </View>")
    out.append("</View>")
    return "\n".join(out) + "\n"
