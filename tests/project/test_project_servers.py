"""One project across both real servers: gold mixed in and scored, routing, adjudication, people.

Against the session's real Label Studio and Argilla: the project's push masks every id and mixes
gold in, people answer on both platforms (one person on both), the project pull merges and names
them, ``route`` gives exactly one more slot to a disputed item and none to a clear one, and an
adjudicated decision overrides the annotators' votes in the export. On Label Studio alone, an
adaptive project's default reliability-weighted consensus routes the items an unreliable person
agreed on, which counted votes would have cleared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from brun_label.agreement.gold import gold_scores
from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.argilla_annotators import ensure_annotator as argilla_annotator
from brun_label.backends.argilla_annotators import submit_answers as argilla_submit
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.backends.label_studio_annotators import submit_answers as ls_submit
from brun_label.backends.label_studio_routing import task_overlaps
from brun_label.cli.project_commands import _pull_round_datasets
from brun_label.exporters.adjudicated import select_with_adjudication
from brun_label.exporters.pairs import candidates_frame
from brun_label.masking import item_key
from brun_label.project import project_from_dict
from brun_label.project_adjudicate import (
    adjudication_samples,
    adjudication_target,
    pull_decisions,
    push_adjudication,
)
from brun_label.project_pull import pull_project
from brun_label.project_push import push_project
from brun_label.project_route import apply, gates_of, load_state, plan
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import unique_name

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")


def _sample(i: str, n: int, category: str = "billing") -> dict[str, Any]:
    return {"id": i, "category": category, "prompt": f"Scenario {n}: you broke my account!",
            "candidates": [{"id": f"{i}-a", "text": f"I hear you ({n}); here is what I can do."},
                           {"id": f"{i}-b", "text": f"So sorry ({n}), it is all our fault, full refund!"}]}


def _rows(item: str, a_zone: int, b_zone: int, pref: str, at: str, flagged: str = "b") -> list[dict[str, Any]]:
    flags = {"a": [], "b": [], flagged: ["admits_fault"]}
    return [{"item_id": item, "candidate_id": f"{item}-a", "question": "tone_zone", "value": a_zone, "submitted_at": at},
            {"item_id": item, "candidate_id": f"{item}-a", "question": "liability_flags", "value": flags["a"],
             "submitted_at": at},
            {"item_id": item, "candidate_id": f"{item}-b", "question": "tone_zone", "value": b_zone, "submitted_at": at},
            {"item_id": item, "candidate_id": f"{item}-b", "question": "liability_flags", "value": flags["b"],
             "submitted_at": at},
            {"item_id": item, "candidate_id": "", "question": "preference", "value": pref, "submitted_at": at}]


def _masked(rows: list[dict[str, Any]], keys: Any) -> list[dict[str, Any]]:
    to_key = {v: k for k, v in keys.items.items()}
    to_ckey = {v: k for k, v in keys.candidates.items()}
    out = []
    for r in rows:
        r = dict(r)
        r["item_id"] = to_key[r["item_id"]]
        if r["candidate_id"]:
            r["candidate_id"] = to_ckey[r["candidate_id"]]
        if r["question"] == "preference" and r["value"] in to_ckey:
            r["value"] = to_ckey[r["value"]]
        out.append(r)
    return out


@pytest.fixture
def project(tmp_path: Path, label_studio_server: ServerInfo, argilla_server: ServerInfo, argilla_api: Any):
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(_sample(f"s{i}", i)) + "\n" for i in range(6)))
    gold = tmp_path / "gold.jsonl"
    g = _sample("gold-1", 17)
    g["candidates"][0]["gold"] = {"tone_zone": 0, "liability_flags": []}
    g["candidates"][1]["gold"] = {"tone_zone": -2}
    gold.write_text(json.dumps(g) + "\n")
    ws = unique_name("ws")
    argilla_api.workspace_id(ws)
    p = project_from_dict({
        "samples": str(samples), "rubric": "de-escalation", "gold": str(gold), "gold_share": 0.1,
        "pseudonym_salt": "test-salt", "overlap": 2, "max_overlap": 3,
        "table": str(tmp_path / ".brun-label" / "project" / "annotations.parquet"),
        "gates": {"min_annotators": 2},
        # Six items are too few for the default weighted consensus of adaptive projects to learn who
        # is reliable (it would extend every item: tests/exporters/test_pairs_dawid_skene.py); the
        # platforms' routing mechanics are what this test is about, so count votes.
        "consensus": "share",
        "platforms": {"label-studio": {"project": unique_name("Loop")[:40], "url": label_studio_server.url},
                      "argilla": {"dataset": unique_name("loop"), "workspace": ws, "url": argilla_server.url}},
        "people": [{"name": "Ana", "label-studio": "ana@corp.test", "argilla": "ana"},
                   {"name": "Bo", "label-studio": "bo@corp.test"},
                   {"name": "Cy", "argilla": "cy"},
                   {"name": "Dee", "label-studio": "dee@corp.test", "argilla": "dee"}],
        "adjudicators": ["Dee"],
    })
    ls = LabelStudioBackend(url=label_studio_server.url, api_key=label_studio_server.api_key)
    ar = ArgillaBackend(url=argilla_server.url, api_key=argilla_server.api_key)
    backends = {"label-studio": ls, "argilla": ar}
    return p, backends, ws


def test_one_project_across_both_servers(project, label_studio_admin: Any, argilla_server: ServerInfo,
                                         monkeypatch: pytest.MonkeyPatch):
    argilla_env = argilla_server.env
    p, backends, ws = project

    def make(platform: str, target: Any) -> Any:
        return backends[platform]

    pushed, results = push_project(p, RUBRIC, make)
    assert pushed.gold_ids == ["gold-1"] and results["label-studio"].n_added == 7
    again = push_project(p, RUBRIC, make)[1]
    assert again["label-studio"].n_added == 0 and again["argilla"].n_added == 0
    # nothing on the platform tells the gold item apart: every id is an opaque key
    tasks = label_studio_admin.tasks(p.targets["label-studio"].target)
    assert len(tasks) == 7
    assert all(t["data"]["brun_sample_id"].startswith("t-") for t in tasks)
    assert all(c.startswith("c-") for t in tasks for c in t["data"]["brun_order"])
    assert not any("gold" in json.dumps(t["data"]) for t in tasks)
    assert item_key("test-salt", "gold-1") in {t["data"]["brun_sample_id"] for t in tasks}

    ls, ar = backends["label-studio"], backends["argilla"]
    title, dataset = p.targets["label-studio"].target, p.targets["argilla"].target
    keys = pushed.keys
    # Label Studio: Ana and Bo agree on s0..s3, disagree on s4 (Bo calls A soft); Ana answers gold right
    ana_ls = [r for i in range(5) for r in _rows(f"s{i}", 0, -2, f"s{i}-a", "2026-01-01T10:00:00Z")]
    ana_ls += _rows("gold-1", 0, -2, "gold-1-a", "2026-01-01T10:00:00Z")
    bo_ls = [r for i in range(4) for r in _rows(f"s{i}", 0, -2, f"s{i}-a", "2026-01-01T11:00:00Z")]
    bo_ls += _rows("s4", -1, -2, "tie", "2026-01-01T11:00:00Z")
    assert ls_submit(ls, RUBRIC, title, "ana@corp.test", _masked(ana_ls, keys)) == 6
    assert ls_submit(ls, RUBRIC, title, "bo@corp.test", _masked(bo_ls, keys)) == 5
    # Argilla: Ana answers s5 (and s0 again, later: her later answer counts once); Cy answers s5 and gold wrong
    key_ana = argilla_annotator(ar, "ana", "annotator-pw-123", ws)
    key_cy = argilla_annotator(ar, "cy", "annotator-pw-123", ws)
    ana_ar = _rows("s5", 0, -2, "s5-a", "2026-01-02T10:00:00Z") + _rows("s0", 0, -2, "s0-a", "2026-01-03T10:00:00Z")
    cy_ar = _rows("s5", 0, -2, "s5-a", "2026-01-02T12:00:00Z") + _rows("gold-1", -2, 0, "gold-1-b", "2026-01-02T12:00:00Z")
    assert argilla_submit(ar, RUBRIC, dataset, "ana", key_ana, _masked(ana_ar, keys), workspace=ws) == 2
    assert argilla_submit(ar, RUBRIC, dataset, "cy", key_cy, _masked(cy_ar, keys), workspace=ws) == 2

    pulled = pull_project(p, RUBRIC, make, keys=keys)
    table = pulled.table
    assert set(table["item_id"]) == {f"s{i}" for i in range(6)} | {"gold-1"}
    people = sorted(a for a in table["annotator"].unique() if not a.startswith("judge:"))
    assert people == ["Ana", "Bo", "Cy"]
    # Ana answered s0 on both platforms: one voter, the later (Argilla) answer
    s0_ana = table[(table["item_id"] == "s0") & (table["annotator"] == "Ana")]
    assert set(s0_ana["platform"]) == {"argilla"} and pulled.people.cross_platform_duplicates == 5

    # gold: Ana right, Cy wrong, scored with intervals
    scores = gold_scores(table, pushed.gold_answers, RUBRIC).set_index("annotator")
    assert scores.loc["Ana", "exact"] == 1.0 and scores.loc["Cy", "exact"] == pytest.approx(1 / 3)
    assert scores.loc["Ana", "n"] == 3

    # route: s4 (split) gets exactly one more slot; the clear ones none
    state = load_state(p)
    decision, _ = plan(p, RUBRIC, table, pushed, state)
    assert decision.extend == ["s4"] and "s0" in decision.clear and "gold-1" not in decision.clear + decision.extend
    applied = apply(p, RUBRIC, decision, pushed, state, make)
    assert applied["label-studio"]["tasks_changed"] == {"3": 1}
    overlaps = task_overlaps(ls, title)
    s4_key = item_key("test-salt", "s4")
    assert overlaps[s4_key] == 3 and all(v == 2 for k, v in overlaps.items() if k != s4_key)
    assert applied["argilla"] == {"round_dataset": f"{dataset}-round-2", "records": 1}
    assert load_state(p).round == 2
    # an answer in the round dataset comes back with the project pull, unmasked and named
    assert argilla_submit(ar, RUBRIC, f"{dataset}-round-2", "cy", key_cy,
                          _masked(_rows("s4", 0, -2, "s4-a", "2026-01-04T10:00:00Z"), keys), workspace=ws) == 1
    for key, value in argilla_env.items():
        monkeypatch.setenv(key, value)
    rounds = _pull_round_datasets(p, RUBRIC, keys)
    assert set(rounds["item_id"]) == {"s4"} and set(rounds["annotator"]) == {"Cy"}
    # re-running route changes nothing on Label Studio (targets already applied)
    again_plan, _ = plan(p, RUBRIC, table, pushed, load_state(p))
    assert again_plan.waiting == ["s4"] and not again_plan.extend

    # adjudication: Dee decides s4 for B (against the votes); Bo's answer there is not a decision
    samples = adjudication_samples(table, [s for s in pushed.originals if s.id == "s4"], RUBRIC)
    assert "Answers so far (2 annotators)" in str(samples[0].prompt)
    push_adjudication(p, RUBRIC, samples, make)
    adj_title = adjudication_target("label-studio", title)
    ls_submit(ls, RUBRIC, adj_title, "dee@corp.test", _rows("s4", -2, 0, "s4-b", "2026-01-05T10:00:00Z", flagged="a"))
    ls_submit(ls, RUBRIC, adj_title, "bo@corp.test", _rows("s4", 0, -2, "s4-a", "2026-01-05T11:00:00Z"))
    decisions, notes = pull_decisions(p, RUBRIC, make)
    assert set(decisions["annotator"]) == {"adjudicator:Dee"}
    assert any("Bo" in n for n in notes)
    full = pd.concat([table, decisions], ignore_index=True)
    originals = [s for s in pushed.originals if s.id not in pushed.gold_ids]
    sel = select_with_adjudication(full, candidates_frame([(s.id, [c.id for c in s.candidates]) for s in originals]),
                                   RUBRIC, gates_of(p))
    s4 = sel.pairs[sel.pairs["item_id"] == "s4"]
    assert s4[["chosen_id", "rejected_id", "adjudicated_by"]].values.tolist() == [["s4-b", "s4-a", "Dee"]]
    assert "gold-1" not in set(sel.pairs["item_id"])


def test_route_by_the_default_weighted_consensus_on_label_studio(tmp_path: Path, label_studio_server: ServerInfo):
    """An adaptive project weighs votes: two agreeing people clear an item only when both are reliable."""
    n = 24
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(_sample(f"s{i}", i)) + "\n" for i in range(n)))
    raw = {
        "samples": str(samples), "rubric": "de-escalation", "overlap": 2, "max_overlap": 3,
        "table": str(tmp_path / ".brun-label" / "project" / "annotations.parquet"),
        "platforms": {"label-studio": {"project": unique_name("Weighed")[:40], "url": label_studio_server.url}},
        "people": [{"name": "Ana", "label-studio": "ana@corp.test"}, {"name": "Bo", "label-studio": "bo@corp.test"},
                   {"name": "Cy", "label-studio": "cy@corp.test"}],
    }
    p = project_from_dict(raw)
    assert gates_of(p).consensus == "dawid-skene" and gates_of(p).min_annotators == 2
    ls = LabelStudioBackend(url=label_studio_server.url, api_key=label_studio_server.api_key)

    def make(platform: str, target: Any) -> Any:
        return ls

    pushed, results = push_project(p, RUBRIC, make)
    assert results["label-studio"].n_added == n and pushed.keys is None
    title = p.targets["label-studio"].target
    # Ana answers everything; Bo agrees with her on s0..s15; Cy contradicts her on s16..s19 and
    # agrees on s20..s23: agreement with Cy says little
    agreed = {i: _rows(f"s{i}", 0, -2, f"s{i}-a", "2026-02-01T11:00:00Z") for i in range(n)}
    ana = [r for i in range(n) for r in _rows(f"s{i}", 0, -2, f"s{i}-a", "2026-02-01T10:00:00Z")]
    bo = [r for i in range(16) for r in agreed[i]]
    cy = [r for i in range(16, 20) for r in _rows(f"s{i}", -2, 0, f"s{i}-b", "2026-02-01T12:00:00Z", flagged="a")]
    cy += [r for i in range(20, n) for r in agreed[i]]
    assert ls_submit(ls, RUBRIC, title, "ana@corp.test", ana) == n
    assert ls_submit(ls, RUBRIC, title, "bo@corp.test", bo) == 16
    assert ls_submit(ls, RUBRIC, title, "cy@corp.test", cy) == 8
    table = pull_project(p, RUBRIC, make).table
    assert sorted(table["annotator"].unique()) == ["Ana", "Bo", "Cy"]

    decision, _ = plan(p, RUBRIC, table, pushed, load_state(p))
    routed = [f"s{i}" for i in range(16, n)]
    assert sorted(decision.extend, key=lambda s: int(s[1:])) == routed and len(decision.clear) == 16
    # counting votes instead would have cleared the items Cy agreed on
    counted, _ = plan(project_from_dict({**raw, "consensus": "share"}), RUBRIC, table, pushed, load_state(p))
    assert sorted(counted.extend, key=lambda s: int(s[1:])) == routed[:4]
    applied = apply(p, RUBRIC, decision, pushed, load_state(p), make)
    assert applied["label-studio"]["tasks_changed"] == {"3": 8}
    overlaps = task_overlaps(ls, title)
    assert {k for k, v in overlaps.items() if v == 3} == set(routed)
    assert all(v == 2 for k, v in overlaps.items() if k not in routed)
