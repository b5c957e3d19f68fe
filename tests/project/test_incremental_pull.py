"""Incremental project pulls against the real servers: the table equals a full pull's after
creations, updates, drafts, skips and deletions, and only what changed is read again.

Label Studio 1.23.2 and argilla-server 2.8.0, one server each per test session (tests/fixtures);
every change is made through the servers' own REST APIs, the way their UIs make them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from brun_label.backends import label_studio_changes
from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PullOptions, PushOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.incremental import canonical_order
from brun_label.layout import candidate_order
from brun_label.model import Sample, sample_from_dict
from brun_label.project import project_from_dict
from brun_label.project_pull import STATE_FILE, pull_project
from brun_label.rubrics import load_rubric
from tests.fixtures.argilla import unique_name
from tests.fixtures.label_studio import choices, textarea

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")


def samples(n: int, start: int = 0) -> list[Sample]:
    """``n`` two-candidate samples; every other one carries judge answers (Label Studio predictions)."""
    out = []
    for i in range(start, start + n):
        raw: dict[str, Any] = {"id": f"inc-{i:03d}", "prompt": f"Customer {i} is upset about order {i}.",
                               "candidates": [{"id": f"inc-{i:03d}-a", "text": f"We hear you, customer {i}."},
                                              {"id": f"inc-{i:03d}-b", "text": f"Not our fault, customer {i}."}]}
        if i % 2 == 0:
            raw["judge_model"] = "judge-x"
            raw["judge"] = {"preference": f"inc-{i:03d}-a"}
            raw["candidates"][0]["judge"] = {"tone_zone": 0, "liability_flags": []}
        out.append(sample_from_dict(raw))
    return out


def ls_result(order: list[str], preferred: str, tone: str = "0") -> list[dict[str, Any]]:
    """A Label Studio answer: the tone of candidate a, a flag on b, the preference, a rationale."""
    pref = preferred if preferred in ("tie", "both_bad") else "ab"[order.index(preferred)]
    return [choices("tone_zone_a", "candidate_a", tone), choices("liability_flags_b", "candidate_b", "admits_fault"),
            choices("preference", "prompt", pref), textarea("rationale", "prompt", f"because {preferred}")]


def same_table(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


@pytest.fixture
def no_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read again only what changed after the last pull started (the tests wait out the clock's second)."""
    monkeypatch.setattr(label_studio_changes, "MARGIN", 0.0)


