"""The bundled sample files are valid, consistent with their rubric, and shaped as documented."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from brun_label.data import names, sample_path
from brun_label.errors import InputError
from brun_label.importers.samples import read_samples, validate_samples
from brun_label.model import sample_from_dict
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric
from brun_label.rubrics import load_rubric, pack_names

SAMPLE_FILES = ["de-escalation", "project-architect", "socratic-mentor", "deal-closer"]
SCENARIO_FILES = ["scenarios-de-escalation"]
DEESC_PERSONAS = {"Diplomatic_Firmness", "Over_Apologetic_Doormat", "Defensive_Robot_Lawyer"}
DEESC_CATEGORIES = {"customer_complaint", "hr_complaint", "pr_crisis"}
SCENARIO_KEYS = {"id", "category", "prompt", "metadata"}
MIN_WORDS, MAX_WORDS = 60, 180


def _records(name: str) -> list[dict[str, Any]]:
    lines = sample_path(name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    text = resources.files("brun_label").joinpath("sample.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _scenario_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The sample schema without candidates or judge answers: what a scenario may hold."""
    out = copy.deepcopy(schema)
    out["required"] = [k for k in out["required"] if k != "candidates"]
    for key in ("candidates", "judge", "judge_model", "judge_source"):
        del out["properties"][key]
    return out


def test_names_lists_every_bundled_file() -> None:
    on_disk = sorted(p.stem for p in Path(str(resources.files("brun_label.data"))).glob("*.jsonl"))
    assert names() == on_disk == sorted(SAMPLE_FILES + SCENARIO_FILES)
    for name in names():
        assert sample_path(name).is_file()
        assert sample_path(name + ".jsonl") == sample_path(name)


def test_unknown_name_is_a_one_line_input_error() -> None:
    with pytest.raises(InputError, match="no bundled sample file named 'missing'"):
        sample_path("missing")


def test_every_sample_pack_has_a_rubric() -> None:
    assert set(SAMPLE_FILES) <= set(pack_names())


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_file_validates_with_zero_problems(name: str) -> None:
    report = validate_samples(sample_path(name))
    assert [p.render() for p in report.problems] == []
    assert report.ok
    assert report.n_valid == report.n_records == len(_records(name))


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_file_matches_the_json_schema(name: str, schema: dict[str, Any]) -> None:
    validator = _validator(schema)
    for lineno, rec in enumerate(_records(name), start=1):
        errors = [e.message for e in validator.iter_errors(rec)]
        assert errors == [], f"{name}.jsonl:{lineno}: {errors}"


@pytest.mark.parametrize("name", SAMPLE_FILES + SCENARIO_FILES)
def test_ids_are_explicit_and_unique(name: str) -> None:
    records = _records(name)
    ids = [r.get("id") for r in records]
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == len(ids), Counter(ids).most_common(3)
    for rec in records:
        cids = [c.get("id") for c in rec.get("candidates", [])]
        # Candidate ids are explicit, stable and derived from the sample id: <sample id>-a, -b, ...
        assert cids == [f"{rec['id']}-{chr(97 + i)}" for i in range(len(cids))]


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_candidates_are_full_drafts_with_provenance(name: str) -> None:
    for rec in _records(name):
        texts = [c["text"] for c in rec["candidates"]]
        assert len(set(texts)) == len(texts), rec["id"]
        for cand in rec["candidates"]:
            n_words = len(re.findall(r"\S+", cand["text"]))
            assert MIN_WORDS <= n_words <= MAX_WORDS, (cand["id"], n_words)
            assert cand.get("persona") and cand.get("arc"), cand["id"]
        personas = [c["persona"] for c in rec["candidates"]]
        assert len(set(personas)) == len(personas), rec["id"]


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_bundled_samples_claim_no_model_that_did_not_write_them(name: str) -> None:
    """The bundled replies and judge scores were written by hand: they say so and name no model."""
    samples = read_samples(sample_path(name))
    for s in samples:
        for c in s.candidates:
            assert (c.source, c.model) == ("hand-written", None), c.id
            if c.judge is not None:
                assert (c.judge_source, c.judge_model) == ("hand-written", "hand-written"), c.id
        if s.judge is not None:
            assert (s.judge_source, s.judge_model) == ("hand-written", "hand-written"), s.id
    for rec in _records(name):  # the file itself, not only what the parser keeps
        assert "model" not in json.dumps([sorted(c) for c in rec["candidates"]]).replace("judge_model", "")


