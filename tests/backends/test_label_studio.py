"""The Label Studio backend against a real Label Studio 1.23.2 (one server per test session).

Round trip: push, re-push, extended push, annotations by three users (plus skips, a draft and
answers that do not fit), pull; every question type of every rubric pack; config changes;
interrupted pushes (a lost answer, and a process killed midway).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from brun_label.backends.base import PullOptions, PushOptions, get_backend
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.data import sample_path
from brun_label.errors import BackendConnectionError, ConflictError, NotFoundError
from brun_label.importers.samples import read_samples
from brun_label.layout import candidate_order, count_target
from brun_label.model import Sample, sample_from_dict
from brun_label.render_label_studio import render_label_studio
from brun_label.rubric import Question, Rubric, rubric_from_dict, slot_name
from brun_label.rubrics import load_rubric, pack_names
from tests.fixtures.label_studio import choices, rating, textarea

pytestmark = pytest.mark.server


def _backend(info: Any) -> LabelStudioBackend:
    return LabelStudioBackend(url=info.url, api_key=info.api_key)


def _letter(i: int) -> str:
    return "abcdefghijklmnopqrstuvwxyz"[i]


def region_for(q: Question, rubric: Rubric, position: int | None, value: Any, order: list[str]) -> dict[str, Any]:
    """What the Label Studio UI stores for ``value`` (written here by hand, not by the code under test)."""
    name = q.name if position is None else slot_name(q.name, position)
    to = "prompt" if position is None else f"candidate_{_letter(position)}"
    if q.type == "text":
        return textarea(name, to, value)
    if q.type == "rating" and q.min == 1:
        return rating(name, to, value)
    if q.type == "flags":
        return choices(name, to, *value)
    if q.type == "preference":
        return choices(name, to, value if value in ("tie", "both_bad") else _letter(order.index(value)))
    return choices(name, to, str(value))


def random_answers(rubric: Rubric, sample: Sample, rng: random.Random) -> dict[tuple[str, str], Any]:
    """A valid answer to every question for every candidate: ``{(candidate_id, question): value}``."""
    out: dict[tuple[str, str], Any] = {}
    for q in rubric.questions:
        targets = [c.id for c in sample.candidates] if q.scope == "candidate" else [""]
        for cid in targets:
            if q.type == "flags":
                value: Any = sorted(rng.sample([str(v) for v in q.values()], rng.randint(1, 3)))
            elif q.type == "preference":
                value = rng.choice([c.id for c in sample.candidates] + ["tie", "both_bad"])
            elif q.type == "text":
                value = rng.choice(["Calm, concrete — and kind.", "Zu kühl.\nZweite Zeile", "ok"])
            else:
                value = rng.choice(q.values())
            out[(cid, q.name)] = value
    return out


def regions(rubric: Rubric, order: list[str], answers: dict[tuple[str, str], Any]) -> list[dict[str, Any]]:
    return [region_for(rubric.question(qn), rubric, order.index(cid) if cid else None, v, order)
            for (cid, qn), v in answers.items()]


def rows_of(table: Any, *, humans_only: bool = True) -> set[tuple[Any, ...]]:
    out = set()
    for r in table.to_dict(orient="records"):
        if humans_only and r["annotator"].startswith("judge:"):
            continue
        out.add((r["item_id"], r["candidate_id"], r["question"], r["annotator"], json.dumps(r["value"]), r["status"]))
    return out


def expected_rows(sid: str, who: str, answers: dict[tuple[str, str], Any], status: str = "submitted") -> set[tuple[Any, ...]]:
    return {(sid, cid, qn, who, json.dumps(v), status) for (cid, qn), v in answers.items()}


def with_unticked_flags(expected: set[tuple[Any, ...]], rubric: Rubric,
                        orders: dict[str, list[str]]) -> set[tuple[Any, ...]]:
    """Add what a submitted annotation means by leaving a flags question blank: ``[]`` (no flag),
    for each candidate the annotator rated (gave any answer about) in that annotation.
    """
    out = set(expected)
    answered = {(r[0], r[3]) for r in expected if r[5] == "submitted" and r[4] != "null"}
    for item, who in answered:
        mine = [r for r in expected if r[0] == item and r[3] == who and r[5] == "submitted"]
        have = {(r[1], r[2]) for r in mine}
        rated = [c for c in orders[item] if any(r[1] == c for r in mine)]
        for q in rubric.questions:
            if q.type != "flags":
                continue
            for cid in rated if q.scope == "candidate" else [""]:
                if (cid, q.name) not in have:
                    out.add((item, cid, q.name, who, "[]", "submitted"))
    return out


def synthetic(n: int, prefix: str = "syn", n_candidates: int = 2) -> list[Sample]:
    return [sample_from_dict({"id": f"{prefix}-{i:05d}", "category": "complaint",
                              "prompt": f"Complaint number {i}: my order never arrived.",
                              "candidates": [{"id": f"{prefix}-{i}-{k}", "text": f"Reply {k} to {i}"}
                                             for k in range(n_candidates)]})
            for i in range(n)]


# -- the round trip ---------------------------------------------------------------------


def test_round_trip_push_repush_extend_three_annotators_pull(label_studio_server, label_studio_admin, ls_project_title):
    rubric = load_rubric("de-escalation")
    samples = read_samples(sample_path("de-escalation"))
    backend = get_backend("label-studio", url=label_studio_server.url, api_key=label_studio_server.api_key)
    title = ls_project_title

    ticks: list[tuple[int, int]] = []
    first = backend.push(samples[:20], rubric, PushOptions(target=title, chunk_size=7),
                         lambda d, t: ticks.append((d, t)))
    assert (first.created, first.n_added, first.n_existing) == (True, 20, 0)
    # One project per candidate count: the 4-candidate samples in the title's project, the
    # 3-candidate ones in its sibling; each group is imported in chunks of 7.
    groups = Counter(len(s.candidates) for s in samples[:20])
    assert ticks == [(min(7, n - k), n) for n in groups.values() for k in range(0, n, 7)]
    assert len(label_studio_admin.tasks(title, siblings=False)) == groups[4]
    assert len(label_studio_admin.tasks(title)) == 20

    again = backend.push(samples[:20], rubric, PushOptions(target=title))
    assert (again.created, again.n_added, again.n_existing) == (False, 0, 20)
    assert len(label_studio_admin.tasks(title)) == 20

    dry = backend.push(samples, rubric, PushOptions(target=title, dry_run=True))
    assert (dry.dry_run, dry.n_added, dry.n_existing) == (True, 4, 20)
    assert len(label_studio_admin.tasks(title)) == 20

    extended = backend.push(samples, rubric, PushOptions(target=title))
    assert (extended.n_added, extended.n_existing) == (4, 20)
    tasks = label_studio_admin.tasks(title)
    assert sorted(t["data"]["brun_sample_id"] for t in tasks) == sorted(s.id for s in samples)

    project = label_studio_admin.project(title)
    assert project["label_config"].strip() == render_label_studio(rubric, n_candidates=4).strip()
    assert project["show_collab_predictions"] is False  # judge scores hidden unless the project wants them
    assert "Tone zone" in project["expert_instruction"]

    # The order shown is randomised per task, recorded, and the texts follow it.
    by_id = {s.id: s for s in samples}
    orders = set()
    for t in tasks:
        s = by_id[t["data"]["brun_sample_id"]]
        order = t["data"]["brun_order"]
        assert order == candidate_order(s, seed=0)
        assert [t["data"][f"candidate_{_letter(i)}"] for i in range(len(order))] == [s.candidate(c).text for c in order]
        orders.add(tuple(sorted(s.candidate(c).id for c in order)) != tuple(order))
    assert orders == {True, False}  # some shuffled, some not

    rng = random.Random(4)
    expected: set[tuple[Any, ...]] = set()
    users = ["ann1@example.org", "ann2@example.org", "ann3@example.org"]
    for s in samples[:3]:
        task = label_studio_admin.task_of(title, s.id)
        for who in users:
            answers = random_answers(rubric, s, rng)
            label_studio_admin.annotate(task["id"], regions(rubric, task["data"]["brun_order"], answers), who)
            expected |= expected_rows(s.id, who, answers)
    # ann3 skips sample 4 without answering, ann2 skips it after one answer.
    task4 = label_studio_admin.task_of(title, samples[3].id)
    label_studio_admin.annotate(task4["id"], [], users[2], skipped=True)
    expected.add((samples[3].id, "", "preference", users[2], "null", "skipped"))
    order4 = task4["data"]["brun_order"]
    partial = {(order4[0], "tone_zone"): -1}
    label_studio_admin.annotate(task4["id"], regions(rubric, order4, partial), users[1], skipped=True)
    expected |= expected_rows(samples[3].id, users[1], partial, status="skipped")
    # A draft by the admin.
    task5 = label_studio_admin.task_of(title, samples[4].id)
    draft = {("", "preference"): "tie"}
    label_studio_admin.draft(task5["id"], regions(rubric, task5["data"]["brun_order"], draft))
    expected |= expected_rows(samples[4].id, label_studio_admin.admin_email, draft, status="draft")
    # Answers the server stores without complaint but that do not fit the config.
    task6 = label_studio_admin.task_of(title, samples[5].id)
    label_studio_admin.annotate(task6["id"], [choices("tone_zone_a", "candidate_a", "7"),
                                              textarea("rationale", "prompt", "fine")], users[0])
    expected.add((samples[5].id, "", "rationale", users[0], json.dumps("fine"), "submitted"))

    # ann1's annotation on sample 6 rated no candidate (its one candidate answer does not fit), so
    # it says nothing about any candidate's flags: no "no flags" rows are added for it.
    expected = with_unticked_flags(expected, rubric, {s.id: candidate_order(s) for s in samples})
    assert not any(r[0] == samples[5].id and r[2] == "liability_flags" for r in expected)

    pulled = backend.pull(None, PullOptions(target=title))  # rubric read from the tasks
    assert pulled.n_items == 24
    assert rows_of(pulled.table) == expected
    assert len(pulled.invalid) == 1 and "tone_zone_a" in pulled.invalid[0] and "'7'" in pulled.invalid[0]
    assert set(pulled.table["platform"]) == {"label-studio"}
    assert pulled.table["submitted_at"].notna().all()

    # Judge predictions come back as judge:<model> rows equal to the samples' judge answers.
    judged = set()
    for s in samples:
        for c in s.candidates:
            for qn, v in (c.judge or {}).items():
                judged.add((s.id, c.id, qn, "judge:" + (c.judge_model or s.judge_model or "llm"), json.dumps(v)))
        for qn, v in (s.judge or {}).items():
            judged.add((s.id, "", qn, "judge:" + (s.judge_model or "llm"), json.dumps(v)))
    assert judged, "the bundled samples carry judge answers"
    got = {r[:5] for r in rows_of(pulled.table, humans_only=False) if r[3].startswith("judge:")}
    assert got == judged
    no_judge = backend.pull(rubric, PullOptions(target=title, include_judge=False))
    assert rows_of(no_judge.table, humans_only=False) == expected


@pytest.mark.parametrize("pack", pack_names())
def test_pulled_values_equal_submitted_ones_for_every_question_type(pack, label_studio_server, label_studio_admin,
                                                                    ls_project_title):
    rubric = load_rubric(pack)
    samples = read_samples(sample_path(pack))[:4]
    backend = _backend(label_studio_server)
    backend.push(samples, rubric, PushOptions(target=ls_project_title))
    rng = random.Random(pack)
    expected: set[tuple[Any, ...]] = set()
    for s in samples:
        task = label_studio_admin.task_of(ls_project_title, s.id)
        answers = random_answers(rubric, s, rng)
        label_studio_admin.annotate(task["id"], regions(rubric, task["data"]["brun_order"], answers), "typist@example.org")
        expected |= expected_rows(s.id, "typist@example.org", answers)
    pulled = backend.pull(rubric, PullOptions(target=ls_project_title, include_judge=False))
    assert pulled.invalid == []
    assert rows_of(pulled.table) == expected
    types = {rubric.question(q).type for q in pulled.table["question"]}
    assert types == {q.type for q in rubric.questions}


@pytest.mark.parametrize("pack", pack_names())
def test_every_pack_config_is_accepted_by_the_server(pack, label_studio_admin, ls_project_title):
    for n in (2, 4):
        xml = render_label_studio(load_rubric(pack), n_candidates=n)
        response = label_studio_admin.http.post("/api/projects/validate/", json={"label_config": xml})
        assert response.status_code in (200, 204), response.text
    broken = xml.replace('toName="candidate_b"', 'toName="candidate_z"', 1)
    refused = label_studio_admin.http.post("/api/projects/validate/", json={"label_config": broken})
    assert refused.status_code == 400 and "candidate_z" in refused.text  # the check has teeth
    project = label_studio_admin.http.post("/api/projects/", json={"title": ls_project_title, "label_config": xml})
    assert project.status_code == 201, project.text


# -- config changes -----------------------------------------------------------------------------


def test_a_different_config_is_refused_unless_asked_and_never_orphans_annotations(
        label_studio_server, label_studio_admin, ls_project_title):
    backend = _backend(label_studio_server)
    title = ls_project_title
    samples = synthetic(3, "cfg")
    de = load_rubric("de-escalation")
    backend.push(samples, de, PushOptions(target=title))
    original = label_studio_admin.project(title)["label_config"]

    with pytest.raises(ConflictError, match=r"different labeling config.*--update-config"):
        backend.push(samples, load_rubric("deal-closer"), PushOptions(target=title))
    dry = backend.push(samples, load_rubric("deal-closer"), PushOptions(target=title, update_config=True, dry_run=True))
    assert dry.config_changed and dry.dry_run and dry.n_added == 0
    assert label_studio_admin.project(title)["label_config"] == original

    # An annotation uses tone_zone_a = -1: a rubric without it would orphan that answer.
    task = label_studio_admin.task_of(title, samples[0].id)
    label_studio_admin.annotate(task["id"], [choices("tone_zone_a", "candidate_a", "-1")], "ann1@example.org")
    with pytest.raises(ConflictError, match=r"does not fit its existing annotations.*tone_zone_a"):
        backend.push(samples, load_rubric("deal-closer"), PushOptions(target=title, update_config=True))
    raw = load_rubric("de-escalation")
    narrower = rubric_from_dict({"name": "de-escalation", "questions": [
        {"name": "tone_zone", "type": "scale", "options": [-2, 0, 2]},
        {"name": "preference", "type": "preference"}]})
    with pytest.raises(ConflictError, match="-1"):
        backend.push(samples, narrower, PushOptions(target=title, update_config=True))
    assert label_studio_admin.project(title)["label_config"] == original

    # A change that keeps every answer valid (new labels, one more question) goes through.
    relabelled = rubric_from_dict({"name": "de-escalation", "questions": [
        {"name": "tone_zone", "type": "scale", "options": [
            {"value": v, "label": f"Level {v}"} for v in (-2, -1, 0, 1, 2)]},
        {"name": "clarity", "type": "rating", "min": 1, "max": 5},
        {"name": "liability_flags", "type": "flags", "options": [q.value for q in raw.question("liability_flags").options]},
        {"name": "preference", "type": "preference"},
        {"name": "rationale", "type": "text"}]})
    changed = backend.push(samples + synthetic(1, "cfg-new"), relabelled, PushOptions(target=title, update_config=True))
    assert changed.config_changed and changed.n_added == 1
    assert label_studio_admin.project(title)["label_config"].strip() == render_label_studio(relabelled).strip()
    pulled = backend.pull(relabelled, PullOptions(target=title))
    order = task["data"]["brun_order"]
    # Only the candidate ann1 rated gets "no flags"; the other one gets no rows.
    assert rows_of(pulled.table) == {(samples[0].id, order[0], "tone_zone", "ann1@example.org", "-1", "submitted"),
                                     (samples[0].id, order[0], "liability_flags", "ann1@example.org", "[]",
                                      "submitted")}


def test_samples_with_another_candidate_count_go_to_a_sibling_project(label_studio_server, label_studio_admin,
                                                                      ls_project_title):
    """No empty slot is ever shown: a 2-candidate sample never lands in a 3-slot project."""
    backend = _backend(label_studio_server)
    rubric = load_rubric("socratic-mentor")
    backend.push(synthetic(2, "three", 3), rubric, PushOptions(target=ls_project_title))
    result = backend.push(synthetic(2, "two", 2), rubric, PushOptions(target=ls_project_title))
    assert (result.config_changed, result.n_added) == (False, 2)
    sibling = count_target(ls_project_title, 2)
    assert label_studio_admin.project(ls_project_title)["label_config"].strip() == render_label_studio(
        rubric, n_candidates=3).strip()
    assert label_studio_admin.project(sibling)["label_config"].strip() == render_label_studio(
        rubric, n_candidates=2).strip()
    assert {t["data"]["brun_sample_id"] for t in label_studio_admin.tasks(sibling)} == {"two-00000", "two-00001"}
    assert all("candidate_c" not in t["data"] for t in label_studio_admin.tasks(sibling))
    again = backend.push(synthetic(2, "two", 2) + synthetic(2, "three", 3), rubric, PushOptions(target=ls_project_title))
    assert (again.n_added, again.n_existing) == (0, 4)
    pulled = backend.pull(rubric, PullOptions(target=ls_project_title))
    assert pulled.n_items == 4


def test_annotators_per_item_sets_the_overlap(label_studio_server, label_studio_admin, ls_project_title):
    backend = _backend(label_studio_server)
    backend.push(synthetic(2, "ov"), load_rubric("de-escalation"),
                 PushOptions(target=ls_project_title, annotators_per_item=3))
    assert label_studio_admin.project(ls_project_title)["maximum_annotations"] == 3


# -- interrupted pushes -------------------------------------------------------------------------


def test_a_chunk_imported_whose_answer_was_lost_is_not_imported_twice(label_studio_server, label_studio_admin,
                                                                      ls_project_title):
    backend = _backend(label_studio_server)
    rubric = load_rubric("de-escalation")
    samples = synthetic(50, "lost")
    real = backend.client.projects.import_tasks
    calls = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(len(kwargs["request"]))
        out = real(**kwargs)
        if len(calls) == 2:  # the server imported the chunk, then the connection dropped
            raise httpx.ReadError("connection reset by peer")
        return out

    backend.client.projects.import_tasks = flaky
    with pytest.raises(BackendConnectionError, match="10 of 50 new samples were imported before, re-run the same push to resume"):
        backend.push(samples, rubric, PushOptions(target=ls_project_title, chunk_size=10))
    assert len(label_studio_admin.tasks(ls_project_title)) == 20

    resumed = _backend(label_studio_server).push(samples, rubric, PushOptions(target=ls_project_title, chunk_size=10))
    assert (resumed.n_existing, resumed.n_added) == (20, 30)
    ids = [t["data"]["brun_sample_id"] for t in label_studio_admin.tasks(ls_project_title)]
    assert sorted(ids) == sorted(s.id for s in samples)


_KILLED_PUSH = """
import sys
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.backends.base import PushOptions
from brun_label.rubrics import load_rubric
from tests.backends.test_label_studio import synthetic
LabelStudioBackend(url=sys.argv[1], api_key=sys.argv[2]).push(
    synthetic(int(sys.argv[4]), "kill"), load_rubric("de-escalation"), PushOptions(target=sys.argv[3], chunk_size=25))
