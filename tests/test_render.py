"""The rubric renderers: Label Studio XML (checked in) and Argilla settings."""

import html
from dataclasses import replace
from importlib import resources
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from label_studio_sdk.label_interface import LabelInterface

from brun_label.render_argilla import render_argilla
from brun_label.render_label_studio import render_label_studio, task_data_keys
from brun_label.rubric import rubric_from_dict
from brun_label.rubrics import load_rubric, pack_names


@pytest.mark.parametrize("name", pack_names())
def test_checked_in_xml_matches_the_renderer(name):
    shipped = resources.files("brun_label.label_configs").joinpath(f"{name}.xml").read_text()
    assert shipped == render_label_studio(load_rubric(name), n_candidates=2), (
        f"label_configs/{name}.xml is stale: brun-label rubric show {name} --format label-studio"
        f" > label_configs/{name}.xml"
    )


@pytest.mark.parametrize("name", pack_names())
@pytest.mark.parametrize("n", [2, 4])
def test_label_studio_config_is_valid_and_complete(name, n):
    rubric = load_rubric(name)
    xml = render_label_studio(rubric, n_candidates=n)
    li = LabelInterface(xml)  # raises on invalid configs
    controls = {c.name for c in li.controls}
    expected = {f"{q.name}_{chr(97 + i)}" for q in rubric.questions if q.scope == "candidate" for i in range(n)}
    expected |= {q.name for q in rubric.questions if q.scope == "item"}
    assert controls == expected
    data_vars = {v.lstrip("$") for v in (el.get("value") for el in ElementTree.fromstring(xml).iter("Text")) if v}
    assert data_vars == set(task_data_keys(n)) - {"category"}


def test_scale_choices_store_the_raw_value_as_alias():
    root = ElementTree.fromstring(render_label_studio(load_rubric("de-escalation")))
    tone = next(c for c in root.iter("Choices") if c.get("name") == "tone_zone_a")
    assert [ch.get("alias") for ch in tone.iter("Choice")] == ["-2", "-1", "0", "1", "2"]
    assert tone.get("choice") == "single-radio"
    flags = next(c for c in root.iter("Choices") if c.get("name") == "liability_flags_a")
    assert flags.get("choice") == "multiple"
    pref = next(c for c in root.iter("Choices") if c.get("name") == "preference")
    assert [ch.get("alias") for ch in pref.iter("Choice")] == ["a", "b", "tie", "both_bad"]


def _offline_argilla():
    """Argilla's Settings objects insist on a client; give them one that never connects."""
    import argilla as rg
    from argilla.client import Argilla

    client = object.__new__(Argilla)
    client.api = SimpleNamespace(fields=None, questions=None, vectors=None, metadata=None)
    return rg, client


@pytest.mark.parametrize("name", pack_names())
def test_argilla_settings_load_and_respect_limits(name, monkeypatch):
    rg, client = _offline_argilla()
    monkeypatch.setattr(rg.Argilla, "_default_client", client, raising=False)
    raw = render_argilla(load_rubric(name), n_candidates=3, min_submitted=3)
    settings = rg.Settings._from_dict(raw)
    assert settings.distribution.min_submitted == 3
    names = [q.name for q in settings.questions]
    assert all(n == n.lower() for n in names) and len(set(names)) == len(names)
    for q in raw["questions"]:
        if q["type"] == "rating":
            assert all(0 <= o["value"] <= 10 for o in q["settings"]["options"])
    assert [f.name for f in settings.fields] == ["prompt", "candidate_a", "candidate_b", "candidate_c", "guidelines"]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_every_slot_is_a_real_candidate_on_both_platforms(n):
    """A project/dataset holds samples with exactly n candidates: every slot's questions are required."""
    rubric = load_rubric("de-escalation")
    root = ElementTree.fromstring(render_label_studio(rubric, n_candidates=n))
    required = {c.get("name"): c.get("required") for c in root.iter("Choices")}
    assert all(required[f"tone_zone_{chr(97 + i)}"] == "true" for i in range(n))
    assert not any(name.endswith(f"_{chr(97 + n)}") for name in required)
    pref = next(c for c in root.iter("Choices") if c.get("name") == "preference")
    assert [ch.get("alias") for ch in pref.iter("Choice")][:n] == [chr(97 + i) for i in range(n)]
    assert len(list(pref.iter("Choice"))) == n + 2  # tie and both/all bad
    settings = render_argilla(rubric, n_candidates=n)
    qs = {q["name"]: q["required"] for q in settings["questions"]}
    assert all(qs[f"tone_zone_{chr(97 + i)}"] for i in range(n)) and qs["preference"]
    assert f"tone_zone_{chr(97 + n)}" not in qs
    assert all(f["required"] for f in settings["fields"] if f["name"] != "guidelines")
    pref_opts = next(q for q in settings["questions"] if q["name"] == "preference")["settings"]["options"]
    assert [o["value"] for o in pref_opts][:n] == [chr(97 + i) for i in range(n)]