def test_a_hand_written_candidate_naming_a_model_is_refused(schema: dict[str, Any]) -> None:
    from brun_label.model import SampleError

    rec = _records("de-escalation")[0]
    bad = copy.deepcopy(rec)
    bad["candidates"][0]["model"] = "gpt-4o-mini"
    with pytest.raises(SampleError, match=r"candidates\[0\]\.model: a hand-written candidate names no model"):
        sample_from_dict(bad)
    assert list(_validator(schema).iter_errors(bad)), "the schema refuses it too"
    unknown = copy.deepcopy(rec)
    unknown["candidates"][1]["source"] = "person"
    with pytest.raises(SampleError, match=r"candidates\[1\]\.source: must be model or hand-written"):
        sample_from_dict(unknown)
    assert list(_validator(schema).iter_errors(unknown))
    orphan = copy.deepcopy(rec)
    orphan["candidates"][0].pop("judge", None)
    orphan["candidates"][0]["judge_source"] = "model"
    with pytest.raises(SampleError, match="judge_source: there are no judge scores"):
        sample_from_dict(orphan)
    assert list(_validator(schema).iter_errors(orphan))


def test_de_escalation_shape() -> None:
    samples = read_samples(sample_path("de-escalation"))
    assert len(samples) == 24
    assert {s.category for s in samples} == DEESC_CATEGORIES
    for s in samples:
        assert 3 <= len(s.candidates) <= 4, s.id
        assert {c.persona for c in s.candidates} >= DEESC_PERSONAS, s.id
        assert {"channel", "severity"} <= set(s.metadata), s.id
    chat_with_system = [
        s for s in samples if not isinstance(s.prompt, str) and s.prompt[0].role == "system"
    ]
    plain = [s for s in samples if isinstance(s.prompt, str)]
    assert len(chat_with_system) >= 6 and plain
    arcs = {c.arc for s in samples for c in s.candidates}
    assert "Hostility_to_Collaboration" in arcs
    judged = [s for s in samples if s.judge is not None]
    assert 0.4 <= len(judged) / len(samples) <= 0.6
    for s in judged:
        assert all(c.judge is not None for c in s.candidates), s.id


@pytest.mark.parametrize("name", ["project-architect", "socratic-mentor", "deal-closer"])
def test_other_packs_shape(name: str) -> None:
    samples = read_samples(sample_path(name))
    assert len(samples) == 10
    assert all(len(s.candidates) == 3 for s in samples)
    # The same three personas in every sample, so annotators always see the full contrast.
    persona_sets = {frozenset(c.persona for c in s.candidates) for s in samples}
    assert len(persona_sets) == 1
    assert any(s.judge is not None for s in samples)


def _check_answer(question: Question, value: Any, where: str) -> None:
    if question.type == "flags":
        assert isinstance(value, list), where
        assert len(set(value)) == len(value), where
        assert set(value) <= set(question.values()), (where, value)
    else:
        assert value in question.values(), (where, value)
        assert isinstance(value, type(question.values()[0])), where


def _judged_questions(rubric: Rubric, scope: str) -> dict[str, Question]:
    return {q.name: q for q in rubric.questions if q.scope == scope and q.type != "text"}


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_judge_answers_are_valid_rubric_options(name: str) -> None:
    rubric = load_rubric(name)
    per_candidate = _judged_questions(rubric, "candidate")
    per_item = _judged_questions(rubric, "item")
    n_judged = 0
    for s in read_samples(sample_path(name)):
        for cand in s.candidates:
            if cand.judge is None:
                continue
            n_judged += 1
            assert cand.judge_model, cand.id
            # A judge answers every candidate question it is asked (flags may be an empty list).
            assert set(cand.judge) == set(per_candidate), cand.id
            for key, value in cand.judge.items():
                _check_answer(per_candidate[key], value, f"{cand.id}.judge.{key}")
        if s.judge is None:
            continue
        assert s.judge_model, s.id
        assert set(s.judge) == set(per_item), s.id
        for key, value in s.judge.items():
            question = per_item[key]
            if question.type == "preference":
                assert value in {c.id for c in s.candidates} | {TIE, BOTH_BAD}, (s.id, value)
            else:
                _check_answer(question, value, f"{s.id}.judge.{key}")
    assert n_judged > 0