"""


def test_a_push_killed_midway_resumes_with_exactly_one_task_per_sample(label_studio_server, label_studio_admin,
                                                                       ls_project_title):
    n = 2000
    info = label_studio_server
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_PUSH, info.url, info.api_key, ls_project_title, str(n)],
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    seen = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                seen = label_studio_admin.project(ls_project_title)["task_number"]
            except AssertionError:  # not created yet
                seen = 0
            if seen >= 200:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    assert 0 < seen < n, f"the push was not caught midway ({seen} of {n} tasks)"
    result = _backend(info).push(synthetic(n, "kill"), load_rubric("de-escalation"), PushOptions(target=ls_project_title))
    assert result.n_existing + result.n_added == n and result.n_existing >= 200
    ids = [t["data"]["brun_sample_id"] for t in label_studio_admin.tasks(ls_project_title)]
    assert len(ids) == n and len(set(ids)) == n


# -- errors -------------------------------------------------------------------------------------


def test_pull_of_a_missing_project_is_not_found(label_studio_server):
    with pytest.raises(NotFoundError, match="no Label Studio project titled 'no such project'"):
        _backend(label_studio_server).pull(None, PullOptions(target="no such project"))


def test_two_projects_with_the_same_title_are_a_conflict(label_studio_server, label_studio_admin, ls_project_title):
    for _ in range(2):
        label_studio_admin.http.post("/api/projects/", json={"title": ls_project_title}).raise_for_status()
    with pytest.raises(ConflictError, match="2 Label Studio projects are titled"):
        _backend(label_studio_server).pull(None, PullOptions(target=ls_project_title))