@pytest.mark.parametrize("name", pack_names())
@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_hotkeys_never_collide_and_reach_every_keyed_question(name, n):
    rubric = load_rubric(name)
    root = ElementTree.fromstring(render_label_studio(rubric, n_candidates=n))
    keys = [ch.get("hotkey") for ch in root.iter("Choice") if ch.get("hotkey")]
    assert len(keys) == len(set(keys)), "two choices share a hotkey"
    reserved = {"u", "ctrl+enter", "ctrl+space", "ctrl+z", "alt+h", "alt+l", "alt+m", "alt+r", "alt+."}
    assert not reserved & set(keys)
    pref = rubric.preference_question()
    by_control = {c.get("name"): [ch.get("hotkey") for ch in c.iter("Choice")] for c in root.iter("Choices")}
    assert all(by_control[pref.name]), "every preference option has a key"
    zone = next(q for q in rubric.questions if q.scope == "candidate" and q.type in ("scale", "choice", "flags"))
    for i in range(min(n, 4)):
        assert all(by_control[f"{zone.name}_{chr(97 + i)}"]), f"slot {i} has no zone keys"
    side = " ".join(h.get("value") for h in root.iter("Header"))
    assert "Hotkeys:" in side and "ctrl+enter submits" in side


def test_rubric_texts_are_shown_as_written():
    """Label Studio substitutes $name in static texts with task data; rubric texts must not be."""
    rubric = load_rubric("de-escalation")
    hostile = replace(rubric, guidelines="Offer $prompt or <script>x()</script>", questions=tuple(
        replace(q, title="$candidate_a <img src=x onerror=alert(1)>") if q.name == "tone_zone" else q
        for q in rubric.questions))
    xml = render_label_studio(hostile, n_candidates=2)
    root = ElementTree.fromstring(xml)  # still well-formed XML: the texts are attribute values
    values = [h.get("value") for h in root.iter("Header")]
    assert "Offer $\u200bprompt or <script>x()</script>" in values
    assert "$\u200bcandidate_a <img src=x onerror=alert(1)>" in values
    assert "<script>" not in xml and "<img" not in xml


def _options_rubric(n_options):
    return rubric_from_dict({"name": "big", "questions": [
        {"name": "topic", "type": "choice", "options": [f"o{i}" for i in range(n_options)]},
        {"name": "pref", "type": "preference"}]})


def test_rendering_is_linear_in_the_number_of_options(monkeypatch):
    """Counted, not timed: each option costs a fixed number of attribute quotings and option lookups."""
    import brun_label.render_label_studio as rls
    from brun_label.rubric import Question

    calls = {"quote": 0, "lookup": 0}
    real_quote, real_option = rls.quoteattr, Question.option

    def quote(*args, **kwargs):
        calls["quote"] += 1
        return real_quote(*args, **kwargs)

    def option(self, value):
        calls["lookup"] += 1
        return real_option(self, value)

    monkeypatch.setattr(rls, "quoteattr", quote)
    monkeypatch.setattr(Question, "option", option)
    counts = []
    for n in (1_000, 2_000, 4_000):
        calls.update(quote=0, lookup=0)
        render_label_studio(_options_rubric(n), n_candidates=2)
        render_argilla(_options_rubric(n), n_candidates=2)
        counts.append(calls["quote"])
        assert calls["lookup"] == 0, "an option lookup per option scans the options: quadratic"
    assert counts[2] - counts[1] == 2 * (counts[1] - counts[0])


_texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=60)


@settings(max_examples=150, deadline=None)
@given(title=_texts, hint=_texts, guidelines=_texts)
def test_any_rubric_text_renders_to_valid_xml_and_reads_as_written(title, hint, guidelines):
    import re as _re

    rubric = load_rubric("de-escalation")
    text = _re.sub(r"[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", title)  # not representable in XML 1.0
    hint = _re.sub(r"[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", hint)
    guidelines = _re.sub(r"[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", guidelines)
    hostile = replace(rubric, guidelines=guidelines, questions=tuple(
        replace(q, title=text or "t", options=tuple(replace(o, hint=hint or None) for o in q.options))
        if q.name == "tone_zone" else q for q in rubric.questions))
    root = ElementTree.fromstring(render_label_studio(hostile, n_candidates=2))
    headers = [h.get("value") for h in root.iter("Header")]
    # the renderer adds zero-width spaces (after "$"); compare both sides without them
    assert (text or "t").replace("\u200b", "") in [v.replace("\u200b", "") for v in headers]
    for value in headers + [c.get("hint") or "" for c in root.iter("Choice")]:
        value = value.removesuffix(" ($category)")  # the one substitution the config means
        assert not _re.search(r"\$[\w\[\].{}]", value), "Label Studio would substitute task data here"


@given(_texts)
def test_argilla_field_text_shows_exactly_the_characters_written(text):
    import html as _html

    from brun_label.render_argilla import field_text

    shown = field_text(text)
    assert "<" not in shown and ">" not in shown
    assert _html.unescape(shown) == text


@settings(max_examples=100, deadline=None)
@given(guidelines=st.text(max_size=80))
def test_argilla_guidelines_carry_no_html_and_no_links(guidelines):
    from brun_label.render_argilla import guidelines_markdown

    shown = guidelines_markdown(guidelines)
    assert "<" not in shown and ">" not in shown
    assert "[" not in shown.replace("\\[", "") and "]" not in shown.replace("\\]", "")
    # what the annotator reads is what the rubric says
    assert html.unescape(shown.replace("\\[", "[").replace("\\]", "]")) == guidelines
