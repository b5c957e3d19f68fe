"""Tests of the LLM judge: the rubric's JSON schema, answer checking, storage, and ``judge``."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from brun_label.cli import cli
from brun_label.importers.judge import (
    JUDGE_ORDER_SEED,
    JudgeAnswerError,
    JudgeOptions,
    apply_judgement,
    judge_body,
    judge_schema,
    parse_judgement,
)
from brun_label.importers.samples import read_samples
from brun_label.layout import candidate_order
from brun_label.model import Sample, sample_from_dict
from brun_label.rubric import BOTH_BAD, TIE, Rubric
from brun_label.rubrics import load_rubric
from tests.fake_openai_server import FakeOpenAIServer, schema_instance

RUBRICS = ["de-escalation", "deal-closer", "project-architect", "socratic-mentor"]


def make_sample(sid: str = "s1", n: int = 2) -> Sample:
    texts = ["I'm so sorry, this is all our fault, full refund today!",
             "I understand how disruptive this is. Here is what happens next.",
             "Per section 4.2 of our terms, no refund is due.",
             "Thanks for flagging. Ticket 123 is open."]
    return sample_from_dict({"id": sid, "category": "refund", "prompt": "You deleted my invoices!",
                             "candidates": [{"id": f"{sid}-c{i}", "text": f"{texts[i]} ({sid})", "persona": f"P{i}"}
                                            for i in range(n)]})


def write_samples(path: Path, n: int, per: int = 2) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(make_sample(f"s{i}", per).to_dict()) + "\n")
    return path


def _strict_ok(schema: dict[str, Any]) -> None:
    """OpenAI strict mode: every object closes its properties and requires them all."""
    if schema.get("type") == "object":
        assert schema["additionalProperties"] is False
        assert sorted(schema["required"]) == sorted(schema["properties"])
        for sub in schema["properties"].values():
            _strict_ok(sub)
    if schema.get("type") == "array":
        _strict_ok(schema["items"])


# -- schema ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", RUBRICS)
@pytest.mark.parametrize("n", [2, 4])
def test_schema_is_valid_strict_and_round_trips(name: str, n: int) -> None:
    rubric = load_rubric(name)
    schema = judge_schema(rubric, n)
    jsonschema.Draft202012Validator.check_schema(schema)
    _strict_ok(schema)
    sample = make_sample("x", n)
    order = candidate_order(sample, seed=JUDGE_ORDER_SEED)
    for seed in range(8):  # answers generated from the schema always pass the rubric check
        answer = schema_instance(schema, bytes([seed]))
        jsonschema.validate(answer, schema)
        j = parse_judgement(rubric, json.dumps(answer), order)
        assert set(j.candidates) == {c.id for c in sample.candidates}
        for scores in j.candidates.values():
            for q in rubric.questions:
                if q.scope == "candidate" and q.type != "text":
                    value = scores[q.name]
                    if q.type == "flags":
                        assert value == sorted(set(value)) and set(value) <= set(q.values())
                    else:
                        assert value in q.values()
        pref = rubric.preference_question()
        assert pref is not None
        assert j.item[pref.name] in [c.id for c in sample.candidates] + [TIE, BOTH_BAD]


def test_schema_asks_what_each_rubric_needs() -> None:
    dc = judge_schema(load_rubric("deal-closer"), 2)
    assert dc["properties"]["objection_type"]["enum"] == ["price", "procurement", "security", "competitor", "timing", "other"]
    assert "rationale" not in dc["properties"]  # free text is never asked
    pa = judge_schema(load_rubric("project-architect"), 3)
    cand = pa["properties"]["candidates"]["properties"]["C"]["properties"]
    assert cand["actionability"]["enum"] == [1, 2, 3, 4, 5]
    assert cand["planning_flags"]["type"] == "array"
    assert pa["properties"]["preference"]["enum"] == ["a", "b", "c", "tie", "both_bad"]


def test_request_body_uses_structured_output_and_shuffled_letters() -> None:
    rubric = load_rubric("de-escalation")
    sample = make_sample("s9", 4)
    body, order = judge_body(rubric, sample, JudgeOptions(model="gpt-4o", seed=3))
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["name"] == "de-escalation_judgement"
    assert body["model"] == "gpt-4o" and body["seed"] == 3 and body["temperature"] == 0.0
    assert sorted(order) == sorted(c.id for c in sample.candidates)
    user = body["messages"][1]["content"]
    for i, cid in enumerate(order):
        assert f"Reply {'ABCD'[i]}:\n{sample.candidate(cid).text}" in user
    system = body["messages"][0]["content"]
    assert "admits_fault" in system and "Doormat" in system and "both_bad" in system
    assert judge_body(rubric, sample, JudgeOptions())[1] == judge_body(rubric, sample, JudgeOptions())[1]


# -- checking answers --------------------------------------------------------------------------
def _answer(**item: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"candidates": {"A": {"tone_zone": 0, "liability_flags": []},
                                           "B": {"tone_zone": 2, "liability_flags": ["blames_customer"]}},
                            "preference": "a"}
    base.update(item)
    return base


@pytest.mark.parametrize(("answer", "message"), [
    ("not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps(_answer(preference="c")), "preference: 'c' is not one of"),
    (json.dumps(_answer(candidates={"A": {"tone_zone": 0}})), "candidates.B: missing"),
    (json.dumps(_answer(candidates={"A": {"tone_zone": 5}, "B": {"tone_zone": 0}})), "candidates.A.tone_zone: 5"),
    (json.dumps(_answer(candidates={"A": {"tone_zone": True}, "B": {"tone_zone": 0}})), "candidates.A.tone_zone: True"),
    (json.dumps(_answer(candidates={"A": {"tone_zone": 0, "liability_flags": ["rude"]},
                                    "B": {"tone_zone": 0}})), "liability_flags: ['rude']"),
    (json.dumps({"candidates": _answer()["candidates"]}), "preference: missing"),
])
def test_answers_that_do_not_fit_the_rubric_are_rejected(answer: str, message: str) -> None:
    with pytest.raises(JudgeAnswerError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_judgement(load_rubric("de-escalation"), answer, ["c1", "c2"])


def test_lenient_with_servers_without_structured_output() -> None:
    rubric = load_rubric("de-escalation")
    raw = {"candidates": {"a": {"tone_zone": "-1", "liability_flags": "admits_fault"},
                          "b": {"tone_zone": 1.0}}, "preference": "TIE"}
    j = parse_judgement(rubric, "```json\n" + json.dumps(raw) + "\n```", ["c1", "c2"])
    assert j.candidates == {"c1": {"tone_zone": -1, "liability_flags": ["admits_fault"]},
                            "c2": {"tone_zone": 1, "liability_flags": []}}
    assert j.item == {"preference": "tie"}


def test_letters_map_back_to_candidate_ids_and_scores_are_stored() -> None:
    rubric = load_rubric("de-escalation")
    sample = make_sample("s1", 2)
    j = parse_judgement(rubric, json.dumps(_answer(preference="b")), ["s1-c1", "s1-c0"])
    assert j.item == {"preference": "s1-c0"}
    judged = apply_judgement(sample, j, "gpt-4o")
    assert judged.candidate("s1-c1").judge == {"tone_zone": 0, "liability_flags": []}
    assert judged.candidate("s1-c0").judge == {"tone_zone": 2, "liability_flags": ["blames_customer"]}
    assert all(c.judge_model == "gpt-4o" for c in judged.candidates)
    assert judged.judge == {"preference": "s1-c0"} and judged.judge_model == "gpt-4o"
    assert judged.candidate("s1-c0").persona == "P0"  # drafting fields kept
    assert sample_from_dict(judged.to_dict()) == judged


# -- the command -------------------------------------------------------------------------------
def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def judge_args(tmp_path: Path, samples: Path, *extra: str, rubric: str = "de-escalation") -> list[str]:
    return ["judge", str(samples), "-o", str(tmp_path / "out" / "judged.jsonl"),
            "--rubric", rubric, "--max-retries", "2", *extra]


def _check_judged(rubric: Rubric, samples: list[Sample], model: str) -> None:
    for s in samples:
        assert s.judge_model == model and s.judge is not None
        assert s.judge["preference"] in [c.id for c in s.candidates] + [TIE, BOTH_BAD]
        for c in s.candidates:
            assert c.judge_model == model and c.judge is not None
            asked = [q.name for q in rubric.questions if q.scope == "candidate" and q.type != "text"]
            assert sorted(c.judge) == sorted(asked)


def test_judge_command_end_to_end(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    src = write_samples(tmp_path / "samples.jsonl", 6, per=3)
    result = run_cli(*judge_args(tmp_path, src, "--json", "--concurrency", "3"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["judged"] == 6 and summary["unjudged"] == []
    assert summary["requests"]["sent"] == 6 and fake_openai.chat_count == 6
    assert summary["cost_usd"] is not None and summary["cost_usd"] > 0
    rubric = load_rubric("de-escalation")
    judged = read_samples(tmp_path / "out" / "judged.jsonl")
    _check_judged(rubric, judged, "gpt-4o-mini")
    for body in fake_openai.chat_bodies:
        assert body["response_format"]["json_schema"]["strict"] is True
    # the original texts and ids are untouched
    assert [[c.text for c in s.candidates] for s in judged] == [[c.text for c in s.candidates]
                                                               for s in read_samples(src)]

    fake_openai.reset_counts()
    again = run_cli(*judge_args(tmp_path, src, "--json"))
    assert again.exit_code == 0 and fake_openai.count() == 0
    assert json.loads(again.stdout)["requests"]["cached"] == 6


@pytest.mark.parametrize("name", ["deal-closer", "project-architect"])
def test_judge_other_rubrics(fake_openai: FakeOpenAIServer, tmp_path: Path, name: str) -> None:
    src = write_samples(tmp_path / "samples.jsonl", 2)
    result = run_cli(*judge_args(tmp_path, src, rubric=name))
    assert result.exit_code == 0, result.output
    judged = read_samples(tmp_path / "out" / "judged.jsonl")
    _check_judged(load_rubric(name), judged, "gpt-4o-mini")
    if name == "deal-closer":
        assert all(s.judge and s.judge["objection_type"] in load_rubric(name).question("objection_type").values()
                   for s in judged)


def test_invalid_judge_answers_are_redrawn_then_left_unjudged(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_openai.force_content = '{"candidates": {}, "preference": "a"}'
    src = write_samples(tmp_path / "samples.jsonl", 2)
    result = run_cli(*judge_args(tmp_path, src, "--json", "--seed", "5"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["unjudged"] == ["s0", "s1"] and summary["requests"]["invalid"] == 2
    assert fake_openai.chat_count == 6  # each sample asked 3 times (2 redraws)
    assert "candidates.A: missing" in summary["problems"][0]
    assert "no valid judge answer" in result.stderr
    judged = read_samples(tmp_path / "out" / "judged.jsonl")
    assert all(s.judge is None and all(c.judge is None for c in s.candidates) for s in judged)


def test_judge_through_the_batch_api(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    src = write_samples(tmp_path / "samples.jsonl", 3)
    result = run_cli(*judge_args(tmp_path, src, "--batch", "--poll-interval", "0", "--json"))
    assert result.exit_code == 0, result.output
    assert fake_openai.count("batch /v1/chat/completions") == 3 and fake_openai.chat_count == 0
    _check_judged(load_rubric("de-escalation"), read_samples(tmp_path / "out" / "judged.jsonl"), "gpt-4o-mini")


def test_judge_errors_are_one_line(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    src = write_samples(tmp_path / "samples.jsonl", 1)
    result = run_cli(*judge_args(tmp_path, src, "--model", "nope"))
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "model 'nope' not found" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "candidates": [{"text": "a"}]}\n', encoding="utf-8")
    result = run_cli(*judge_args(tmp_path, bad))
    assert result.exit_code == 2 and "bad.jsonl:1: candidates: needs at least 2 candidates" in result.output


def test_judge_help_has_an_example() -> None:
    result = run_cli("judge", "--help")
    assert result.exit_code == 0 and "brun-label judge samples.jsonl -o judged.jsonl" in result.output


# -- confidence: log-probabilities, the swap check, calibration ----------------------------------
def _truth_table(rubric: Rubric, judged: list[Sample], annotators: int = 3) -> list[dict[str, Any]]:
    """Annotation rows in which every human gives the fake judge's known truth."""
    from tests.fake_openai_server import truth_best, truth_value

    rows: list[dict[str, Any]] = []
    for s in judged:
        cand_schema = judge_schema(rubric, len(s.candidates))["properties"]["candidates"]["properties"]["A"]
        best = s.candidates[truth_best([c.text for c in s.candidates])].id
        for a in range(annotators):
            for c in s.candidates:
                rows.append({"item_id": s.id, "candidate_id": c.id, "question": "tone_zone", "annotator": f"ann{a}",
                             "value": truth_value(c.text, "tone_zone", cand_schema["properties"]["tone_zone"])})
            rows.append({"item_id": s.id, "candidate_id": "", "question": "preference", "annotator": f"ann{a}",
                         "value": best})
    return rows


