"""Label Studio push and pull speed against the server's own bulk calls, on one local server.

push
    ``LabelStudioBackend.push`` of N samples (title lookup, config rendering, building the
    payloads with judge predictions, chunked imports) into a new project, against one raw
    ``projects.import_tasks`` call carrying the same tasks (built beforehand) into another new
    project. The issue asks for at most 1.5x. Then a re-push of the same file must add nothing,
    and a push killed midway (SIGKILL) then re-run must end with exactly N tasks: both are checked
    here and reported in the note (a failed check raises).
pull
    ``LabelStudioBackend.pull`` (export, users, predictions, checking and mapping every region,
    building the table) of N tasks with 3N annotations by three users, against the server's own
    JSON export download (``projects.exports.download_sync``) of the same project. The issue asks
    for at most 1.2x. Both run three times (quick: twice), alternating; the best of each counts.

The data: N = 10,000 (``quick``: 1,000) de-escalation samples with two candidates of realistic
length, half with judge answers; the annotations are imported with the tasks (the only fast way
to create 30,000 of them) and answer every question.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Result, timed

_WORDS = ["the", "a", "your", "order", "refund", "policy", "sorry", "understand", "manager", "delivery",
          "late", "account", "charged", "twice", "please", "help", "now", "we", "will", "look", "into",
          "this", "today", "team", "billing", "invoice", "week", "call", "back"]


def _text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n_words))


def make_samples(n: int, seed: int = 0) -> list[Any]:
    """``n`` de-escalation samples: ~60-word prompts, two ~120-word candidates, half judged."""
    from brun_label.model import sample_from_dict

    rng = random.Random(seed)
    out = []
    for i in range(n):
        raw: dict[str, Any] = {
            "id": f"bench-{i:06d}", "category": rng.choice(["customer_complaint", "hr", "pr_crisis"]),
            "prompt": _text(rng, 60),
            "candidates": [{"id": f"bench-{i:06d}-{k}", "text": _text(rng, 120)} for k in "ab"],
        }
        if i % 2 == 0:
            raw["judge_model"] = "judge-bench"
            raw["judge"] = {"preference": raw["candidates"][rng.randint(0, 1)]["id"]}
            for cand in raw["candidates"]:
                cand["judge"] = {"tone_zone": rng.randint(-2, 2),
                                 "liability_flags": rng.sample(["admits_fault", "speculates_cause"], rng.randint(0, 2))}
        out.append(sample_from_dict(raw))
    return out


def _annotations(rng: random.Random, order: list[str], user_ids: list[int]) -> list[dict[str, Any]]:
    anns = []
    for uid in user_ids:
        result = []
        for pos in range(len(order)):
            slot = "ab"[pos]
            result.append({"from_name": f"tone_zone_{slot}", "to_name": f"candidate_{slot}", "type": "choices",
                           "value": {"choices": [str(rng.randint(-2, 2))]}})
            flags = rng.sample(["admits_fault", "promises_compensation", "blames_customer"], rng.randint(0, 2))
            if flags:
                result.append({"from_name": f"liability_flags_{slot}", "to_name": f"candidate_{slot}",
                               "type": "choices", "value": {"choices": flags}})
        result.append({"from_name": "preference", "to_name": "prompt", "type": "choices",
                       "value": {"choices": [rng.choice(["a", "b", "tie", "both_bad"])]}})
        result.append({"from_name": "rationale", "to_name": "prompt", "type": "textarea",
                       "value": {"text": [_text(rng, 12)]}})
        anns.append({"result": result, "completed_by": uid, "was_cancelled": rng.random() < 0.03})
    return anns


_KILLED_PUSH = """
import sys
from bench.bench_label_studio import make_samples
from brun_label.backends.base import PushOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.rubrics import load_rubric
LabelStudioBackend(url=sys.argv[1], api_key=sys.argv[2]).push(
    make_samples(int(sys.argv[4])), load_rubric("de-escalation"),
    PushOptions(target=sys.argv[3], chunk_size=int(sys.argv[5])))