def test_label_studio_incremental_pull_equals_a_full_pull(label_studio_server, label_studio_admin, ls_project_title,
                                                          tmp_path: Path, no_margin: None) -> None:
    info, admin, title = label_studio_server, label_studio_admin, ls_project_title
    backend = LabelStudioBackend(url=info.url, api_key=info.api_key)
    pushed = samples(12)
    backend.push(pushed, RUBRIC, PushOptions(target=title))
    tasks = {t["data"]["brun_sample_id"]: t for t in admin.tasks(title)}
    order = {s.id: candidate_order(s) for s in pushed}
    ann: dict[str, int] = {}
    for i, s in enumerate(pushed[:8]):
        ann[s.id] = admin.annotate(tasks[s.id]["id"], ls_result(order[s.id], s.candidates[i % 2].id), "ana@example.org")
    admin.annotate(tasks["inc-008"]["id"], ls_result(order["inc-008"], "tie"), "ben@example.org")
    admin.annotate(tasks["inc-009"]["id"], [], "ben@example.org", skipped=True)
    draft_gone = admin.draft(tasks["inc-010"]["id"], ls_result(order["inc-010"], "both_bad"))
    admin.draft(tasks["inc-011"]["id"], ls_result(order["inc-011"], "inc-011-a"))
    project = project_from_dict({"samples": "s.jsonl", "rubric": "de-escalation",
                                 "platforms": {"label-studio": {"project": title}}})

    def make(platform: str, target: Any) -> LabelStudioBackend:
        return LabelStudioBackend(url=info.url, api_key=info.api_key)

    time.sleep(1.1)  # the last pull's start is read to the second: the setup is before it
    first = pull_project(project, RUBRIC, make, full=True, state_dir=tmp_path / "state")
    assert first.modes == {"label-studio": "full"} and (tmp_path / "state" / STATE_FILE).is_file()
    time.sleep(1.1)

    # every kind of change, through the REST API
    admin.annotate(tasks["inc-000"]["id"], ls_result(order["inc-000"], "inc-000-b", "1"), "ben@example.org")  # new
    admin.http.patch(f"/api/annotations/{ann['inc-001']}/",
                     json={"result": ls_result(order["inc-001"], "tie", "-1")}).raise_for_status()  # updated
    admin.http.delete(f"/api/annotations/{ann['inc-002']}/").raise_for_status()  # deleted
    admin.annotate(tasks["inc-003"]["id"], [], "cy@example.org", skipped=True)  # a skip
    admin.http.delete(f"/api/drafts/{draft_gone}/").raise_for_status()  # a draft deleted (task untouched)
    admin.draft(tasks["inc-004"]["id"], ls_result(order["inc-004"], "both_bad"))  # a new draft
    admin.http.delete(f"/api/tasks/{tasks['inc-005']['id']}/").raise_for_status()  # a task deleted
    backend.push(samples(2, start=12), RUBRIC, PushOptions(target=title))  # new tasks
    new_task = {t["data"]["brun_sample_id"]: t for t in admin.tasks(title)}["inc-012"]
    admin.annotate(new_task["id"], ls_result(candidate_order(samples(1, 12)[0]), "inc-012-a"), "ana@example.org")

    second = pull_project(project, RUBRIC, make, full=False, state_dir=tmp_path / "state")
    full = pull_project(project, RUBRIC, make, full=True, state_dir=tmp_path / "other")
    assert second.modes == {"label-studio": "incremental"}, second.notes
    same_table(second.platform_tables["label-studio"], full.platform_tables["label-studio"])
    same_table(second.table, full.table)
    assert second.invalid == full.invalid
    # the task the backend pulls itself agrees too
    plain = backend.pull(RUBRIC, PullOptions(target=title)).table
    same_table(second.platform_tables["label-studio"], canonical_order(plain))
    assert "inc-005" not in set(second.table["item_id"]) and "inc-012" in set(second.table["item_id"])
    statuses = second.table.groupby("status")["item_id"].nunique().to_dict()
    assert statuses["draft"] == 2 and statuses["skipped"] == 2
    # read again: the 7 changed tasks, the 2 new ones, the 2 that have drafts now (one of them changed)
    # and the one whose draft was deleted; never the 4 untouched ones
    assert 8 <= second.items_read["label-studio"] <= 11
    assert second.server_counts["label-studio"]["task_number"] == 13

    # nothing changed: only the tasks with drafts are read again, and the table is the same
    time.sleep(1.1)
    pull_project(project, RUBRIC, make, full=False, state_dir=tmp_path / "state")  # past the last change's second
    third = pull_project(project, RUBRIC, make, full=False, state_dir=tmp_path / "state")
    assert third.modes == {"label-studio": "incremental"} and third.items_read["label-studio"] == 2
    same_table(third.table, full.table)


def test_label_studio_falls_back_to_a_full_pull_when_the_state_cannot_be_trusted(
        label_studio_server, label_studio_admin, ls_project_title, tmp_path: Path, no_margin: None) -> None:
    info, admin, title = label_studio_server, label_studio_admin, ls_project_title
    backend = LabelStudioBackend(url=info.url, api_key=info.api_key)
    pushed = samples(40)
    backend.push(pushed, RUBRIC, PushOptions(target=title))
    project = project_from_dict({"samples": "s.jsonl", "rubric": "de-escalation",
                                 "platforms": {"label-studio": {"project": title}}})

    def make(platform: str, target: Any) -> LabelStudioBackend:
        return LabelStudioBackend(url=info.url, api_key=info.api_key)

    state = tmp_path / "state"
    first = pull_project(project, RUBRIC, make, full=False, state_dir=state)
    assert first.modes == {"label-studio": "full"} and any("no earlier pull" in n for n in first.notes)
    # two deleted tasks are found by bisection (no full pull)
    tasks = {t["data"]["brun_sample_id"]: t["id"] for t in admin.tasks(title)}
    for sid in ("inc-007", "inc-031"):
        admin.http.delete(f"/api/tasks/{tasks[sid]}/").raise_for_status()
    second = pull_project(project, RUBRIC, make, full=False, state_dir=state)
    assert second.modes == {"label-studio": "incremental"}, second.notes
    full = pull_project(project, RUBRIC, make, full=True, state_dir=tmp_path / "other")
    same_table(second.table, full.table)
    assert {"inc-007", "inc-031"}.isdisjoint(set(second.table["item_id"]))
    # a cached table changed behind our back: a full pull, said so
    cache = next(state.glob("pulled-*.parquet"))
    cache.write_bytes(cache.read_bytes()[:-10])
    third = pull_project(project, RUBRIC, make, full=False, state_dir=state)
    assert third.modes == {"label-studio": "full"} and any("cached" in n for n in third.notes)
    same_table(third.table, full.table)
    # other options than the state's: a full pull
    fourth = pull_project(project, RUBRIC, make, full=False, state_dir=state, include_judge=False)
    assert fourth.modes == {"label-studio": "full"} and any("include judge" in n for n in fourth.notes)