def test_swap_check_reports_the_planted_first_position_rate(fake_judge: Callable[..., FakeOpenAIServer],
                                                             tmp_path: Path) -> None:
    server = fake_judge(position_bias=0.3, judge_accuracy=(1.0, 1.0))
    src = write_samples(tmp_path / "samples.jsonl", 300)
    result = run_cli(*judge_args(tmp_path, src, "--swap-check", "--json"))
    assert result.exit_code == 0, result.output
    assert server.chat_count == 600  # every sample asked twice
    reversed_orders = list(server.chat_bodies)
    summary = json.loads(result.stdout)
    pref = summary["swap_check"]["preference"]
    lo, hi = pref["first_position_rate_ci95"]
    assert lo <= 0.3 <= hi and hi - lo < 0.12
    # with two replies and an otherwise exact judge, an inconsistent pair is a position-driven one
    assert pref["n"] - pref["n_consistent"] == pref["n_first_both"] and pref["n_last_both"] == 0
    assert summary["swap_check"]["tone_zone"]["consistency"] == 1.0  # content-based answers never move
    judged = read_samples(tmp_path / "out" / "judged.jsonl")
    marked = [s for s in judged if s.judge_confidence and s.judge_confidence["preference"]["consistent"] is False]
    assert len(marked) == pref["n"] - pref["n_consistent"]
    for s in judged:  # the order the judge saw is recorded, and the reversed one was asked too
        assert s.judge_order is not None and list(s.judge_order) == candidate_order(s, seed=JUDGE_ORDER_SEED)
    users = [b["messages"][1]["content"] for b in reversed_orders]
    s0 = judged[0]
    assert order_of(users, s0, list(s0.judge_order)) and order_of(users, s0, list(s0.judge_order)[::-1])