"""


def _task_count(client: Any, project_id: int) -> int:
    return int(client.projects.get(id=project_id).task_number or 0)


def _killed_then_resumed(info: Any, backend: Any, samples: list[Any], rubric: Any, client: Any) -> str:
    """Kill a push (SIGKILL) once part of it is in, re-run it, and check the task count."""
    from brun_label.backends.base import PushOptions

    n, title = len(samples), "bench killed push"
    root = Path(__file__).resolve().parent.parent
    # Ten chunks, so that the kill lands between two of them whatever n is.
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_PUSH, info.url, info.api_key, title, str(n),
                             str(max(n // 10, 1))], cwd=root)
    seen, deadline = 0, time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            project = backend.find_project(title)
            seen = _task_count(client, project.id) if project is not None else 0
            if seen >= n // 3:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.1)
    finally:
        proc.kill()
        proc.wait()
    if not 0 < seen < n:
        raise RuntimeError(f"killed push: not caught midway ({seen} of {n} tasks)")
    resumed = backend.push(samples, rubric, PushOptions(target=title))
    project = backend.find_project(title)
    total = _task_count(client, project.id) if project is not None else 0
    if total != n or resumed.n_existing + resumed.n_added != n:
        raise RuntimeError(f"killed push: {total} tasks after the re-run, expected {n}")
    return f"killed at {seen}/{n} then re-run: {total} tasks"


def run(quick: bool) -> list[Result]:
    from brun_label.backends.base import PullOptions, PushOptions
    from brun_label.backends.label_studio import LabelStudioBackend
    from brun_label.backends.label_studio_format import ConfigIndex, task_payload
    from brun_label.layout import candidate_order
    from brun_label.render_label_studio import render_label_studio
    from brun_label.rubrics import load_rubric
    from brun_label.servers.label_studio import LabelStudioServer, ensure_template

    n = 1000 if quick else 10_000
    rubric = load_rubric("de-escalation")
    samples = make_samples(n)
    xml = render_label_studio(rubric, n_candidates=2)
    config = ConfigIndex(xml)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-ls-") as tmp:
        server = LabelStudioServer(Path(tmp), template=ensure_template())
        info = server.start(port=0)
        try:
            backend = LabelStudioBackend(url=info.url, api_key=info.api_key)
            client = backend.client

            # -- push ----------------------------------------------------------------------
            tasks = [task_payload(s, rubric, candidate_order(s), config, 2)[0] for s in samples]
            raw_project = client.projects.create(title="bench raw import", label_config=xml)
            t_raw, _ = timed(lambda: client.projects.import_tasks(id=raw_project.id, request=tasks))
            t_ours, pushed = timed(lambda: backend.push(samples, rubric, PushOptions(target="bench push")))
            if pushed.n_added != n or _task_count(client, raw_project.id) != n:
                raise RuntimeError("push benchmark: wrong task counts")
            t_again, again = timed(lambda: backend.push(samples, rubric, PushOptions(target="bench push")))
            ours_project = backend.find_project("bench push")
            if ours_project is None or again.n_added != 0 or _task_count(client, ours_project.id) != n:
                raise RuntimeError("re-push added tasks")
            killed = _killed_then_resumed(info, backend, samples, rubric, client)
            results.append(Result(
                f"label-studio push {n:,} samples", t_ours, t_raw, "s", 1.5,
                note=f"vs one raw import_tasks; re-push {t_again:.1f} s adds 0; {killed}"))

            # -- pull ----------------------------------------------------------------------
            rng = random.Random(1)
            me = client.users.whoami()
            user_ids = [me.id] + [client.users.create(email=f"bench{k}@example.org", username=f"bench{k}",
                                                      active_organization=me.active_organization).id for k in (1, 2)]
            for task in tasks:
                task["annotations"] = _annotations(rng, task["data"]["brun_order"], user_ids)
            pull_project = client.projects.create(title="bench pull", label_config=xml)
            for i in range(0, n, 1000):
                client.projects.import_tasks(id=pull_project.id, request=tasks[i:i + 1000])
            export_times, pull_times = [], []
            rows = 0
            for _ in range(2 if quick else 3):  # the server's own timing varies by ±10 %
                t_export, data = timed(lambda: b"".join(client.projects.exports.download_sync(
                    id=pull_project.id, export_type="JSON", download_all_tasks=True)))
                export_times.append(t_export)
                del data
                t_pull, pulled = timed(lambda: backend.pull(rubric, PullOptions(target="bench pull")))
                pull_times.append(t_pull)
                rows = len(pulled.table)
                if pulled.invalid or pulled.n_items != n:
                    raise RuntimeError(f"pull benchmark: {len(pulled.invalid)} invalid, {pulled.n_items} items")
            results.append(Result(
                f"label-studio pull {n:,} tasks / {3 * n:,} annotations", min(pull_times), min(export_times), "s", 1.2,
                note=f"vs the server's JSON export; {rows:,} rows incl. judge predictions"))
        finally:
            server.stop()
    return results


if __name__ == "__main__":  # python -m bench.bench_label_studio [--quick]
    for r in run("--quick" in sys.argv):
        print(f"{r.name}: ours {r.ours:.2f} {r.unit}, baseline {r.baseline:.2f} {r.unit}, ratio {r.ratio:.2f} "
              f"(target <= {r.target}) {'ok' if r.passed else 'NO'}  {r.note}")
    os._exit(0)
