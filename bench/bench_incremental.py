"""Incremental project pull against a full one, on one local Label Studio, after 1% of the annotations changed.

The project: N = 10,000 tasks (``quick``: 1,000) with three annotations each (imported with the
tasks, as in ``bench_label_studio``), half with judge predictions. After a full pull leaves its
state, 1% of the annotations change through the REST API the way the UI changes them: half are
updated, a third are new, the rest deleted. Then:

ours
    ``pull_project(..., full=False)``: asks the server what changed since the last pull (project
    counters, one Data Manager query, an export of just the changed tasks), decodes those and
    merges them into the cached table of the last pull.
baseline
    ``pull_project(..., full=True)`` of the same project (the backend's full pull: the whole
    export, every task decoded), measured right after in the same run.

Both produce the merged project table; the benchmark checks they are identical (a difference
raises) and the issue asks for at most 0.10x.

argilla
    The same on a local argilla-server: N records (quick: 1,000; else 10,000) with three responses
    each (bulk upserted), 1% of the responses then updated through the response endpoint. Argilla
    has no server-side filter for changed responses, so the incremental pull lists every record
    (as the full pull does) and decodes only those whose fingerprint changed: the target here is
    only to be faster than the full pull (1.0x); the 0.10x of the issue is for Label Studio. Two rounds of changes (quick: one); the best of
each counts. Before the first state-writing pull the benchmark waits until the import is older
than the incremental pull's safety margin (``label_studio_changes.MARGIN``), so the margin does not
make it re-read the freshly imported tasks.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Result, timed


def _change(admin: Any, tasks: list[dict[str, Any]], users: list[int], n_changes: int, rng: random.Random,
            result_for: Any) -> int:
    """Change ``n_changes`` annotations: half updated, a third created, the rest deleted."""
    n_update, n_create = n_changes // 2, n_changes // 3
    n_delete = n_changes - n_update - n_create
    picked = rng.sample(tasks, n_update + n_create + n_delete)
    done = 0
    for task in picked[:n_update]:
        ann = task["annotations"][0]
        admin.patch(f"/api/annotations/{ann['id']}/", json={"result": result_for(task)}).raise_for_status()
        done += 1
    for task in picked[n_update:n_update + n_create]:
        admin.post(f"/api/tasks/{task['id']}/annotations/",
                   json={"result": result_for(task), "completed_by": rng.choice(users)}).raise_for_status()
        done += 1
    for task in picked[n_update + n_create:]:
        ann = task["annotations"].pop()
        admin.delete(f"/api/annotations/{ann['id']}/").raise_for_status()
        done += 1
    return done


def _argilla(quick: bool) -> Result:
    import httpx
    import pandas as pd

    from bench.bench_label_studio import make_samples
    from brun_label.backends.argilla import ArgillaBackend
    from brun_label.backends.base import PushOptions
    from brun_label.project import project_from_dict
    from brun_label.project_pull import pull_project
    from brun_label.rubrics import load_rubric
    from brun_label.servers.argilla import WORKSPACE, ArgillaServer

    n = 1000 if quick else 10_000
    rubric = load_rubric("de-escalation")
    samples = make_samples(n)
    rng = random.Random(3)
    with tempfile.TemporaryDirectory(prefix="bench-inc-ag-") as tmp:
        server = ArgillaServer(Path(tmp) / "ag")
        info = server.start(port=0)
        try:
            backend = ArgillaBackend(url=info.url, api_key=info.api_key)
            backend.push(samples, rubric, PushOptions(target="bench-incremental"))
            owner = httpx.Client(base_url=info.url, headers={"X-Argilla-Api-Key": info.api_key}, timeout=600)
            ws = next(w for w in owner.get("/api/v1/me/workspaces").raise_for_status().json()["items"]
                  if w["name"] == WORKSPACE)
            users = []
            for k in range(3):
                u = owner.post("/api/v1/users", json={"username": f"inc-{k}", "first_name": f"inc{k}",
                                                      "password": "annotator-pw-123", "role": "annotator"})
                uid = u.raise_for_status().json()["id"]
                owner.post(f"/api/v1/workspaces/{ws['id']}/users", json={"user_id": uid}).raise_for_status()
                users.append(uid)
            ds = next(d for d in owner.get("/api/v1/me/datasets").raise_for_status().json()["items"]
                  if d["name"] == "bench-incremental")
            records: list[dict[str, Any]] = []
            while len(records) < n:
                page = owner.get(f"/api/v1/datasets/{ds['id']}/records",
                                 params={"offset": len(records), "limit": 1000}).raise_for_status().json()
                records += page["items"]

            def values() -> dict[str, Any]:
                return {"tone_zone_a": {"value": str(rng.randint(-2, 2))},
                        "tone_zone_b": {"value": str(rng.randint(-2, 2))},
                        "preference": {"value": rng.choice(["a", "b", "tie", "both_bad"])}}

            for i in range(0, n, 500):
                items = [{"id": r["id"], "responses": [{"user_id": u, "values": values(), "status": "submitted"}
                                                       for u in users]} for r in records[i:i + 500]]
                owner.put(f"/api/v1/datasets/{ds['id']}/records/bulk", json={"items": items}).raise_for_status()
            project = project_from_dict({"samples": "unused.jsonl", "rubric": "de-escalation",
                                         "platforms": {"argilla": {"dataset": "bench-incremental"}}})

            def make(platform: str, target: Any) -> ArgillaBackend:
                return ArgillaBackend(url=info.url, api_key=info.api_key)

            state, scratch = Path(tmp) / "state", Path(tmp) / "scratch"
            pull_project(project, rubric, make, full=True, state_dir=state)
            changed = rng.sample(records, max(1, round(0.01 * 3 * n)))
            for r in changed:
                got = owner.get(f"/api/v1/records/{r['id']}", params={"include": ["responses"]}).raise_for_status()
                response = got.json()["responses"][0]
                owner.put(f"/api/v1/responses/{response['id']}",
                          json={"values": values(), "status": "submitted"}).raise_for_status()
            t_inc, inc = timed(lambda: pull_project(project, rubric, make, full=False, state_dir=state))
            t_full, full = timed(lambda: pull_project(project, rubric, make, full=True, state_dir=scratch))
            if inc.modes != {"argilla": "incremental"}:
                raise RuntimeError(f"incremental benchmark (argilla): not incremental ({inc.notes})")
            pd.testing.assert_frame_equal(inc.table, full.table)
            owner.close()
        finally:
            server.stop()
    return Result(f"incremental pull {n:,} Argilla records, 1% changed", t_inc, t_full, "s", 1.0,
                  note=f"vs a full pull; {len(changed)} responses updated, {inc.items_read['argilla']} records "
                       "decoded again, every record listed (no server-side filter for responses), table identical")


def run(quick: bool) -> list[Result]:
    import httpx
    import pandas as pd

    from bench.bench_label_studio import _annotations, make_samples
    from brun_label.backends import label_studio_changes
    from brun_label.backends.label_studio import LabelStudioBackend
    from brun_label.backends.label_studio_format import ConfigIndex, task_payload
    from brun_label.layout import candidate_order
    from brun_label.project import project_from_dict
    from brun_label.project_pull import pull_project
    from brun_label.render_label_studio import render_label_studio
    from brun_label.rubrics import load_rubric
    from brun_label.servers.label_studio import LabelStudioServer, ensure_template

    n = 1000 if quick else 10_000
    rounds = 1 if quick else 2
    rubric = load_rubric("de-escalation")
    samples = make_samples(n)
    xml = render_label_studio(rubric, n_candidates=2)
    config = ConfigIndex(xml)
    with tempfile.TemporaryDirectory(prefix="bench-inc-") as tmp:
        server = LabelStudioServer(Path(tmp) / "ls", template=ensure_template())
        info = server.start(port=0)
        try:
            backend = LabelStudioBackend(url=info.url, api_key=info.api_key)
            client = backend.client
            me = client.users.whoami()
            users = [me.id] + [client.users.create(email=f"inc{k}@example.org", username=f"inc{k}",
                                                   active_organization=me.active_organization).id for k in (1, 2)]
            rng = random.Random(7)
            tasks = [task_payload(s, rubric, candidate_order(s), config, 2)[0] for s in samples]
            for task in tasks:
                task["annotations"] = _annotations(rng, task["data"]["brun_order"], users)
            title = "bench incremental"
            project_id = client.projects.create(title=title, label_config=xml).id
            for i in range(0, n, 1000):
                client.projects.import_tasks(id=project_id, request=tasks[i:i + 1000])
            imported = time.monotonic()
            admin = httpx.Client(base_url=info.url, headers={"Authorization": f"Token {info.api_key}"}, timeout=600)
            listed: list[dict[str, Any]] = []
            page = 1
            while len(listed) < n:
                body = admin.get("/api/tasks/", params={"project": project_id, "fields": "all", "page": page,
                                                         "page_size": 1000}).raise_for_status().json()
                listed += [{"id": t["id"], "order": t["data"]["brun_order"],
                            "annotations": [{"id": a["id"]} for a in t["annotations"]]} for t in body["tasks"]]
                page += 1

            def result_for(task: dict[str, Any]) -> list[dict[str, Any]]:
                return _annotations(rng, task["order"], users[:1])[0]["result"]

            project = project_from_dict({"samples": "unused.jsonl", "rubric": "de-escalation",
                                         "platforms": {"label-studio": {"project": title}}})

            def make(platform: str, target: Any) -> LabelStudioBackend:
                return LabelStudioBackend(url=info.url, api_key=info.api_key)

            state, scratch = Path(tmp) / "state", Path(tmp) / "scratch"
            time.sleep(max(0.0, label_studio_changes.MARGIN + 1 - (time.monotonic() - imported)))
            pull_project(project, rubric, make, full=True, state_dir=state)  # leaves the state
            n_changes = max(1, round(0.01 * 3 * n))
            inc_times, full_times, read, rows = [], [], 0, 0
            for _ in range(rounds):
                _change(admin, listed, users, n_changes, rng, result_for)
                t_inc, inc = timed(lambda: pull_project(project, rubric, make, full=False, state_dir=state))
                t_full, full = timed(lambda: pull_project(project, rubric, make, full=True, state_dir=scratch))
                if inc.modes != {"label-studio": "incremental"}:
                    raise RuntimeError(f"incremental benchmark: not incremental ({inc.notes})")
                pd.testing.assert_frame_equal(inc.table, full.table)  # identical to a full pull, or raise
                inc_times.append(t_inc)
                full_times.append(t_full)
                read, rows = inc.items_read["label-studio"], len(inc.table)
            admin.close()
        finally:
            server.stop()
    return [Result(
        f"incremental pull {n:,} tasks, 1% changed", min(inc_times), min(full_times), "s", 0.10,
        note=f"vs a full pull of the same project; {n_changes} annotations changed per round, {read} tasks read "
             f"again, {rows:,} rows, table identical"), _argilla(quick)]


if __name__ == "__main__":  # python -m bench.bench_incremental [--quick]
    for r in run("--quick" in sys.argv):
        print(f"{r.name}: ours {r.ours:.2f} {r.unit}, baseline {r.baseline:.2f} {r.unit}, ratio {r.ratio:.3f} "
              f"(target <= {r.target}) {'ok' if r.passed else 'NO'}  {r.note}")
    os._exit(0)