def order_of(users: list[str], s: Sample, order: list[str]) -> bool:
    wanted = "\n\n".join(f"Reply {'AB'[i]}:\n{s.candidate(cid).text}" for i, cid in enumerate(order))
    return any(u.endswith(wanted) for u in users)


def test_logprobs_are_stored_per_answer_and_never_reach_a_cache_key(fake_openai: FakeOpenAIServer,
                                                                     tmp_path: Path) -> None:
    fake_openai.position_bias = 0.0
    src = write_samples(tmp_path / "samples.jsonl", 4)
    assert run_cli(*judge_args(tmp_path, src)).exit_code == 0
    assert all(b.get("logprobs") is True for b in fake_openai.chat_bodies)
    judged = read_samples(tmp_path / "out" / "judged.jsonl")
    for s in judged:
        assert s.judge_confidence is not None
        lp = s.judge_confidence["preference"]["logprob"]
        assert lp is not None and lp <= 0 and s.judge_confidence["preference"]["consistent"] is None
        for c in s.candidates:
            assert c.judge_confidence is not None and c.judge_confidence["tone_zone"]["logprob"] < 0
    # an endpoint without log-probabilities: confidences stay unknown, nothing breaks
    fake_openai.logprobs_supported = False
    assert run_cli(*judge_args(tmp_path, src, "--no-cache")).exit_code == 0
    again = read_samples(tmp_path / "out" / "judged.jsonl")
    assert all(s.judge_confidence is None for s in again)
    assert run_cli(*judge_args(tmp_path, src, "--no-cache", "--no-logprobs")).exit_code == 0
    assert "logprobs" not in fake_openai.chat_bodies[-1]


