"""Secrets on disk and ports: nothing under a server's state is readable by other users, and a
server keeps its port (``--port`` honoured, the previous one kept) or fails with one line."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from brun_label.cli import cli
from brun_label.servers.base import (
    PortBusyError,
    choose_port,
    home,
    make_private,
    open_private,
    private_dir,
)
from tests.faults.test_concurrent_push import write_samples

pytestmark = pytest.mark.server


def _open_to_others(root: Path) -> list[str]:
    """Every path under ``root`` that grants anything to group or others (symlinks aside)."""
    found = []
    for parent, dirs, files in os.walk(root):
        for name in [".", *dirs, *files]:
            path = os.path.join(parent, name)
            st = os.lstat(path)
            if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
                found.append(f"{oct(stat.S_IMODE(st.st_mode))} {path}")
    return found


def test_no_file_under_the_servers_state_is_readable_by_others(label_studio_server, argilla_server, tmp_path):
    ls, ar = label_studio_server, argilla_server
    samples = write_samples(tmp_path / "s.jsonl", 30, "priv")
    runner = CliRunner()
    for args, env in (
        (["push", str(samples), "--to", "label-studio", "--project", "private state", "--rubric", "de-escalation"],
         ls.env),
        (["pull", "--from", "label-studio", "--project", "private state", "-o", str(tmp_path / "ls.jsonl")], ls.env),
        (["push", str(samples), "--to", "argilla", "--dataset", "private-state", "--rubric", "de-escalation"], ar.env),
        (["pull", "--from", "argilla", "--dataset", "private-state", "-o", str(tmp_path / "ar.jsonl")], ar.env),
    ):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 0, result.output
    # What a user does in the UI: upload a file to import, keep an export snapshot.
    http = httpx.Client(base_url=ls.url, headers={"Authorization": f"Token {ls.api_key}"}, timeout=60)
    pid = next(p["id"] for p in http.get("/api/projects/", params={"title": "private state"}).json()["results"])
    upload = io.BytesIO(json.dumps([{"prompt": "uploaded", "candidate_a": "a", "candidate_b": "b"}]).encode())
    http.post(f"/api/projects/{pid}/import", files={"file": ("upload.json", upload, "application/json")}
              ).raise_for_status()
    http.post(f"/api/projects/{pid}/exports/", json={"title": "kept"}).raise_for_status()
    ls_state, ar_state = Path(ls.data_dir).parent, Path(ar.data_dir).parent
    written = [p.name for p in ls_state.rglob("*") if p.is_file()]
    assert "upload.json" in "".join(written) and any(p.parent.name == str(pid) for p in ls_state.rglob("*.json"))
    assert any(p.name.startswith("argilla.db") for p in ar_state.rglob("*"))
    assert _open_to_others(ls_state) == []
    assert _open_to_others(ar_state) == []
    assert _open_to_others(home() / "templates") == []


def test_pull_leaves_no_export_behind(label_studio_server, tmp_path):
    ls = label_studio_server
    samples = write_samples(tmp_path / "s.jsonl", 30, "noexp")
    runner = CliRunner()
    push = ["push", str(samples), "--to", "label-studio", "--project", "no export left", "--rubric", "de-escalation"]
    assert runner.invoke(cli, push, env=ls.env).exit_code == 0
    export_dir = Path(ls.data_dir) / "media" / "export"
    before = sorted(export_dir.rglob("*")) if export_dir.exists() else []
    legacy = sorted((Path(ls.data_dir) / "export").glob("*"))
    for i in range(3):
        pulled = runner.invoke(cli, ["pull", "--from", "label-studio", "--project", "no export left", "-o",
                                     str(tmp_path / f"out{i}.jsonl")], env=ls.env)
        assert pulled.exit_code == 0, pulled.output
    assert (sorted(export_dir.rglob("*.json")) if export_dir.exists() else []) == [p for p in before
                                                                                  if p.suffix == ".json"]
    assert sorted((Path(ls.data_dir) / "export").glob("*")) == legacy  # the one-call export is not used
    http = httpx.Client(base_url=ls.url, headers={"Authorization": f"Token {ls.api_key}"}, timeout=60)
    pid = next(p["id"] for p in http.get("/api/projects/", params={"title": "no export left"}).json()["results"])
    assert http.get(f"/api/projects/{pid}/exports/").json() == []


def test_private_helpers(tmp_path):
    d = private_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    f = d / "log"
    f.write_text("old")
    f.chmod(0o644)
    os.close(open_private(f, append=True))
    assert stat.S_IMODE(f.stat().st_mode) == 0o600 and f.read_text() == "old"
    (d / "sub").mkdir(mode=0o755)
    (d / "sub" / "x").write_text("x")
    os.chmod(d / "sub" / "x", 0o664)
    os.symlink("/etc/hostname", d / "link")
    make_private(tmp_path)
    assert _open_to_others(tmp_path) == []
    assert stat.S_IMODE(os.stat("/etc/hostname").st_mode) & 0o004  # a symlink's target is left alone


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_choose_port_keeps_the_port_or_fails(busy_port):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = int(s.getsockname()[1])
    assert choose_port("x", free, None, 1) == free
    assert choose_port("x", None, free, busy_port) == free  # the previous port before the default
    assert choose_port("x", 0, busy_port, busy_port) not in (0, busy_port)
    for asked, recorded in ((busy_port, None), (None, busy_port)):
        with pytest.raises(PortBusyError, match=f"port {busy_port} on 127.0.0.1 .* is busy"):
            choose_port("x", asked, recorded, free)


@pytest.mark.parametrize("name", ["label-studio", "argilla"])
def test_serve_with_a_busy_port_fails_with_one_line(name, busy_port, tmp_path, monkeypatch):
    cached = home()
    monkeypatch.setenv("BRUN_LABEL_HOME", str(tmp_path))
    (tmp_path / "venvs").symlink_to(cached / "venvs")  # the servers' environments, not their state
    result = CliRunner().invoke(cli, ["serve", name, "--port", str(busy_port)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {name}: port {busy_port} on 127.0.0.1 (asked for with --port) is busy; stop what uses it or pick "
        "another with --port (0 = any free port)"]
    assert json.loads(CliRunner().invoke(cli, ["serve", "status", "--json"]).stdout) == {
        "label-studio": None, "argilla": None}