def test_de_escalation_judge_is_plausible_but_not_always_right() -> None:
    samples = [s for s in read_samples(sample_path("de-escalation")) if s.judge is not None]
    preferred = [s.candidate(s.judge["preference"]).persona for s in samples]
    # Mostly the in-zone reply (or the collaborative one), never blindly the same persona.
    assert preferred.count("Diplomatic_Firmness") >= len(samples) // 2
    assert len(set(preferred)) > 1
    zone_by_persona: dict[str, list[int]] = {}
    for s in samples:
        for c in s.candidates:
            assert c.judge is not None and c.persona is not None
            zone_by_persona.setdefault(c.persona, []).append(c.judge["tone_zone"])
    # The judge places the doormat below the zone and the robot lawyer above it ...
    assert max(zone_by_persona["Over_Apologetic_Doormat"]) < 0
    assert min(zone_by_persona["Defensive_Robot_Lawyer"]) > 0
    # ... but it sometimes misses by one step, which the judge-vs-human report should catch.
    assert any(v not in (-2, 0, 2) for vs in zone_by_persona.values() for v in vs)


@pytest.mark.parametrize("name", SCENARIO_FILES)
def test_scenario_files_have_no_candidates(name: str, schema: dict[str, Any]) -> None:
    validator = _validator(_scenario_schema(schema))
    records = _records(name)
    assert len(records) == 12
    for lineno, rec in enumerate(records, start=1):
        assert set(rec) <= SCENARIO_KEYS, f"{name}.jsonl:{lineno}: {sorted(set(rec) - SCENARIO_KEYS)}"
        errors = [e.message for e in validator.iter_errors(rec)]
        assert errors == [], f"{name}.jsonl:{lineno}: {errors}"
        # The rest of a scenario parses exactly like a sample's.
        placeholder = [{"text": "x"}, {"text": "y"}]
        parsed = sample_from_dict({**rec, "candidates": placeholder})
        assert parsed.id == rec["id"]
        assert parsed.category in DEESC_CATEGORIES


def test_scenarios_differ_from_the_samples() -> None:
    samples = read_samples(sample_path("de-escalation"))
    scenarios = [sample_from_dict({**r, "candidates": [{"text": "x"}, {"text": "y"}]})
                 for r in _records("scenarios-de-escalation")]
    assert {s.id for s in samples}.isdisjoint({s.id for s in scenarios})
    assert {s.prompt_text() for s in samples}.isdisjoint({s.prompt_text() for s in scenarios})
    assert {s.category for s in scenarios} == DEESC_CATEGORIES
    assert any(not isinstance(s.prompt, str) for s in scenarios)


def test_bundled_files_fit_their_rubric_packs():
    from brun_label.rubrics import load_rubric

    for pack in ("de-escalation", "deal-closer", "project-architect", "socratic-mentor"):
        path = resources.files("brun_label.data") / f"{pack}.jsonl"
        report = validate_samples(str(path), rubric=load_rubric(pack))
        assert report.ok, [p.render() for p in report.problems]


def test_a_model_judging_a_bundled_sample_replaces_the_hand_written_scores_and_their_label() -> None:
    from brun_label.importers.judge import Judgement, apply_judgement

    s = next(s for s in read_samples(sample_path("de-escalation")) if s.judge is not None)
    scores = {c.id: {"tone_zone": 0, "liability_flags": []} for c in s.candidates[:1]}
    judged = apply_judgement(s, Judgement(candidates=scores, item={"preference": s.candidates[0].id}), "gpt-4o")
    first, second = judged.candidates[0], judged.candidates[1]
    assert (first.judge_source, first.judge_model, first.judge) == ("model", "gpt-4o", scores[first.id])
    assert (second.judge_source, second.judge_model) == ("hand-written", "hand-written")  # not re-judged
    assert (judged.judge_source, judged.judge_model) == ("model", "gpt-4o")
    assert first.source == "hand-written" and first.model is None  # judging never changes who wrote it
    assert sample_from_dict(judged.to_dict()) == judged