def test_calibrated_confidence_is_monotone_in_the_logprob_and_beats_the_raw_one(
        fake_judge: Callable[..., FakeOpenAIServer], tmp_path: Path) -> None:
    from brun_label.exporters.tables import write_annotations
    from brun_label.table import make_table

    rubric = load_rubric("de-escalation")
    server = fake_judge(judge_accuracy=(0.5, 0.99))
    src = write_samples(tmp_path / "samples.jsonl", 150)
    first = run_cli(*judge_args(tmp_path, src))
    assert first.exit_code == 0, first.output
    judged = read_samples(tmp_path / "out" / "judged.jsonl")
    table = tmp_path / "ann.jsonl"
    write_annotations(make_table(_truth_table(rubric, judged)), table)
    server.reset_counts()
    result = run_cli(*judge_args(tmp_path, src, "--calibrate-with", str(table), "--json"))
    assert result.exit_code == 0, result.output
    assert server.chat_count == 0  # calibrating costs no request: the answers come from the cache
    fit = json.loads(result.stdout)["calibration"]["questions"]["tone_zone"]
    assert fit["status"] == "ok" and fit["feature"] == "logprob" and fit["n_items"] == 300
    assert fit["brier_cv"] < fit["brier_raw"] and fit["brier_cv"] < fit["brier_baseline"]
    pts = sorted((c.judge_confidence["tone_zone"]["logprob"], c.judge_confidence["tone_zone"]["calibrated"])
                 for s in read_samples(tmp_path / "out" / "judged.jsonl") for c in s.candidates
                 if c.judge_confidence)
    calibrated = [p for _, p in pts]
    assert all(0 <= p <= 1 for p in calibrated) and calibrated == sorted(calibrated)
    assert calibrated[-1] - calibrated[0] > 0.3  # it separates trustworthy answers from the rest
    # the fake judge's accuracy is exp(logprob / 0.4): the calibrated confidence tracks it
    truth = [math.exp(lp / 0.4) for lp, _ in pts]
    assert float(np.mean(np.abs(np.array(calibrated) - np.array(truth)))) < 0.12