def test_argilla_incremental_pull_equals_a_full_pull(argilla_server, argilla_api, tmp_path: Path) -> None:
    info, api = argilla_server, argilla_api
    name = unique_name("incremental")
    backend = ArgillaBackend(url=info.url, api_key=info.api_key)
    pushed = samples(10)
    backend.push(pushed, RUBRIC, PushOptions(target=name, annotators_per_item=2))
    dataset = api.dataset(name)
    records = {r["external_id"]: r for r in api.records(dataset["id"])}
    ana, ben = api.annotator("inc-ana"), api.annotator("inc-ben")
    order = {s.id: candidate_order(s) for s in pushed}

    def values(sid: str, preferred: str, tone: str = "0") -> dict[str, Any]:
        pref = preferred if preferred in ("tie", "both_bad") else "ab"[order[sid].index(preferred)]
        return {"tone_zone_a": tone, "tone_zone_b": "1", "liability_flags_b": ["admits_fault"], "preference": pref,
                "rationale": f"because {preferred}"}

    responses = {}
    for s in pushed[:6]:
        responses[s.id] = ana.submit(records[s.id]["id"], values(s.id, s.candidates[0].id))
    ben.submit(records["inc-006"]["id"], values("inc-006", "tie"), status="draft")
    ben.submit(records["inc-007"]["id"], None, status="discarded")
    project = project_from_dict({"samples": "s.jsonl", "rubric": "de-escalation",
                                 "platforms": {"argilla": {"dataset": name}}})

    def make(platform: str, target: Any) -> ArgillaBackend:
        return ArgillaBackend(url=info.url, api_key=info.api_key)

    state = tmp_path / "state"
    first = pull_project(project, RUBRIC, make, full=True, state_dir=state)
    assert first.modes == {"argilla": "full"}
    ben.submit(records["inc-000"]["id"], values("inc-000", "both_bad", "1"))  # new
    ana.http.put(f"/api/v1/responses/{responses['inc-001']['id']}",
                 json={"values": {k: {"value": v} for k, v in values("inc-001", "tie", "-1").items()},
                       "status": "submitted"}).raise_for_status()  # updated
    ana.http.delete(f"/api/v1/responses/{responses['inc-002']['id']}").raise_for_status()  # deleted
    ben.submit(records["inc-003"]["id"], values("inc-003", "tie"), status="draft")  # a draft
    api.http.delete(f"/api/v1/datasets/{dataset['id']}/records",
                    params={"ids": records["inc-004"]["id"]}).raise_for_status()  # a record deleted
    backend.push(samples(1, start=10), RUBRIC, PushOptions(target=name))  # a new record

    second = pull_project(project, RUBRIC, make, full=False, state_dir=state)
    full = pull_project(project, RUBRIC, make, full=True, state_dir=tmp_path / "other")
    assert second.modes == {"argilla": "incremental"}, second.notes
    same_table(second.platform_tables["argilla"], full.platform_tables["argilla"])
    same_table(second.table, full.table)
    plain = backend.pull(RUBRIC, PullOptions(target=name)).table
    same_table(second.platform_tables["argilla"], canonical_order(plain))
    assert "inc-004" not in set(second.table["item_id"]) and "inc-010" in set(second.table["item_id"])
    # decoded again: the four records whose responses changed and the new one
    assert second.items_read["argilla"] == 5
    counts = second.server_counts["argilla"]
    assert counts["records"] == 10 and counts["draft"] == 2 and counts["discarded"] == 1
    third = pull_project(project, RUBRIC, make, full=False, state_dir=state)
    assert third.items_read["argilla"] == 0
    same_table(third.table, full.table)
