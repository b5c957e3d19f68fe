"""The rubric renderers: Label Studio XML (checked in) and Argilla settings."""

from importlib import resources
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
from label_studio_sdk.label_interface import LabelInterface

from brun_label.render_argilla import render_argilla
from brun_label.render_label_studio import render_label_studio, task_data_keys
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
    assert [f.name for f in settings.fields] == ["prompt", "candidate_a", "candidate_b", "candidate_c"]


def test_slots_past_the_second_are_optional_on_both_platforms():
    """A 3-candidate sample in a 4-slot project must be submittable: slot D may be empty."""
    rubric = load_rubric("de-escalation")
    root = ElementTree.fromstring(render_label_studio(rubric, n_candidates=4))
    required = {c.get("name"): c.get("required") for c in root.iter("Choices")}
    assert required["tone_zone_a"] == required["tone_zone_b"] == "true"
    assert required["tone_zone_c"] is None and required["tone_zone_d"] is None
    qs = {q["name"]: q["required"] for q in render_argilla(rubric, n_candidates=4)["questions"]}
    assert qs["tone_zone_a"] and qs["tone_zone_b"] and not qs["tone_zone_c"] and not qs["tone_zone_d"]
    assert qs["preference"]