def test_calibration_with_too_few_items_says_so(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    from brun_label.exporters.tables import write_annotations
    from brun_label.table import make_table

    fake_openai.position_bias = 0.0
    src = write_samples(tmp_path / "samples.jsonl", 5)
    assert run_cli(*judge_args(tmp_path, src)).exit_code == 0
    judged = read_samples(tmp_path / "out" / "judged.jsonl")
    table = tmp_path / "ann.jsonl"
    write_annotations(make_table(_truth_table(load_rubric("de-escalation"), judged)), table)
    result = run_cli(*judge_args(tmp_path, src, "--calibrate-with", str(table)))
    assert result.exit_code == 0, result.output
    assert "tone_zone: not enough items: 10 with a clear annotator consensus" in result.stdout
    out = read_samples(tmp_path / "out" / "judged.jsonl")
    assert all(c.judge_confidence and c.judge_confidence["tone_zone"]["calibrated"] is None
               for s in out for c in s.candidates)


def test_swap_check_through_the_batch_api(fake_judge: Callable[..., FakeOpenAIServer], tmp_path: Path) -> None:
    server = fake_judge(position_bias=1.0, judge_accuracy=(1.0, 1.0))  # always the first reply
    src = write_samples(tmp_path / "samples.jsonl", 6)
    result = run_cli(*judge_args(tmp_path, src, "--swap-check", "--batch", "--poll-interval", "0", "--json"))
    assert result.exit_code == 0, result.output
    assert server.count("batch /v1/chat/completions") == 12
    pref = json.loads(result.stdout)["swap_check"]["preference"]
    assert pref["consistency"] == 0.0 and pref["first_position_rate"] == 1.0
    judged = read_samples(tmp_path / "out" / "judged.jsonl")
    assert all(s.judge_confidence and s.judge_confidence["preference"]["consistent"] is False for s in judged)
    text = run_cli(*judge_args(tmp_path, src, "--swap-check"))
    assert "preference: 0 of 6 consistent (0%" in text.stdout and "first slot both times 100%" in text.stdout


@settings(max_examples=60, deadline=None)
@given(seed=st.binary(min_size=1, max_size=8), n=st.integers(2, 4), indent=st.sampled_from([None, 1, 2]),
       cuts=st.lists(st.integers(0, 10_000), max_size=40), lps=st.lists(st.floats(-3, 0), min_size=1, max_size=30),
       fence=st.booleans())
def test_value_logprobs_do_not_depend_on_the_tokenisation(seed: bytes, n: int, indent: int | None, cuts: list[int],
                                                          lps: list[float], fence: bool) -> None:
    """Each value's log-probability is the sum over its own characters, however the text is cut into tokens."""
    from brun_label.importers.judge import answer_logprobs

    rubric = load_rubric("de-escalation")
    answer = schema_instance(judge_schema(rubric, n), seed)
    body = json.dumps(answer, indent=indent)
    content = f"```json\n{body}\n```" if fence else body
    offset = content.index(body)
    order = [f"c{i}" for i in range(n)]
    # every value's character span, and a log-probability per character (0 outside values)
    spans: dict[tuple[str, ...], tuple[int, int]] = {}
    for letter, scores in answer["candidates"].items():
        for q, v in scores.items():
            spans[("c" + str("ABCD".index(letter)), q)] = _span(body, letter, q, v, offset)
    spans[("", "preference")] = _span(body, None, "preference", answer["preference"], offset)
    char_lp = [0.0] * len(content)
    for k, (a, b) in enumerate(spans.values()):
        for i in range(a, b):
            char_lp[i] = lps[(k + i) % len(lps)]
    bounds = sorted({0, len(content), *(c % (len(content) + 1) for c in cuts), *(x for s in spans.values() for x in s)})
    tokens = [(content[a:b], sum(char_lp[a:b])) for a, b in itertools.pairwise(bounds) if b > a]
    got = answer_logprobs(content, tokens, order)
    assert got is not None
    cands, item = got
    for (cid, q), (a, b) in spans.items():
        value = item[q] if not cid else cands[cid][q]
        assert math.isclose(value, sum(char_lp[a:b]), abs_tol=1e-9)
    assert answer_logprobs(content + " ", tokens, order) is None  # tokens that do not spell the text


def _span(body: str, letter: str | None, q: str, value: Any, offset: int) -> tuple[int, int]:
    """The character span of one value in ``json.dumps`` output (found after its own key)."""
    key = body.index(f'"{q}"', body.index(f'"{letter}": {{')) if letter else body.rindex(f'"{q}"')
    at = body.index(":", key) + 1
    while body[at] in " \n":
        at += 1
    end = body.index("]", at) + 1 if isinstance(value, list) and value else at + len(json.dumps(value))
    return offset + at, offset + end
