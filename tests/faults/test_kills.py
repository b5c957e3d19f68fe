"""Servers and clients killed (SIGKILL) in the middle of a push or a pull, on real servers.

The kill is triggered by the fault proxy when a chosen request arrives (before it reaches the
server, or once the server has handled it), so it lands at the same point every run. Each
server here is its own (killing the session's server would break other tests); after a kill it
is restarted on the same state dir, where it must keep its port. The rule is the one of
``test_fault_injection``: a clean one-line failure, then an exact re-run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

import brun_label.backends.argilla as argilla_backend
import brun_label.backends.label_studio as ls_backend
from brun_label.cli import cli
from brun_label.servers.argilla import ArgillaServer
from brun_label.servers.base import LocalServer, ServerInfo, pid_alive
from brun_label.servers.label_studio import LabelStudioServer, ensure_template
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.tally import record
from tests.faults.test_concurrent_push import ROOT, write_samples
from tests.faults.test_fault_injection import _judge, _temps

pytestmark = [pytest.mark.server, pytest.mark.slow]

N = 120


def _kill_server(info: ServerInfo) -> None:
    os.killpg(info.pid, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while pid_alive(info.pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(info.pid, os.WNOHANG)  # the server is this process's child: reap it
        time.sleep(0.05)


def _restart(server: LocalServer, before: ServerInfo) -> ServerInfo:
    """Start the server again after a crash: same state, same port."""
    info = server.start()
    assert info.url == before.url, "the server moved to another port after a crash"
    return info


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ls_backend, "CHUNK_TASKS", 20)
    monkeypatch.setattr(argilla_backend, "BATCH_SIZE", 20)
    monkeypatch.setattr(argilla_backend, "DRAFT_WAIT", 1.0)


@pytest.fixture
def own_label_studio(tmp_path: Path) -> Iterator[tuple[LabelStudioServer, ServerInfo]]:
    server = LabelStudioServer(tmp_path / "ls", template=ensure_template())
    info = server.start(port=0)
    try:
        yield server, info
    finally:
        server.stop()


@pytest.fixture
def own_argilla(tmp_path: Path) -> Iterator[tuple[ArgillaServer, ServerInfo]]:
    server = ArgillaServer(tmp_path / "argilla")
    info = server.start(port=0)
    try:
        yield server, info
    finally:
        server.stop()


def _port(info: ServerInfo) -> int:
    return int(info.url.rsplit(":", 1)[1])


def _cli(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def _ls_tasks(info: ServerInfo, title: str) -> list[str]:
    http = httpx.Client(base_url=info.url, headers={"Authorization": f"Token {info.api_key}"}, timeout=60)
    found = [p for p in http.get("/api/projects/", params={"title": title}).json()["results"] if p["title"] == title]
    assert len(found) == 1
    tasks = http.get("/api/tasks/", params={"project": found[0]["id"], "fields": "task_only", "include": "id,data",
                                            "page_size": 10000}).json()["tasks"]
    return [t["data"]["brun_sample_id"] for t in tasks]


def _ar_records(info: ServerInfo, name: str) -> list[str]:
    http = httpx.Client(base_url=info.url, headers={"X-Argilla-Api-Key": info.api_key}, timeout=60)
    ds = [d for d in http.get("/api/v1/me/datasets").json()["items"] if d["name"] == name]
    assert len(ds) == 1 and ds[0]["status"] == "ready"
    items = http.get(f"/api/v1/datasets/{ds[0]['id']}/records", params={"limit": 1000}).json()["items"]
    return [r["external_id"] for r in items]


def test_label_studio_killed_mid_push_and_mid_pull(own_label_studio, tmp_path, small_chunks):
    server, info = own_label_studio
    samples = write_samples(tmp_path / "s.jsonl", N, "kls")
    push = ["push", str(samples), "--to", "label-studio", "--project", "killed server", "--rubric", "de-escalation"]
    env = {"LABEL_STUDIO_API_KEY": info.api_key}
    with FaultProxy("127.0.0.1", _port(info),
                    [Fault(r"POST /api/projects/\d+/import", "call", 3, action=lambda: _kill_server(info))]) as proxy:
        first = _cli([*push, "--url", proxy.url], env)
    assert proxy.fired
    outcome = _judge(first, "push")
    assert outcome == "failed cleanly"
    info = _restart(server, info)
    assert _cli([*push, "--url", info.url], env).exit_code == 0
    ids = _ls_tasks(info, "killed server")
    record("label-studio push", "server killed", outcome, lost=N - len(set(ids)), invented=len(ids) - len(set(ids)))
    assert sorted(ids) == [f"kls-{i:05d}" for i in range(N)]

    out = tmp_path / "pulled.jsonl"
    pull = ["pull", "--from", "label-studio", "--project", "killed server", "--rubric", "de-escalation", "-o", str(out)]
    reference = tmp_path / "reference.jsonl"
    assert _cli([*pull[:-1], str(reference), "--url", info.url], env).exit_code == 0
    with FaultProxy("127.0.0.1", _port(info),
                    [Fault(r"/download", "call", 1, action=lambda: _kill_server(info))]) as proxy:
        first = _cli([*pull, "--url", proxy.url], env)
    assert proxy.fired and _judge(first, "pull") == "failed cleanly"
    assert not out.exists() and _temps(tmp_path) == []
    info = _restart(server, info)
    assert _cli([*pull, "--url", info.url], env).exit_code == 0
    record("label-studio pull", "server killed", "failed cleanly",
           lost=len(set(reference.read_text().splitlines()) - set(out.read_text().splitlines())),
           invented=len(set(out.read_text().splitlines()) - set(reference.read_text().splitlines())))
    assert out.read_text() == reference.read_text()


def test_argilla_killed_mid_push_and_mid_pull(own_argilla, tmp_path, small_chunks):
    server, info = own_argilla
    samples = write_samples(tmp_path / "s.jsonl", N, "kar")
    push = ["push", str(samples), "--to", "argilla", "--dataset", "killed-server", "--rubric", "de-escalation"]
    env = {"ARGILLA_API_KEY": info.api_key}
    with FaultProxy("127.0.0.1", _port(info),
                    [Fault("PUT /api/v1/datasets/[^/]+/records/bulk", "call", 3,
                           action=lambda: _kill_server(info))]) as proxy:
        first = _cli([*push, "--url", proxy.url], env)
    assert proxy.fired
    outcome = _judge(first, "push")
    assert outcome == "failed cleanly"
    info = _restart(server, info)
    assert _cli([*push, "--url", info.url], env).exit_code == 0
    ext = _ar_records(info, "killed-server")
    record("argilla push", "server killed", outcome, lost=N - len(set(ext)), invented=len(ext) - len(set(ext)))
    assert sorted(ext) == [f"kar-{i:05d}" for i in range(N)]

    out = tmp_path / "pulled.jsonl"
    pull = ["pull", "--from", "argilla", "--dataset", "killed-server", "--rubric", "de-escalation", "-o", str(out)]
    reference = tmp_path / "reference.jsonl"
    assert _cli([*pull[:-1], str(reference), "--url", info.url], env).exit_code == 0
    with FaultProxy("127.0.0.1", _port(info),
                    [Fault("GET /api/v1/datasets/[^/]+/records", "call", 1,
                           action=lambda: _kill_server(info))]) as proxy:
        first = _cli([*pull, "--url", proxy.url], env)
    assert proxy.fired and _judge(first, "pull") == "failed cleanly"
    assert not out.exists() and _temps(tmp_path) == []
    info = _restart(server, info)
    assert _cli([*pull, "--url", info.url], env).exit_code == 0
    record("argilla pull", "server killed", "failed cleanly",
           lost=len(set(reference.read_text().splitlines()) - set(out.read_text().splitlines())),
           invented=len(set(out.read_text().splitlines()) - set(reference.read_text().splitlines())))
    assert out.read_text() == reference.read_text()


#: A push or pull in its own process, with small chunks, so that it can be killed midway.
CLIENT = """
import sys
import brun_label.backends.argilla as a, brun_label.backends.label_studio as l
l.CHUNK_TASKS = a.BATCH_SIZE = 20
from brun_label.cli import cli
cli.main(args=sys.argv[1:], prog_name="brun-label")
"""


class _Client:
    """A CLI process the proxy can kill (its pid is known only once it runs)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def run(self, args: list[str], env: dict[str, str]) -> int:
        self.proc = subprocess.Popen([sys.executable, "-c", CLIENT, *args], cwd=ROOT, text=True,
                                     env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.proc.communicate(timeout=300)
        return self.proc.returncode


@pytest.mark.parametrize("platform", ["label-studio", "argilla"])
def test_a_client_killed_mid_push_and_mid_pull(platform, label_studio_server, argilla_server, tmp_path):
    info = label_studio_server if platform == "label-studio" else argilla_server
    key_var = "LABEL_STUDIO_API_KEY" if platform == "label-studio" else "ARGILLA_API_KEY"
    env = {key_var: info.api_key}
    target = f"killed client {platform} {os.getpid()}"[:40].replace(" ", "-")
    samples = write_samples(tmp_path / "s.jsonl", N, "kcl")
    push = ["push", str(samples), "--to", platform, "--project", target, "--rubric", "de-escalation"]
    # The server has imported the second chunk when the client dies: its answer is never read.
    write = r"POST /api/projects/\d+/import" if platform == "label-studio" else "PUT /api/v1/datasets/[^/]+/records/bulk"
    client = _Client()
    with FaultProxy("127.0.0.1", _port(info), [Fault(write, "call-after", 2, action=client.kill)]) as proxy:
        code = client.run([*push, "--url", proxy.url], env)
    assert proxy.fired and code == -signal.SIGKILL
    assert _Client().run([*push, "--url", info.url], env) == 0
    ids = _ls_tasks(info, target) if platform == "label-studio" else _ar_records(info, target)
    record(f"{platform} push", "client killed", "failed cleanly", lost=N - len(set(ids)),
           invented=len(ids) - len(set(ids)))
    assert sorted(ids) == [f"kcl-{i:05d}" for i in range(N)]

    out = tmp_path / "pulled.jsonl"
    pull = ["pull", "--from", platform, "--project", target, "--rubric", "de-escalation", "-o", str(out)]
    reference = tmp_path / "reference.jsonl"
    assert _Client().run([*pull[:-1], str(reference), "--url", info.url], env) == 0
    read = r"/download" if platform == "label-studio" else "GET /api/v1/datasets/[^/]+/records"
    client = _Client()
    with FaultProxy("127.0.0.1", _port(info), [Fault(read, "call", 1, action=client.kill)]) as proxy:
        code = client.run([*pull, "--url", proxy.url], env)
    assert proxy.fired and code == -signal.SIGKILL
    assert not out.exists() and _temps(tmp_path) == []
    assert _Client().run([*pull, "--url", info.url], env) == 0
    assert _temps(tmp_path) == []
    got, ref = set(out.read_text().splitlines()), set(reference.read_text().splitlines())
    record(f"{platform} pull", "client killed", "failed cleanly", lost=len(ref - got), invented=len(got - ref))
    assert out.read_text() == reference.read_text()
    if platform == "label-studio":  # the re-run also deleted the snapshot the killed pull left
        http = httpx.Client(base_url=info.url, headers={"Authorization": f"Token {info.api_key}"}, timeout=60)
        pid = next(p["id"] for p in http.get("/api/projects/", params={"title": target}).json()["results"]
                   if p["title"] == target)
        assert http.get(f"/api/projects/{pid}/exports/").json() == []
