"""Simultaneous pushes of the same file end with each sample exactly once (real servers).

Each push is a separate ``brun-label push`` process; they are released together (after their
imports) so that their listings, project/dataset creations and imports overlap. One of them
may go through the fault proxy, a second network path as from a second machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from brun_label.backends.label_studio import LabelStudioBackend
from tests.backends.test_label_studio import synthetic
from tests.faults.proxy import FaultProxy
from tests.fixtures.argilla import unique_name
from tests.fixtures.label_studio import choices

pytestmark = [pytest.mark.server, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

#: Imports the CLI, waits for the go file, then runs it (so the pushes start together).
RUNNER = """
import os, sys, time
from brun_label.cli import cli
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.005)
cli.main(args=sys.argv[2:], prog_name="brun-label")
"""


def write_samples(path: Path, n: int, prefix: str) -> Path:
    """A JSONL sample file of ``n`` synthetic samples."""
    with path.open("w") as fh:
        for s in synthetic(n, prefix):
            fh.write(json.dumps(s.to_dict()) + "\n")
    return path


def run_together(tmp_path: Path, commands: list[tuple[list[str], dict[str, str]]]) -> list[subprocess.CompletedProcess[str]]:
    """Start every ``(args, env)`` as its own process, release them at once, return their results."""
    go = tmp_path / f"go-{time.monotonic_ns()}"
    procs = [subprocess.Popen([sys.executable, "-c", RUNNER, str(go), *args], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env})
             for args, env in commands]
    time.sleep(3.0)  # every process has imported the CLI and waits
    go.write_text("go")
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return out


def _ls_env(url: str, key: str) -> dict[str, str]:
    return {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": key}


def _sample_ids(admin: Any, title: str) -> list[str]:
    return [t["data"]["brun_sample_id"] for t in admin.tasks(title)]


def _projects_titled(admin: Any, title: str) -> list[dict[str, Any]]:
    found = admin._json("GET", "/api/projects/", params={"title": title, "page_size": 1000})["results"]
    return [p for p in found if p["title"] == title]


def test_simultaneous_first_pushes_make_one_project_with_each_sample_once(label_studio_server, label_studio_admin,
                                                                          ls_project_title, tmp_path):
    info = label_studio_server
    samples = write_samples(tmp_path / "s.jsonl", 300, "race")
    args = ["push", str(samples), "--to", "label-studio", "--project", ls_project_title, "--rubric", "de-escalation",
            "--json"]
    with FaultProxy("127.0.0.1", int(info.url.rsplit(":", 1)[1])) as proxy:  # the "second machine"
        results = run_together(tmp_path, [(args, _ls_env(info.url, info.api_key)),
                                          (args, _ls_env(info.url, info.api_key)),
                                          (args, _ls_env(proxy.url, info.api_key))])
    for r in results:
        assert r.returncode == 0, r.stderr
    assert len(_projects_titled(label_studio_admin, ls_project_title)) == 1
    ids = _sample_ids(label_studio_admin, ls_project_title)
    assert len(ids) == 300 and len(set(ids)) == 300
    again = json.loads(run_together(tmp_path, [(args, _ls_env(info.url, info.api_key))])[0].stdout)
    assert (again["n_added"], again["n_existing"]) == (0, 300)
    assert not [n for n in again["notes"] if "duplicate" in n]  # nothing was left to heal


def test_simultaneous_pushes_into_an_existing_project_add_each_sample_once(label_studio_server, label_studio_admin,
                                                                           ls_project_title, tmp_path):
    info = label_studio_server
    write_samples(tmp_path / "one.jsonl", 1, "grow")
    samples = write_samples(tmp_path / "s.jsonl", 1500, "grow")  # two import chunks each
    base = ["--to", "label-studio", "--project", ls_project_title, "--rubric", "de-escalation", "--json"]
    first = run_together(tmp_path, [(["push", str(tmp_path / "one.jsonl"), *base], _ls_env(info.url, info.api_key))])
    assert first[0].returncode == 0, first[0].stderr
    results = run_together(tmp_path, [(["push", str(samples), *base], _ls_env(info.url, info.api_key))] * 2)
    for r in results:
        assert r.returncode == 0, r.stderr
    ids = _sample_ids(label_studio_admin, ls_project_title)
    assert len(ids) == 1500 and len(set(ids)) == 1500
    added = [json.loads(r.stdout)["n_added"] for r in results]
    assert all(0 <= a <= 1499 for a in added) and sum(added) >= 1499


def test_a_repush_heals_and_reports_duplicates_an_old_race_left(label_studio_server, label_studio_admin,
                                                                ls_project_title, tmp_path):
    info = label_studio_server
    backend = LabelStudioBackend(url=info.url, api_key=info.api_key)
    from brun_label.backends.base import PushOptions
    from brun_label.rubrics import load_rubric

    rubric = load_rubric("de-escalation")
    samples = synthetic(20, "old")
    backend.push(samples, rubric, PushOptions(target=ls_project_title))
    tasks = sorted(label_studio_admin.tasks(ls_project_title), key=lambda t: t["id"])
    pid = label_studio_admin.project(ls_project_title)["id"]
    # What a race of an older version left: tasks 0-4 twice, task 0 three times.
    copies = [t["data"] for t in tasks[:5]] + [tasks[0]["data"]]
    label_studio_admin._json("POST", f"/api/projects/{pid}/import", json=copies)
    by_sample: dict[str, list[int]] = {}
    for t in label_studio_admin.tasks(ls_project_title):
        by_sample.setdefault(t["data"]["brun_sample_id"], []).append(t["id"])
    # An annotator worked on a duplicate of sample 1 (not the lowest id): that one is kept.
    dup_of_1 = max(by_sample[samples[1].id])
    label_studio_admin.annotate(dup_of_1, [choices("tone_zone_a", "candidate_a", "0")], "heal-ann@example.com")

    result = backend.push(samples, rubric, PushOptions(target=ls_project_title))
    assert (result.n_added, result.n_existing) == (0, 20)
    assert any("removed 6 duplicate task(s) of 5 sample(s)" in n for n in result.notes), result.notes
    after: dict[str, list[int]] = {}
    for t in label_studio_admin.tasks(ls_project_title):
        after.setdefault(t["data"]["brun_sample_id"], []).append(t["id"])
    assert sorted(after) == sorted(s.id for s in samples) and all(len(v) == 1 for v in after.values())
    assert after[samples[1].id] == [dup_of_1]
    assert after[samples[0].id] == [min(by_sample[samples[0].id])]
    quiet = backend.push(samples, rubric, PushOptions(target=ls_project_title))
    assert not [n for n in quiet.notes if "duplicate" in n]


def test_simultaneous_pushes_to_a_new_argilla_dataset_end_with_each_record_once(argilla_server, argilla_api, tmp_path):
    info = argilla_server
    name = unique_name("race")
    samples = write_samples(tmp_path / "s.jsonl", 200, "arace")
    args = ["push", str(samples), "--to", "argilla", "--dataset", name, "--rubric", "de-escalation", "--json"]
    env = {"ARGILLA_API_URL": info.url, "ARGILLA_API_KEY": info.api_key}
    results = run_together(tmp_path, [(args, env)] * 3)
    for r in results:
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
    dataset = argilla_api.dataset(name)
    assert dataset["status"] == "ready"
    ext = [r["external_id"] for r in argilla_api.records(dataset["id"])]
    assert len(ext) == 200 and len(set(ext)) == 200
    datasets = argilla_api.http.get("/api/v1/me/datasets").raise_for_status().json()["items"]
    assert [d["name"] for d in datasets].count(name) == 1
