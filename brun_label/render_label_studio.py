"""Render a :class:`~brun_label.rubric.Rubric` to a Label Studio labeling config (XML).

Pure core. The layout is made for comparing replies on a laptop screen (1366x768): the scenario on
top, the candidates side by side (two or three columns, a 2x2 grid for four, more wrap to the next
row), each with its own questions under its text, the item-level questions (preference,
rationale) right below the row of candidates, and a side column with the guidelines and the
hotkeys. Every slot of a config is a real candidate: a project holds the samples with exactly
``n_candidates`` candidates (push puts samples with another count in a sibling project, see
:func:`brun_label.layout.count_targets`), so every shown candidate's required questions are
required and the preference offers exactly the shown candidates. Label Studio's open-source
edition has no data-driven visibility (``visibleWhen`` reacts to the annotator's own choices
only), so one config cannot show a different number of slots per task.

Hotkeys (:func:`hotkeys`) are mnemonic and never collide: each candidate slot owns a keyboard row
(A ``1 2 3 …``, B ``q w e …``, C ``a s d …``, D ``z x c …``); the rubric's first per-candidate choice
question (the tone zone) takes the row's plain keys in option order, the second one (the flags)
the same keys with ``shift``; the preference takes ``alt`` + the candidate's letter, ``alt+t``
for a tie and ``alt+x`` for both/all bad. Keys Label Studio uses itself (``u``, ``ctrl+…``) are
left out. Slots past the fourth, and questions past the second, are answered with clicks.

Every text that comes from the rubric file (titles, descriptions, hints, guidelines) is shown
as text: Label Studio substitutes ``$name`` with task data in static texts, so a ``$`` is
followed by a zero-width space (:func:`static_text`) and no XML is built by hand.

Rendering is linear in the number of options: 20,000 options render in one pass (see
``bench/bench_render.py``).

Examples
--------
>>> from brun_label.rubric import rubric_from_dict
>>> r = rubric_from_dict({"name": "m", "questions": [
...     {"name": "tone", "type": "scale", "options": [{"value": -1, "label": "Soft"},
...                                                   {"value": 0, "label": "In zone"}]}]})
>>> xml = render_label_studio(r, n_candidates=2)
>>> '<Choices name="tone_b" toName="candidate_b"' in xml
True
>>> '<Choice value="-1 Soft" alias="-1" hotkey="q"' in xml
True
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.sax.saxutils import quoteattr

from brun_label.model import candidate_label
from brun_label.rubric import Option, Question, Rubric, preference_options, slot_name

#: Keyboard row of each candidate slot (A, B, C, D). ``u`` is Label Studio's own "unselect region".
SLOT_ROWS = ("1234567890", "qwertyiop", "asdfghjkl", "zxcvbnm")
#: Modifier of the first and second per-candidate choice question.
QUESTION_MODIFIERS = ("", "shift+")
#: Preference keys besides ``alt`` + a candidate letter.
PREFERENCE_KEYS = {"tie": "alt+t", "both_bad": "alt+x"}

_STYLE = (
    # Label Studio's regions/info side panels are empty for this config: give their width back.
    ".lsf-sidepanels__wrapper_align_right { display: none !important; }"
    " .lsf-sidepanels { padding-right: 0 !important; }"
    " .brun-page .lsf-choices { display: flex !important; flex-wrap: wrap; column-gap: 12px; row-gap: 0; }"
    " .brun-page .lsf-choice__item, .brun-page .lsf-choice__checkbox, .brun-page .lsf-choice__radio"
    " { min-height: 0 !important; height: auto !important; line-height: 1.25 !important; margin: 1px 0 !important; }"
    " .brun-page { display: flex; gap: 12px; align-items: flex-start; font-size: 13px; }"
    " .brun-main { flex: 1 1 auto; min-width: 0; }"
    " .brun-side { flex: 0 0 220px; color: #444; border-left: 1px solid #d0d7de; padding-left: 10px;"
    " max-height: 600px; overflow-y: auto; }"
    " .brun-page h4 { margin: 2px 0 !important; font-size: 13px !important; line-height: 1.3 !important; }"
    " .brun-side h4 { font-size: 12px !important; font-weight: normal !important; margin: 0 0 6px 0 !important; }"
    " .brun-scenario { background: #f6f8fa; border-radius: 6px; padding: 2px 10px; margin-bottom: 6px;"
    " max-height: 140px; overflow-y: auto; }"
    " .brun-grid { display: grid; gap: 8px; }"
    " .brun-cols-2 { grid-template-columns: repeat(2, minmax(0, 1fr)); }"
    " .brun-cols-3 { grid-template-columns: repeat(3, minmax(0, 1fr)); }"
    " .brun-candidate { border: 1px solid #d0d7de; border-radius: 6px; padding: 2px 8px; }"
    " .brun-reply { max-height: 150px; overflow-y: auto; border-bottom: 1px dashed #d0d7de; margin-bottom: 2px; }"
    " .brun-item { border-top: 2px solid #d0d7de; margin-top: 6px; padding-top: 2px; }"
    # Narrower columns (3) and two rows of candidates (4+): shorter boxes keep the preference near.
    " .brun-many-3 .brun-reply { max-height: 110px; } .brun-many-3 .brun-scenario { max-height: 110px; }"
    " .brun-many-4 .brun-reply { max-height: 80px; } .brun-many-4 .brun-scenario { max-height: 100px; }"
)

_DOLLAR_WORD = re.compile(r"\$(?=[\w\[\].{}])")


def static_text(text: str) -> str:
    """Return ``text`` so Label Studio shows it as written: no ``$name`` task-data substitution.

    Label Studio replaces ``$word`` in static texts by the task's data (``"$5 refund"`` would show
    ``undefined refund``); a zero-width space after the ``$`` keeps the text as written.

    >>> static_text("Offer $5 or 10$") == "Offer $\\u200b5 or 10$"
    True
    """
    return _DOLLAR_WORD.sub("$\u200b", text)


def task_data_keys(n_candidates: int) -> list[str]:
    """Return the task ``data`` keys the config reads.

    >>> task_data_keys(2)
    ['prompt', 'category', 'candidate_a', 'candidate_b']
    """
    return ["prompt", "category"] + [f"candidate_{candidate_label(i).lower()}" for i in range(n_candidates)]


def _attrs(**attrs: object) -> str:
    return " ".join(f"{k}={quoteattr(str(v))}" for k, v in attrs.items() if v is not None)


def option_text(question: Question, opt: Option) -> str:
    """Return the visible text of one option (a scale's shows its signed number first).

    >>> from brun_label.rubric import Question, Option
    >>> option_text(Question("t", "scale", "T"), Option(2, "Firm"))
    '+2 Firm'
    """
    if question.type == "scale":
        value = opt.value
        number = f"{value:+d}" if isinstance(value, int) and value > 0 else str(value)
        return f"{number} {opt.label}"
    return opt.label


def choice_value(question: Question, value: int | str) -> str:
    """Return the visible ``value`` of a Label Studio ``<Choice>`` (its ``alias`` is the raw value).

    >>> from brun_label.rubric import Question, Option
    >>> choice_value(Question("t", "scale", "T", options=(Option(-2, "Doormat"),)), -2)
    '-2 Doormat'
    """
    return option_text(question, question.option(value))


def _keyed(q: Question) -> bool:
    return q.type in ("scale", "choice", "flags")


def hotkeys(rubric: Rubric, n_candidates: int) -> dict[str, dict[str, str]]:
    """Return ``{control name: {option value (as text): key}}`` for every question that has keys.

    >>> from brun_label.rubrics import load_rubric
    >>> keys = hotkeys(load_rubric("de-escalation"), 2)
    >>> keys["tone_zone_a"]["0"], keys["tone_zone_b"]["-2"], keys["liability_flags_b"]["admits_fault"]
    ('3', 'q', 'shift+q')
    >>> keys["preference"]
    {'a': 'alt+a', 'b': 'alt+b', 'tie': 'alt+t', 'both_bad': 'alt+x'}
    """
    out: dict[str, dict[str, str]] = {}
    keyed = [q for q in rubric.questions if q.scope == "candidate" and _keyed(q)][: len(QUESTION_MODIFIERS)]
    for slot in range(min(n_candidates, len(SLOT_ROWS))):
        row = SLOT_ROWS[slot]
        for modifier, q in zip(QUESTION_MODIFIERS, keyed, strict=False):
            if len(q.options) <= len(row):
                out[slot_name(q.name, slot)] = {str(o.value): modifier + row[i] for i, o in enumerate(q.options)}
    pref = rubric.preference_question()
    if pref is not None and pref.scope == "item":
        keys = {}
        for value, _label in preference_options(n_candidates):
            key = PREFERENCE_KEYS.get(value) or (f"alt+{value}" if len(value) == 1 else None)
            if key is not None:
                keys[value] = key
        out[pref.name] = keys
    return out


def hotkey_legend(rubric: Rubric, n_candidates: int) -> list[str]:
    """Return one line per keyed question: which keys answer it (for the instructions and the view).

    >>> from brun_label.rubrics import load_rubric
    >>> hotkey_legend(load_rubric("de-escalation"), 2)[0]
    'Tone zone of A: 1-5 (in option order)'
    >>> hotkey_legend(load_rubric("de-escalation"), 2)[-1]
    'Which reply would you send?: alt+a = A, alt+b = B, alt+t = tie, alt+x = both bad; ctrl+enter submits'
    """
    keys = hotkeys(rubric, n_candidates)
    lines = []
    for slot in range(n_candidates):
        for q in rubric.questions:
            name = slot_name(q.name, slot)
            if q.scope == "candidate" and name in keys:
                ks = list(keys[name].values())
                lines.append(f"{q.title} of {candidate_label(slot)}: {ks[0]}-{ks[-1][-1]} (in option order)")
    pref = rubric.preference_question()
    if pref is not None and pref.name in keys:
        labels = {"tie": "tie", "both_bad": "both bad" if n_candidates == 2 else "all bad"}
        parts = [f"{k} = {labels.get(v, v.upper())}" for v, k in keys[pref.name].items()]
        lines.append(f"{pref.title}: {', '.join(parts)}; ctrl+enter submits")
    return lines


def _question_xml(
    q: Question, name: str, to_name: str, n_candidates: int, keys: dict[str, str] | None
) -> Iterator[str]:
    title = q.title if q.description is None else f"{q.title}: {q.description}"
    yield f"<Header {_attrs(value=static_text(title), size='6')}/>"
    required = "true" if q.required else None
    keys = keys or {}
    if q.type in ("scale", "choice", "flags"):
        kind = "multiple" if q.type == "flags" else "single-radio"
        yield f"<Choices {_attrs(name=name, toName=to_name, choice=kind, showInline='true', required=required)}>"
        for opt in q.options:
            hint = static_text(opt.hint) if opt.hint else None
            attrs = _attrs(value=static_text(option_text(q, opt)), alias=str(opt.value),
                           hotkey=keys.get(str(opt.value)), hint=hint)
            yield f"  <Choice {attrs}/>"
        yield "</Choices>"
    elif q.type == "rating":
        assert q.min is not None and q.max is not None
        if q.min == 1:
            yield f"<Rating {_attrs(name=name, toName=to_name, maxRating=q.max, required=required)}/>"
        else:  # Label Studio's Rating always starts at 1: fall back to choices.
            attrs = _attrs(name=name, toName=to_name, choice="single-radio", showInline="true", required=required)
            yield f"<Choices {attrs}>"
            for v in range(q.min, q.max + 1):
                yield f"  <Choice {_attrs(value=str(v), alias=str(v))}/>"
            yield "</Choices>"
    elif q.type == "preference":
        attrs = _attrs(name=name, toName=to_name, choice="single-radio", showInline="true", required=required)
        yield f"<Choices {attrs}>"
        for value, label in preference_options(n_candidates):
            yield f"  <Choice {_attrs(value=label, alias=value, hotkey=keys.get(value))}/>"
        yield "</Choices>"
    elif q.type == "text":
        attrs = _attrs(name=name, toName=to_name, rows=2, maxSubmissions=1, editable="true", required=required)
        yield f"<TextArea {attrs}/>"
    else:  # pragma: no cover - rubric validation rules this out
        raise ValueError(f"unknown question type {q.type}")


def guideline_paragraphs(text: str) -> list[str]:
    """Split guidelines into paragraphs of plain text (``**``/``*`` emphasis marks dropped).

    >>> guideline_paragraphs("Read **all**\\nreplies.\\n\\nPick *one*.")
    ['Read all replies.', 'Pick one.']
    """
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        line = " ".join(part.strip() for part in para.splitlines())
        line = re.sub(r"\*\*(.+?)\*\*", r"\1", line)
        line = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", line)
        if line:
            out.append(line)
    return out


def _columns(n_candidates: int) -> int:
    return 2 if n_candidates in (2, 4) else 3


def render_label_studio(rubric: Rubric, *, n_candidates: int = 2) -> str:
    """Return the Label Studio XML config for ``rubric`` with ``n_candidates`` candidate slots."""
    if n_candidates < 2:
        raise ValueError("n_candidates must be at least 2")
    keys = hotkeys(rubric, n_candidates)
    out: list[str] = []

    def add(indent: int, lines: Iterator[str] | list[str]) -> None:
        pad = "  " * indent
        out.extend(pad + line for line in lines)

    page_class = "brun-page" + ("" if n_candidates == 2 else f" brun-many-{min(n_candidates, 4)}")
    add(0, ["<View>", f"  <Style>{_STYLE}</Style>", f"  <View {_attrs(className=page_class)}>"])
    add(2, [f"<View {_attrs(className='brun-main')}>", f"  <View {_attrs(className='brun-scenario')}>"])
    add(4, [f"<Header {_attrs(value=static_text(rubric.prompt_title) + ' ($category)', size='5')}/>",
            f"<Text {_attrs(name='prompt', value='$prompt')}/>"])
    add(3, ["</View>", f"<View {_attrs(className=f'brun-grid brun-cols-{_columns(n_candidates)}')}>"])
    for i in range(n_candidates):
        letter = candidate_label(i)
        field = f"candidate_{letter.lower()}"
        add(4, [f"<View {_attrs(className='brun-candidate')}>",
                f"  <Header {_attrs(value='Candidate ' + letter, size='5')}/>",
                f"  <View {_attrs(className='brun-reply')}>",
                f"    <Text {_attrs(name=field, value='$' + field)}/>",
                "  </View>"])
        for q in rubric.questions:
            if q.scope == "candidate":
                name = slot_name(q.name, i)
                add(5, _question_xml(q, name, field, n_candidates, keys.get(name)))
        add(4, ["</View>"])
    add(3, ["</View>"])
    item_qs = [q for q in rubric.questions if q.scope == "item"]
    if item_qs:
        add(3, [f"<View {_attrs(className='brun-item')}>"])
        for q in item_qs:
            add(4, _question_xml(q, q.name, "prompt", n_candidates, keys.get(q.name)))
        add(3, ["</View>"])
    add(2, ["</View>", f"<View {_attrs(className='brun-side')}>"])
    side = [static_text(p) for p in guideline_paragraphs(rubric.guidelines or rubric.description)]
    legend = hotkey_legend(rubric, n_candidates)
    if legend:
        side += ["Hotkeys:"] + [static_text(line) for line in legend]
    add(3, [f"<Header {_attrs(value=p, size='6')}/>" for p in side])
    add(2, ["</View>"])
    add(0, ["  </View>", "</View>"])
    return "\n".join(out) + "\n"
