"""The Argilla backend against a real argilla-server 2.8.0 (the local SQLite + SQL-engine server).

Round trips for every rubric pack and question type: push, annotators answer through the API as
themselves (submitted, draft, discarded), pull, and the pulled table equals what they submitted.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.argilla_records import argilla_value
from brun_label.backends.base import PullOptions, PushOptions
from brun_label.cli import cli
from brun_label.importers.annotations import read_annotations
from brun_label.model import Sample, sample_from_dict
from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric, slot_name
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import ArgillaAPI, unique_name

pytestmark = pytest.mark.server

PACKS = ["de-escalation", "project-architect", "socratic-mentor", "deal-closer"]


def make_samples(n: int, n_candidates: int = 2, start: int = 0, judge: bool = False) -> list[Sample]:
    out = []
    for i in range(start, start + n):
        cands: list[dict[str, Any]] = [{"id": f"s{i}-c{k}", "text": f"Reply {k} to scenario {i}."}
                                       for k in range(n_candidates)]
        raw: dict[str, Any] = {"id": f"s{i}", "category": ["billing", "hr"][i % 2],
                               "prompt": f"Scenario {i}: I want a refund now!", "candidates": cands}
        if judge:
            raw["judge_model"] = "judge-model"
            raw["judge"] = {"preference": cands[0]["id"]}
        out.append(sample_from_dict(raw))
    return out


def random_answer(q: Question, order: list[str], rng: random.Random) -> Any:
    if q.type in ("scale", "choice", "rating"):
        return rng.choice(q.values())
    if q.type == "flags":
        values = [str(v) for v in q.values()]
        return sorted(rng.sample(values, rng.randint(1, 2)))
    if q.type == "preference":
        return rng.choice([*order, TIE, BOTH_BAD])
    return f"because {rng.randint(0, 999)}"


def answer_all(rubric: Rubric, order: list[str], rng: random.Random) -> tuple[dict[str, Any], set[tuple[Any, ...]]]:
    """Argilla response values for every question slot, and the table rows they must give."""
    values: dict[str, Any] = {}
    rows: set[tuple[Any, ...]] = set()
    for q in rubric.questions:
        targets = list(enumerate(order)) if q.scope == "candidate" else [(None, "")]
        for pos, cid in targets:
            native = random_answer(q, order, rng)
            slot = slot_name(q.name, pos) if pos is not None else q.name
            values[slot] = argilla_value(q, native, order)
            rows.add((cid, q.name, json.dumps(native)))
    return values, rows


def table_rows(table: Any) -> set[tuple[Any, ...]]:
    return {(r.item_id, r.candidate_id, r.question, r.annotator, json.dumps(r.value), r.status)
            for r in table.itertuples()}


@pytest.mark.parametrize("pack", PACKS)
def test_pulled_values_equal_what_each_annotator_submitted(
    pack: str, argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    rubric = load_rubric(pack)
    n_cands = 3 if pack == "deal-closer" else 2
    samples = make_samples(5, n_candidates=n_cands)
    name = unique_name(pack)
    backend = ArgillaBackend()
    pushed = backend.push(samples, rubric, PushOptions(target=name, annotators_per_item=3))
    assert (pushed.created, pushed.n_added, pushed.n_existing) == (True, 5, 0)

    dataset = argilla_api.dataset(name)
    assert dataset["distribution"] == {"strategy": "overlap", "min_submitted": 3}
    records = argilla_api.records(dataset["id"])
    assert len(records) == 5
    rng = random.Random(pack)
    expected: set[tuple[Any, ...]] = set()
    for k, username in enumerate(["ann1", "ann2", "ann3"]):
        ann = argilla_api.annotator(username)
        for i, record in enumerate(records):
            sid, order = record["metadata"]["brun_sample_id"], record["metadata"]["brun_order"]
            status = "submitted" if (i + k) % 4 else ("draft" if k == 1 else "discarded")
            if status == "discarded" and i % 2:
                ann.submit(record["id"], None, "discarded")
                expected.add((sid, "", rubric.preference_question().name, username, "null", "discarded"))  # type: ignore[union-attr]
                continue
            values, rows = answer_all(rubric, order, rng)
            ann.submit(record["id"], values, status)
            expected |= {(sid, cid, q, username, v, status) for cid, q, v in rows}

    result = backend.pull(None, PullOptions(target=name, include_judge=False))
    assert result.invalid == []
    assert result.n_items == 5
    assert table_rows(result.table) == expected
    assert set(result.table["platform"]) == {"argilla"}
    assert result.table["submitted_at"].str.endswith("Z").all()


def test_judge_scores_are_suggestions_and_come_back_as_judge_rows(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    rubric = load_rubric("de-escalation")
    samples = []
    for s in make_samples(3, judge=True):
        raw = s.to_dict()
        raw["candidates"][0]["judge"] = {"tone_zone": -2, "liability_flags": ["admits_fault"]}
        raw["candidates"][1]["judge"] = {"tone_zone": 1}
        samples.append(sample_from_dict(raw))
    name = unique_name("judge")
    ArgillaBackend().push(samples, rubric, PushOptions(target=name, show_judge=True))
    records = argilla_api.records(argilla_api.dataset(name)["id"])
    assert {s["agent"] for r in records for s in r["suggestions"]} == {"judge-model"}
    table = ArgillaBackend().pull(rubric, PullOptions(target=name)).table
    judged = table[table["annotator"] == "judge:judge-model"]
    got = {(r.item_id, r.candidate_id, r.question, json.dumps(r.value)) for r in judged.itertuples()}
    want = set()
    for s in samples:
        c0, c1 = s.candidates[0].id, s.candidates[1].id
        want |= {(s.id, c0, "tone_zone", "-2"), (s.id, c0, "liability_flags", '["admits_fault"]'),
                 (s.id, c1, "tone_zone", "1"), (s.id, "", "preference", json.dumps(c0))}
    assert got == want
    assert ArgillaBackend().pull(rubric, PullOptions(target=name, include_judge=False)).table.empty


def test_repush_adds_nothing_and_an_extended_file_adds_only_new_records(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    rubric = load_rubric("socratic-mentor")
    name = unique_name("repush")
    backend = ArgillaBackend()
    first = backend.push(make_samples(20), rubric, PushOptions(target=name))
    again = backend.push(make_samples(20), rubric, PushOptions(target=name))
    more = backend.push(make_samples(25), rubric, PushOptions(target=name))
    assert (first.n_added, again.n_added, again.n_existing, more.n_added, more.n_existing) == (20, 0, 20, 5, 20)
    assert not again.created and not more.created
    records = argilla_api.records(argilla_api.dataset(name)["id"])
    assert sorted(r["external_id"] for r in records) == sorted(f"s{i}" for i in range(25))
    dry = backend.push(make_samples(30), rubric, PushOptions(target=name, dry_run=True))
    assert (dry.n_added, dry.dry_run) == (5, True)
    assert len(argilla_api.records(argilla_api.dataset(name)["id"])) == 25


def test_an_interrupted_push_ends_with_exactly_the_right_records_when_rerun(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    rubric = load_rubric("de-escalation")
    name = unique_name("killed")
    samples = make_samples(12)

    def die_after_first_batch(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ArgillaBackend().push(samples, rubric, PushOptions(target=name, chunk_size=5), die_after_first_batch)
    dataset_id = argilla_api.dataset(name)["id"]
    assert len(argilla_api.records(dataset_id)) == 5
    rerun = ArgillaBackend().push(samples, rubric, PushOptions(target=name, chunk_size=5))
    assert (rerun.n_existing, rerun.n_added) == (5, 7)
    records = argilla_api.records(dataset_id)
    assert sorted(r["external_id"] for r in records) == sorted(s.id for s in samples)


def test_a_push_killed_midway_and_rerun_ends_with_exactly_the_right_records(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    name = unique_name("sigkill")
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in make_samples(3000)))
    cmd = [sys.executable, "-c", "from brun_label.cli import main; main()", "push", str(samples), "--to", "argilla", "--dataset", name,
           "--rubric", "de-escalation"]
    proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline and proc.poll() is None:
            datasets = argilla_api.http.get("/api/v1/me/datasets", params={"name": name}).json()["items"]
            if datasets and datasets[0]["status"] == "ready":
                count = argilla_api.http.get(f"/api/v1/datasets/{datasets[0]['id']}/records",
                                             params={"limit": 1}).json()["total"]
                if count > 0:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    dataset_id = argilla_api.dataset(name)["id"]
    partial = len(argilla_api.records(dataset_id))
    assert 0 < partial < 3000, partial  # killed midway
    rerun = subprocess.run([*cmd, "--json"], env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["n_existing"] + summary["n_added"] == 3000 and summary["n_existing"] >= partial
    records = argilla_api.records(dataset_id)
    assert sorted(r["external_id"] for r in records) == sorted(f"s{i}" for i in range(3000))


def test_a_dataset_left_in_draft_by_an_interrupted_creation_is_recreated(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    name = unique_name("draft")
    argilla_api.http.post("/api/v1/datasets", json={"name": name, "workspace_id": argilla_api.workspace_id()}
                          ).raise_for_status()
    assert argilla_api.dataset(name)["status"] == "draft"
    result = ArgillaBackend().push(make_samples(3), load_rubric("de-escalation"), PushOptions(target=name))
    assert result.created and result.n_added == 3 and "draft" in result.notes[0]
    assert argilla_api.dataset(name)["status"] == "ready"


def test_annotators_per_item_sets_the_task_distribution_and_records_complete_accordingly(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    rubric = load_rubric("de-escalation")
    name = unique_name("distribution")
    backend = ArgillaBackend()
    backend.push(make_samples(2), rubric, PushOptions(target=name, annotators_per_item=3))
    changed = backend.push(make_samples(2), rubric, PushOptions(target=name, annotators_per_item=2))
    assert changed.notes == ["annotators per item changed from 3 to 2"]
    dataset = argilla_api.dataset(name)
    record = argilla_api.records(dataset["id"])[0]
    values, _ = answer_all(rubric, record["metadata"]["brun_order"], random.Random(0))
    argilla_api.annotator("ann1").submit(record["id"], values)
    assert argilla_api.progress(dataset["id"])["completed"] == 0
    # argilla-server 2.8 accepts the change after responses and recomputes record statuses in a
    # background job (run by the local server's rq worker thread); a server that refuses (422)
    # gets a "NOT changed" note instead (see test_argilla_errors).
    lowered = backend.push(make_samples(2), rubric, PushOptions(target=name, annotators_per_item=1))
    assert lowered.notes == ["annotators per item changed from 2 to 1"]
    assert argilla_api.dataset(name)["distribution"]["min_submitted"] == 1
    deadline = time.monotonic() + 20
    while argilla_api.progress(dataset["id"])["completed"] != 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert argilla_api.progress(dataset["id"])["completed"] == 1


def test_a_dataset_of_another_rubric_is_refused(argilla_env: ServerInfo) -> None:
    name = unique_name("conflict")
    ArgillaBackend().push(make_samples(1), load_rubric("de-escalation"), PushOptions(target=name))
    from brun_label.errors import ConflictError

    with pytest.raises(ConflictError, match="does not match rubric 'deal-closer'"):
        ArgillaBackend().push(make_samples(1), load_rubric("deal-closer"), PushOptions(target=name))


def test_cli_push_pull_round_trip_with_the_issue_commands(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI, tmp_path: Path
) -> None:
    argilla_api.workspace_id("team")
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in make_samples(4, judge=True)))
    runner = CliRunner()
    args = ["push", str(samples), "--to", "argilla", "--dataset", "crisis-replies-v1", "--workspace", "team",
            "--rubric", "de-escalation", "--annotators-per-item", "3", "--json"]
    out = runner.invoke(cli, args)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["n_added"] == 4
    again = runner.invoke(cli, args)
    assert json.loads(again.stdout)["n_added"] == 0
    dataset = argilla_api.dataset("crisis-replies-v1", "team")
    rubric = load_rubric("de-escalation")
    expected = set()
    owner_view = {r["id"]: r for r in argilla_api.records(dataset["id"])}
    for username in ("ann1", "ann2", "ann3"):
        ann = argilla_api.annotator(username, "team")
        for record in ann.queue(dataset["id"], ["pending"])["items"]:
            rec = record["record"]
            assert set(rec["metadata"]) == {"category"}  # the recorded order is hidden from annotators
            order = owner_view[rec["id"]]["metadata"]["brun_order"]
            values, rows = answer_all(rubric, order, random.Random(username))
            ann.submit(rec["id"], values)
            expected |= {(rec["external_id"], c, q, username, v, "submitted") for c, q, v in rows}
    output = tmp_path / "ann.parquet"
    pulled = runner.invoke(cli, ["pull", "--from", "argilla", "--dataset", "crisis-replies-v1", "--workspace",
                                 "team", "-o", str(output), "--no-judge", "--json"])
    assert pulled.exit_code == 0, pulled.output
    summary = json.loads(pulled.stdout)
    assert summary["annotators"] == ["ann1", "ann2", "ann3"] and summary["items"] == 4
    assert table_rows(read_annotations(output)) == expected
    assert argilla_api.progress(dataset["id"])["completed"] == 4
    for username in ("ann1", "ann2", "ann3"):
        metrics = argilla_api.annotators[username].metrics(dataset["id"])["responses"]
        assert metrics == {"total": 4, "submitted": 4, "discarded": 0, "draft": 0, "pending": 0}


def test_every_rubric_pack_renders_settings_the_real_server_accepts(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    import argilla as rg

    client = rg.Argilla(api_url=argilla_env.url, api_key=argilla_env.api_key)
    runner = CliRunner()
    for pack in PACKS:
        shown = runner.invoke(cli, ["rubric", "show", pack, "--format", "argilla"])
        assert shown.exit_code == 0, shown.output
        settings = rg.Settings._from_dict(json.loads(shown.stdout))
        name = unique_name(f"settings-{pack}")
        rg.Dataset(name=name, workspace="default", settings=settings, client=client).create()
        dataset = argilla_api.dataset(name)
        assert dataset["status"] == "ready"
        questions = argilla_api.http.get(f"/api/v1/datasets/{dataset['id']}/questions").json()["items"]
        assert {q["name"] for q in questions} == {q.name for q in settings.questions}


def test_an_admin_pulls_with_usernames_and_an_annotator_is_told_they_may_not(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    from brun_label.errors import AuthenticationError

    rubric = load_rubric("de-escalation")
    name = unique_name("roles")
    ArgillaBackend().push(make_samples(2), rubric, PushOptions(target=name))
    record = argilla_api.records(argilla_api.dataset(name)["id"])[0]
    values, _ = answer_all(rubric, record["metadata"]["brun_order"], random.Random(1))
    argilla_api.annotator("gina").submit(record["id"], values)
    admin = argilla_api.http.post("/api/v1/users", json={"username": "adam", "first_name": "adam",
                                                         "password": "admin-pw-1234", "role": "admin"}).json()
    argilla_api.http.post(f"/api/v1/workspaces/{argilla_api.workspace_id()}/users",
                          json={"user_id": admin["id"]}).raise_for_status()
    admin_key = argilla_api.http.get(f"/api/v1/users/{admin['id']}").json()["api_key"]
    table = ArgillaBackend(api_key=admin_key).pull(None, PullOptions(target=name, include_judge=False)).table
    assert set(table["annotator"]) == {"gina"}
    with pytest.raises(AuthenticationError, match="may not"):
        ArgillaBackend(api_key=argilla_api.annotators["gina"].api_key).pull(None, PullOptions(target=name))
