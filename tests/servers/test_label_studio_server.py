"""The local Label Studio server: loopback only, telemetry off, secrets kept private, and
``brun-label serve label-studio`` / ``serve env`` / ``serve stop`` end to end."""

from __future__ import annotations

import json
import os
import shutil
import stat
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from brun_label.cli import cli
from brun_label.servers.base import ServerInfo, home, pid_alive
from brun_label.servers.label_studio import CREDENTIALS_FILE, QUIET_ENV, ensure_template

pytestmark = pytest.mark.server


def _listen_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.add(addr)
    return found


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_the_server_listens_on_loopback_only(label_studio_server):
    port = int(label_studio_server.url.rsplit(":", 1)[1])
    assert _listen_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0 or ::


def test_telemetry_is_off_and_secrets_are_private(label_studio_server):
    env = _environ(label_studio_server.pid)
    for key, value in QUIET_ENV.items():
        assert env.get(key) == value
    assert env["LABEL_STUDIO_BASE_DATA_DIR"] == label_studio_server.data_dir
    for path in (Path(label_studio_server.data_dir) / CREDENTIALS_FILE,
                 Path(label_studio_server.log_file).parent / "server.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert label_studio_server.api_key not in Path(label_studio_server.log_file).read_text()


def test_the_api_token_and_the_admin_login_work(label_studio_server):
    req = urllib.request.Request(label_studio_server.url + "/api/current-user/whoami",
                                 headers={"Authorization": f"Token {label_studio_server.api_key}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["email"] == label_studio_server.username
    assert label_studio_server.env == {"LABEL_STUDIO_URL": label_studio_server.url,
                                       "LABEL_STUDIO_API_KEY": label_studio_server.api_key}


@pytest.fixture
def user_home(tmp_path, monkeypatch):
    """A fresh $BRUN_LABEL_HOME that shares the cached server environment, with a migrated data dir
    in place (so the test exercises `serve` without the ≈ 22 s first migration)."""
    cached = home()
    template = ensure_template()
    monkeypatch.setenv("BRUN_LABEL_HOME", str(tmp_path))
    (tmp_path / "venvs").symlink_to(cached / "venvs")
    shutil.copytree(template, tmp_path / "servers" / "label-studio" / "data")
    yield tmp_path
    CliRunner().invoke(cli, ["serve", "stop", "label-studio"])


def test_serve_start_env_status_stop(user_home):
    runner = CliRunner()
    started = runner.invoke(cli, ["serve", "label-studio", "--port", "0"])
    assert started.exit_code == 0, started.output
    info = ServerInfo.load(user_home / "servers" / "label-studio" / "server.json")
    assert info is not None and pid_alive(info.pid)
    assert f"label-studio is up at {info.url}" in started.stdout
    assert info.password not in started.stdout  # CI logs keep stdout
    creds = user_home / "servers" / "label-studio" / "data" / CREDENTIALS_FILE
    assert f"password in {creds}" in started.stdout
    assert 'eval "$(brun-label serve env label-studio)"' in started.stdout

    again = runner.invoke(cli, ["serve", "label-studio", "--json"])
    assert again.exit_code == 0 and "already running" in again.stderr
    shown = json.loads(again.stdout)
    assert shown["pid"] == info.pid and info.api_key not in again.stdout and info.password not in again.stdout
    assert shown["credentials_file"] == str(creds)
    asked = runner.invoke(cli, ["serve", "label-studio", "--show-password"])
    assert f"log in as: {info.username} / {info.password}" in asked.stdout

    env = runner.invoke(cli, ["serve", "env", "label-studio"])
    assert env.stdout.splitlines() == [f"export LABEL_STUDIO_URL={info.url}",
                                       f"export LABEL_STUDIO_API_KEY={info.api_key}"]
    status = runner.invoke(cli, ["serve", "status", "--json"])
    assert json.loads(status.stdout)["label-studio"]["url"] == info.url

    stopped = runner.invoke(cli, ["serve", "stop", "label-studio"])
    assert stopped.stdout.strip() == "label-studio: stopped"
    assert not pid_alive(info.pid)
    assert json.loads(runner.invoke(cli, ["serve", "status", "--json"]).stdout)["label-studio"] is None

    # A restart on the same data keeps the same login and token.
    restarted = runner.invoke(cli, ["serve", "label-studio", "--port", "0", "--json"])
    assert restarted.exit_code == 0, restarted.output
    info2 = ServerInfo.load(user_home / "servers" / "label-studio" / "server.json")
    assert info2 is not None and (info2.username, info2.password, info2.api_key) == (
        info.username, info.password, info.api_key)
    assert info2.pid != info.pid and pid_alive(info2.pid)


def test_a_database_without_credentials_is_not_started_blindly(user_home):
    data = user_home / "servers" / "label-studio" / "data"
    (data / CREDENTIALS_FILE).unlink()
    result = CliRunner().invoke(cli, ["serve", "label-studio", "--port", "0"])
    assert result.exit_code == 1
    assert f"{data} holds a Label Studio database but no {CREDENTIALS_FILE}" in result.stderr
