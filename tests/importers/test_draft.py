"""Tests of LLM drafting: scenarios, persona packs, the request cache, the OpenAI adapter, ``draft``.

Every API call goes through the real ``openai`` client to the local fake server
(``fake_openai`` fixture); nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from brun_label.cli import cli
from brun_label.errors import InputError, ValidationFailed
from brun_label.importers.draft import (
    DraftOptions,
    candidate_id,
    plan_drafts,
    read_scenarios,
    scenario_from_dict,
)
from brun_label.importers.openai_client import (
    Api,
    ApiConfig,
    RunStats,
    Slot,
    estimate_cost,
    price_for,
    run_batch,
    run_requests,
)
from brun_label.importers.personas import load_personas, persona_pack_from_dict
from brun_label.importers.request_cache import RequestCache, request_key
from brun_label.importers.samples import read_samples
from brun_label.model import Sample
from brun_label.rubrics import load_rubric, pack_names
from tests.fake_openai_server import FakeOpenAIServer

REPO = Path(__file__).resolve().parents[2]
PROMPTS = [
    "Your update deleted all my invoices. I want a full refund NOW or I'm calling my lawyer.",
    "Third outage this month. Are you people even trying?",
    "I was charged twice and nobody answers the phone. Unbelievable.",
    "Your driver was rude to my mother. I'm posting this everywhere.",
    "I've waited six weeks for a replacement part. Cancel everything.",
]


def write_scenarios(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"sc-{i}", "category": "complaint",
                                 "prompt": f"{PROMPTS[i % len(PROMPTS)]} (case {i})"}) + "\n")
    return path


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def draft_args(tmp_path: Path, scenarios: Path, *extra: str) -> list[str]:
    return ["draft", str(scenarios), "-o", str(tmp_path / "out" / "samples.jsonl"),
            "--rubric", "de-escalation", "--max-retries", "3", *extra]


# -- scenarios ---------------------------------------------------------------------------------
def test_read_scenarios_accepts_text_and_chat_prompts(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_text(
        json.dumps({"id": "a", "prompt": "You ruined my wedding!", "metadata": {"src": "x"}}) + "\n"
        + json.dumps({"prompt": [{"role": "system", "content": "You are support."},
                                 {"role": "user", "content": "Where is my order?"}]}) + "\n",
        encoding="utf-8")
    scs = read_scenarios(p)
    assert scs[0].id == "a"
    assert scs[1].id.startswith("s-") and scs[1].candidates == ()
    assert scs[0].metadata == {"src": "x"}
    assert read_scenarios(p)[1].id == scs[1].id  # stable derived id


def test_read_scenarios_reports_every_problem_with_file_line_field(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join([
        json.dumps({"id": "a", "prompt": "ok"}),
        json.dumps({"id": "b"}),
        json.dumps({"id": "c", "prompt": "x", "candidates": [{"text": "a"}, {"text": "b"}]}),
        "{broken",
        json.dumps({"id": "a", "prompt": "again"}),
        json.dumps({"id": "e", "prompt": "x", "colour": "red"}),
    ]) + "\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        read_scenarios(p)
    lines = [e.render().replace(str(p), "bad.jsonl") for e in info.value.problems]
    assert lines == [
        "bad.jsonl:2: prompt: is missing",
        "bad.jsonl:3: candidates: a scenario has no candidates (drafting adds them)",
        "bad.jsonl:4: (line): not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        "bad.jsonl:5: id: duplicate scenario id 'a' (first on line 1)",
        "bad.jsonl:6: colour: is not a known sample field",
    ]


def test_read_scenarios_from_csv(tmp_path: Path) -> None:
    p = tmp_path / "s.csv"
    p.write_text("id,category,prompt\nx1,refund,Give me my money back\nx2,outage,Down again?\n",
                 encoding="utf-8")
    assert [(s.id, s.category) for s in read_scenarios(p)] == [("x1", "refund"), ("x2", "outage")]


def test_empty_scenario_file_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_text("\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        read_scenarios(p)


# -- persona packs -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["de-escalation", "deal-closer", "project-architect", "socratic-mentor"])
def test_every_shipped_rubric_has_a_valid_persona_pack(name: str) -> None:
    rubric = load_rubric(name)
    pack = load_personas(name, rubric)
    zone = rubric.zone_question()
    assert zone is not None and pack.target == zone.target
    zones = {p.zone for p in pack.personas}
    assert zone.target in zones and min(zones) < zone.target < max(zones)  # both sides covered
    for persona in pack.personas:
        prompt = pack.system_prompt(persona)
        assert f"Persona: {persona.name}" in prompt and f"Arc: {persona.arc}" in prompt
        assert "{" not in prompt


def test_persona_files_are_not_listed_as_rubric_packs() -> None:
    assert sorted(pack_names()) == ["de-escalation", "deal-closer", "project-architect", "socratic-mentor"]


def test_de_escalation_pack_has_the_named_personas_and_arc() -> None:
    pack = load_personas("de-escalation", load_rubric("de-escalation"))
    names = {p.name for p in pack.personas}
    assert {"Diplomatic_Firmness", "Over_Apologetic_Doormat", "Defensive_Robot_Lawyer"} <= names
    assert pack.persona("Diplomatic_Firmness").zone == 0
    assert pack.persona("Over_Apologetic_Doormat").zone == -2
    assert pack.persona("Defensive_Robot_Lawyer").zone == 2
    assert pack.arc("Hostility_to_Collaboration").instructions


def test_choice_puts_in_zone_first_then_extremes_on_both_sides() -> None:
    pack = load_personas("de-escalation", load_rubric("de-escalation"))
    seen_second: set[int | str | None] = set()
    for i in range(40):
        chosen = pack.choose(3, f"s-{i}")
        assert chosen[0].name == "Diplomatic_Firmness"
        assert sorted(int(p.zone or 0) for p in chosen[1:]) == [-2, 2]
        seen_second.add(chosen[1].zone)
        assert pack.choose(3, f"s-{i}") == chosen  # stable per scenario
    assert seen_second == {-2, 2}  # which extreme comes first alternates across scenarios
    two = {pack.choose(2, f"s-{i}")[1].zone for i in range(40)}
    assert two == {-2, 2}  # with 2 candidates, both out-of-zone sides still get drafted


@pytest.mark.parametrize(("change", "field"), [
    ({"rubric": "deal-closer"}, "rubric"),
    ({"personas": [{"name": "A", "instructions": "x", "arc": "Nope"},
                   {"name": "B", "instructions": "y"}]}, "personas[A].arc"),
    ({"personas": [{"name": "A", "instructions": "x", "zone": 7},
                   {"name": "B", "instructions": "y"}]}, "personas[A].zone"),
    ({"personas": [{"name": "A", "instructions": "x"}]}, "personas"),
    ({"system": "no persona here {arc}"}, "system"),
])
def test_bad_persona_pack_names_the_field(tmp_path: Path, change: dict[str, Any], field: str) -> None:
    raw: dict[str, Any] = {
        "rubric": "de-escalation", "system": "Persona: {persona}\n{persona_instructions}",
        "personas": [{"name": "A", "instructions": "x", "zone": 0}, {"name": "B", "instructions": "y", "zone": 2}],
        "arcs": [{"name": "Calm", "instructions": "stay calm"}],
    }
    assert persona_pack_from_dict(raw, load_rubric("de-escalation")).target == 0  # the base is valid
    raw.update(change)
    p = tmp_path / "my.personas.yaml"
    p.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_personas("de-escalation", load_rubric("de-escalation"), str(p))
    assert info.value.field == field and info.value.path == str(p)


def test_rubric_file_finds_its_sibling_personas_file(tmp_path: Path) -> None:
    from brun_label.rubrics import rubric_source

    (tmp_path / "mine.yaml").write_text(rubric_source("de-escalation"), encoding="utf-8")
    with pytest.raises(InputError, match=r"mine\.personas\.yaml"):
        load_personas(str(tmp_path / "mine.yaml"), load_rubric(str(tmp_path / "mine.yaml")))
    src = (REPO / "label_configs" / "de-escalation.personas.yaml").read_text(encoding="utf-8")
    (tmp_path / "mine.personas.yaml").write_text(src, encoding="utf-8")
    pack = load_personas(str(tmp_path / "mine.yaml"), load_rubric(str(tmp_path / "mine.yaml")))
    assert pack.persona("Diplomatic_Firmness")


# -- planning ----------------------------------------------------------------------------------
def test_plan_records_persona_arc_params_and_stable_unique_ids() -> None:
    pack = load_personas("de-escalation", load_rubric("de-escalation"))
    sc = scenario_from_dict({"id": "s1", "prompt": "Refund me now."})
    slots, plan = plan_drafts([sc], pack, DraftOptions(candidates=7, seed=5, max_tokens=300))
    personas = [plan[s.id].persona for s in slots]
    assert len(set(personas)) == 5  # every persona once, then cycled
    keys = {s.key() for s in slots}
    assert len(keys) == 7  # repeated personas are independent requests (variant), not cache hits
    repeated = [s for s in slots if s.variant == 1]
    assert len(repeated) == 2 and all(s.body["seed"] == 6 for s in repeated)
    assert all(s.body["max_tokens"] == 300 and s.body["temperature"] == 0.9 for s in slots)
    assert plan[slots[0].id].params == {"temperature": 0.9, "seed": 5, "max_tokens": 300}
    ids = [candidate_id(sc.id, plan[s.id].persona, plan[s.id].position) for s in slots]
    assert len(set(ids)) == 7
    assert slots[0].body["messages"][1] == {"role": "user", "content": "Refund me now."}
    assert "Persona: Diplomatic_Firmness" in slots[0].body["messages"][0]["content"]


def test_plan_with_explicit_personas_and_unknown_persona() -> None:
    pack = load_personas("de-escalation", load_rubric("de-escalation"))
    sc = scenario_from_dict({"id": "s1", "prompt": "Refund me now."})
    _, plan = plan_drafts([sc], pack, DraftOptions(candidates=3, personas=("Warm_Pushover", "Cool_Bureaucrat")))
    assert [p.persona for p in plan.values()] == ["Warm_Pushover", "Cool_Bureaucrat", "Warm_Pushover"]
    with pytest.raises(InputError, match="unknown persona 'Nobody'"):
        plan_drafts([sc], pack, DraftOptions(personas=("Nobody",)))


# -- cache and costs ---------------------------------------------------------------------------
def test_request_key_covers_what_changes_the_answer() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0.5}
    k = request_key(body)
    assert len(k) == 64
    for change in ({"model": "n"}, {"temperature": 0.6}, {"seed": 1}, {"max_tokens": 9},
                   {"response_format": {"type": "json_object"}},
                   {"messages": [{"role": "user", "content": "y"}]}):
        assert request_key({**body, **change}) != k
    assert request_key(body, draw=1) != k and request_key(body, variant=1) != k


def test_cache_survives_reopening_and_rejects_a_foreign_file(tmp_path: Path) -> None:
    with RequestCache(tmp_path / "c") as cache:
        cache.put("k1", {"content": "a"})
        cache.set_batch("job", "batch-1")
    with RequestCache(tmp_path / "c") as cache:
        assert cache.get("k1") == {"content": "a"} and "k1" in cache and len(cache) == 1
        assert cache.get_many(["k1", "k2"]) == {"k1": {"content": "a"}}
        assert cache.batch_for("job") == "batch-1"
        cache.drop_batch("job")
        assert cache.batch_for("job") is None
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "requests.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match="not a brun-label request cache"):
        RequestCache(bad)


def test_cache_views_keep_each_endpoint_apart(tmp_path: Path) -> None:
    key = request_key({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    with RequestCache(tmp_path / "c") as cache:
        vllm = cache.for_endpoint("http://gpu-box:8000/v1")
        ollama = cache.for_endpoint("http://gpu-box:11434/v1")
        vllm.put(key, {"content": "from vllm"})
        vllm.set_batch("job", "batch-v")
        assert ollama.get(key) is None and key not in ollama and ollama.get_many([key]) == {}
        assert ollama.batch_for("job") is None
        ollama.put(key, {"content": "from ollama"})
        assert vllm.get(key) == {"content": "from vllm"} and ollama.get(key) == {"content": "from ollama"}
        # The same server written differently is the same endpoint; credentials never count.
        same = cache.for_endpoint("HTTP://user:pw@GPU-BOX:8000/v1/?token=abc")
        assert same.endpoint == "http://gpu-box:8000/v1"
        assert same.get_many([key, "other"]) == {key: {"content": "from vllm"}}
        assert same.batch_for("job") == "batch-v"
        vllm.close()  # a view closes nothing
        assert cache.get(key) is None and len(cache) == 2


def test_the_same_body_to_another_base_url_is_a_new_request(fake_openai: FakeOpenAIServer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    scen = write_scenarios(tmp_path / "s.jsonl", 2)
    args = draft_args(tmp_path, scen, "--candidates", "2", "--seed", "3", "--json")
    assert run_cli(*args).exit_code == 0
    assert fake_openai.chat_count == 4
    with FakeOpenAIServer(api_key=None) as other:  # accepts any key, like a local vLLM
        result = run_cli(*args, "--base-url", other.base_url)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["requests"]["sent"] == 4 and other.chat_count == 4
        # Another API key for the same server is the same request: answered from the cache.
        monkeypatch.setenv("OPENAI_API_KEY", "another-key-for-the-same-server")
        again = run_cli(*args, "--base-url", other.base_url + "/")
        assert json.loads(again.stdout)["requests"] == {"wanted": 4, "sent": 0, "cached": 4, "redraws": 0,
                                                         "invalid": 0}
        assert other.chat_count == 4
    assert fake_openai.chat_count == 4


def test_price_table_and_overrides() -> None:
    assert price_for("gpt-4o") == (2.50, 10.00)
    assert price_for("gpt-4o-mini") == (0.15, 0.60)
    assert price_for("llama3.1:8b") is None
    assert price_for("llama3.1:8b", 0.0, 0.0) == (0.0, 0.0)
    assert price_for("gpt-4o", price_out=1.0) == (2.50, 1.0)
    assert estimate_cost(2_000_000, 0, (0.15, 0.60), batch=True) == pytest.approx(0.15)


# -- the adapter against the fake server -------------------------------------------------------
def _slots(n: int) -> list[Slot]:
    return [Slot(id=i, body={"model": "gpt-4o-mini", "temperature": 0.9,
                             "messages": [{"role": "user", "content": f"hello {i}"}]}) for i in range(n)]


def test_concurrency_is_bounded(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.latency = 0.05
    stats = RunStats(model="gpt-4o-mini")

    async def go() -> dict[Any, Any]:
        async with Api(ApiConfig()) as api:
            return await run_requests(api, _slots(24), RequestCache(None), stats=stats, concurrency=4)

    answers = asyncio.run(go())
    assert len(answers) == 24 and all(a is not None for a in answers.values())
    assert fake_openai.max_in_flight == 4
    assert fake_openai.chat_count == 24 and stats.sent == 24


def test_identical_requests_in_flight_are_paid_once(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.latency = 0.05
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "same"}]}
    slots = [Slot(id=i, body=body) for i in range(10)]
    stats = RunStats(model="gpt-4o-mini")

    async def go(model: str) -> dict[Any, Any]:
        async with Api(ApiConfig(max_retries=0)) as api:
            return await run_requests(api, [Slot(id=s.id, body={**body, "model": model}) for s in slots],
                                      RequestCache(None), stats=stats, concurrency=10)

    answers = asyncio.run(go("gpt-4o-mini"))
    assert len({a.content for a in answers.values()}) == 1
    assert fake_openai.chat_count == 1 and stats.sent == 1 and stats.cached == 9
    with pytest.raises(Exception, match="not found"):  # waiters see the sender's error too
        asyncio.run(go("missing-model"))
    assert fake_openai.chat_count == 2


def test_rate_limits_server_errors_and_timeouts_are_retried(fake_openai: FakeOpenAIServer) -> None:
    fake_openai.fail_next(2, 429)
    fake_openai.fail_next(2, 500)
    fake_openai.fail_next(1, 503)
    fake_openai.slow_next(1, 3.0)
    stats = RunStats(model="gpt-4o-mini")

    async def go() -> dict[Any, Any]:
        async with Api(ApiConfig(max_retries=6, timeout=0.5)) as api:
            return await run_requests(api, _slots(3), RequestCache(None), stats=stats, concurrency=1)

    answers = asyncio.run(go())
    assert all(a is not None and a.content for a in answers.values())
    assert fake_openai.chat_count == 3 + 5 + 1  # every failure answered once more
    assert stats.sent == 3


def test_rate_limit_beyond_the_retries_is_one_clear_error(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    fake_openai.fail_next(50, 429)
    result = run_cli(*draft_args(tmp_path, scen, "--max-retries", "1", "--concurrency", "1"))
    assert result.exit_code == 1
    assert result.output.count("\n") <= 2
    assert "still rate-limited" in result.output and "re-run to resume" in result.output


def test_invalid_answers_are_redrawn_then_dropped(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_openai.force_content = "   "
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    result = run_cli(*draft_args(tmp_path, scen, "--json", "--seed", "1"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["requests"] == {"wanted": 4, "sent": 12, "cached": 0, "redraws": 8, "invalid": 4}
    assert summary["samples"] == 0 and len(summary["dropped"]) == 5
    assert fake_openai.chat_count == 12
    seeds = sorted(b["seed"] for b in fake_openai.chat_bodies)
    assert seeds[:4] == [1] * 4 and set(seeds) == {1, 1001, 2001}  # redraws move the seed


# -- the command -------------------------------------------------------------------------------
def test_draft_command_end_to_end(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    scen = write_scenarios(tmp_path / "s.jsonl", 5)
    result = run_cli(*draft_args(tmp_path, scen, "--candidates", "4", "--seed", "42", "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["requests"]["sent"] == 20 and summary["requests"]["cached"] == 0
    assert summary["candidates"] == 20 and summary["samples"] == 5
    assert summary["tokens"]["prompt"] > 0 and summary["tokens"]["completion"] > 0
    expected = (summary["tokens"]["prompt"] * 0.15 + summary["tokens"]["completion"] * 0.60) / 1e6
    assert summary["cost_usd"] == pytest.approx(expected, rel=1e-3)
    assert fake_openai.chat_count == 20

    out = tmp_path / "out" / "samples.jsonl"
    samples = read_samples(out)  # the foundation's sample format, validated
    assert [s.id for s in samples] == [f"sc-{i}" for i in range(5)]
    for s in samples:
        assert len(s.candidates) == 4
        assert s.candidates[0].persona == "Diplomatic_Firmness"
        assert {c.persona for c in s.candidates} >= {"Over_Apologetic_Doormat", "Defensive_Robot_Lawyer"}
        for c in s.candidates:
            assert c.model == "gpt-4o-mini" and c.source == "model" and c.arc and c.persona in c.text
            assert c.params == {"temperature": 0.9, "seed": 42}
            assert c.id == candidate_id(s.id, c.persona or "", s.candidates.index(c))
    first = out.read_bytes()

    # A re-run of a finished job sends nothing and writes the same file.
    fake_openai.reset_counts()
    again = run_cli(*draft_args(tmp_path, scen, "--candidates", "4", "--seed", "42", "--json"))
    assert again.exit_code == 0
    assert fake_openai.count() == 0
    assert json.loads(again.stdout)["requests"] == {"wanted": 20, "sent": 0, "cached": 20, "redraws": 0, "invalid": 0}
    assert out.read_bytes() == first


def test_adding_scenarios_sends_only_the_new_requests(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    run_cli(*draft_args(tmp_path, write_scenarios(tmp_path / "a.jsonl", 2)))
    assert fake_openai.chat_count == 8
    fake_openai.reset_counts()
    result = run_cli(*draft_args(tmp_path, write_scenarios(tmp_path / "b.jsonl", 5)))
    assert result.exit_code == 0
    assert fake_openai.chat_count == 12


def test_changing_a_parameter_is_a_new_request(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    run_cli(*draft_args(tmp_path, scen, "--temperature", "0.5"))
    run_cli(*draft_args(tmp_path, scen, "--temperature", "0.7"))
    assert fake_openai.chat_count == 8


def test_killed_run_resumes_with_only_the_missing_requests(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_openai.latency = 0.1
    scen = write_scenarios(tmp_path / "s.jsonl", 15)  # 60 requests, ~1.5 s at concurrency 4
    out = tmp_path / "out" / "samples.jsonl"
    cache_dir = tmp_path / "cache"
    args = [*draft_args(tmp_path, scen, "--concurrency", "4", "--cache-dir", str(cache_dir))]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", "from brun_label.cli import main; main()", *args],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while fake_openai.chat_count < 30 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.kill()  # SIGKILL: no cleanup, no chance to flush anything
    finally:
        proc.wait()
    assert not out.exists()  # no partial output
    with RequestCache(cache_dir) as cache:
        done = len(cache)
    assert 20 <= done < 60, done

    fake_openai.reset_counts()
    result = run_cli(*args)
    assert result.exit_code == 0, result.output
    assert fake_openai.chat_count == 60 - done  # only the missing requests
    assert sum(len(s.candidates) for s in read_samples(out)) == 60

    fake_openai.reset_counts()
    assert run_cli(*args).exit_code == 0
    assert fake_openai.chat_count == 0  # a finished job costs nothing


def test_batch_mode_submits_polls_collects_and_resumes(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_openai.batch_polls = 3
    scen = write_scenarios(tmp_path / "s.jsonl", 3)
    result = run_cli(*draft_args(tmp_path, scen, "--batch", "--poll-interval", "0", "--json"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["batch"] is True and len(summary["batch_ids"]) == 1
    assert summary["requests"]["sent"] == 12 and summary["candidates"] == 12
    assert fake_openai.chat_count == 0  # nothing through the synchronous endpoint
    assert fake_openai.count("POST /v1/files") == 1 and fake_openai.count("POST /v1/batches") == 1
    assert fake_openai.count("batch /v1/chat/completions") == 12
    assert fake_openai.count("GET /v1/batches/{id}") == 3
    samples = read_samples(tmp_path / "out" / "samples.jsonl")
    assert all(c.persona and c.arc and c.model for s in samples for c in s.candidates)

    fake_openai.reset_counts()
    again = run_cli(*draft_args(tmp_path, scen, "--batch", "--poll-interval", "0"))
    assert again.exit_code == 0 and fake_openai.count() == 0


def test_interrupted_batch_is_polled_again_not_resubmitted(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_openai.batch_polls = 2
    pack = load_personas("de-escalation", load_rubric("de-escalation"))
    scs = [scenario_from_dict({"id": f"s{i}", "prompt": PROMPTS[i]}) for i in range(2)]
    slots, _ = plan_drafts(scs, pack, DraftOptions(candidates=2))

    class Interrupted(Exception):
        pass

    def stop_after_first_poll(message: str) -> None:
        if "in_progress" in message or "validating" in message:
            raise Interrupted(message)

    async def go(on_status: Any) -> dict[Any, Any]:
        async with Api(ApiConfig()) as api:
            return await run_batch(api, slots, cache, stats=RunStats(model="gpt-4o-mini"),
                                   poll_interval=0, on_status=on_status)

    with RequestCache(tmp_path / "c") as cache:
        with pytest.raises(Interrupted):
            asyncio.run(go(stop_after_first_poll))
        assert fake_openai.count("POST /v1/batches") == 1
        answers = asyncio.run(go(None))
    assert len(answers) == 4 and all(a is not None for a in answers.values())
    assert fake_openai.count("POST /v1/batches") == 1 and fake_openai.count("POST /v1/files") == 1
    assert fake_openai.count("batch /v1/chat/completions") == 4


# -- failures: one clear line, exit 1, never the key -------------------------------------------
def _assert_no_key(key: str, *texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        assert key.encode() not in data


def test_bad_key_is_one_line_exit_1_and_never_shown(fake_openai: FakeOpenAIServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "local-secret-token-98765"  # not sk- shaped, so only register_secret can hide it
    monkeypatch.setenv("MY_LLM_KEY", secret)
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    result = run_cli(*draft_args(tmp_path, scen, "--api-key-env", "MY_LLM_KEY"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "rejected the API key from $MY_LLM_KEY (401" in lines[0]
    assert "***" in lines[0]  # the server echoed the key; it was redacted
    _assert_no_key(secret, result.output)
    assert not (tmp_path / "out" / "samples.jsonl").exists()


def test_key_never_reaches_output_cache_or_logs(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    assert fake_openai.api_key is not None
    scen = write_scenarios(tmp_path / "s.jsonl", 2)
    result = run_cli(*draft_args(tmp_path, scen, "--json"))
    assert result.exit_code == 0
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "requests.sqlite3" for p in files)
    _assert_no_key(fake_openai.api_key, result.output, *(p.read_bytes() for p in files))


def test_unknown_model_is_one_clear_line(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    result = run_cli(*draft_args(tmp_path, scen, "--model", "gpt-imaginary"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "model 'gpt-imaginary' not found at http://127.0.0.1" in lines[0] and "--model" in lines[0]


def test_unreachable_endpoint_is_one_clear_line(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    result = run_cli(*draft_args(tmp_path, scen, "--base-url", f"http://127.0.0.1:{port}/v1",
                                 "--max-retries", "1"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach http://127.0.0.1:{port}/v1" in lines[0]


def test_missing_key_for_openai_is_a_usage_error_without_any_request(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    result = run_cli(*draft_args(tmp_path, scen))
    assert result.exit_code == 2
    assert "no API key: set $OPENAI_API_KEY" in result.output


def test_bad_scenarios_and_options_exit_2(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    result = run_cli(*draft_args(tmp_path, bad))
    assert result.exit_code == 2 and f"{bad}:1: prompt: is missing" in result.output
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    assert run_cli(*draft_args(tmp_path, scen, "--rubric", "nope")).exit_code == 2
    assert run_cli(*draft_args(tmp_path, scen, "--candidates", "1")).exit_code == 2
    wrong_out = ["draft", str(scen), "-o", str(tmp_path / "x.csv"), "--rubric", "de-escalation"]
    assert run_cli(*wrong_out).exit_code == 2
    assert fake_openai.chat_count == 0


def test_help_has_an_example() -> None:
    result = run_cli("draft", "--help")
    assert result.exit_code == 0 and "brun-label draft scenarios.jsonl" in result.output


def test_samples_round_trip_through_the_model(fake_openai: FakeOpenAIServer, tmp_path: Path) -> None:
    scen = write_scenarios(tmp_path / "s.jsonl", 1)
    run_cli(*draft_args(tmp_path, scen, "--candidates", "2"))
    line = (tmp_path / "out" / "samples.jsonl").read_text(encoding="utf-8").splitlines()[0]
    from brun_label.model import sample_from_dict

    s: Sample = sample_from_dict(json.loads(line))
    assert s.to_dict() == json.loads(line)
