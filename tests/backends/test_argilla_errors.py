"""Wrong URL or key, a missing dataset or workspace, and a server error: one clear line, exit 1."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from click.testing import CliRunner

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.argilla_errors import map_error
from brun_label.backends.base import PullOptions
from brun_label.cli import cli
from brun_label.errors import (
    AuthenticationError,
    BackendConnectionError,
    InputError,
    NotFoundError,
    ServerError,
)
from brun_label.servers.base import ServerInfo, free_port


def _one_line_error(result: object, *needles: str) -> str:
    assert getattr(result, "exit_code", None) == 1, getattr(result, "output", "")
    text = (getattr(result, "stderr", "") or getattr(result, "output", "")).strip()
    assert len(text.splitlines()) == 1, text
    assert "Traceback" not in text
    for needle in needles:
        assert needle in text, text
    return text


class _Answer500(http.server.BaseHTTPRequestHandler):
    def _reply(self) -> None:
        body = json.dumps({"detail": "database is on fire"}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = _reply

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def failing_server() -> Iterator[str]:
    """A tiny local HTTP server that answers 500 to everything."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def samples_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"id": "s1", "prompt": "hi", "candidates": [{"text": "a"}, {"text": "b"}]}) + "\n")
    return path


def test_missing_url_or_key_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARGILLA_API_URL", raising=False)
    monkeypatch.delenv("ARGILLA_API_KEY", raising=False)
    with pytest.raises(InputError, match="ARGILLA_API_URL"):
        ArgillaBackend()
    with pytest.raises(InputError, match="ARGILLA_API_KEY"):
        ArgillaBackend(url="http://127.0.0.1:1")


def test_wrong_url_gives_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch, samples_file: Path) -> None:
    monkeypatch.setenv("ARGILLA_API_KEY", "some-key")
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["push", str(samples_file), "--to", "argilla", "--dataset", "d",
                                      "--rubric", "de-escalation", "--url", url])
    _one_line_error(result, "cannot reach Argilla at", url)


def test_a_server_error_gives_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, failing_server: str, tmp_path: Path
) -> None:
    monkeypatch.setenv("ARGILLA_API_URL", failing_server)
    monkeypatch.setenv("ARGILLA_API_KEY", "some-key")
    result = CliRunner().invoke(cli, ["pull", "--from", "argilla", "--dataset", "d", "-o", str(tmp_path / "a.csv")])
    _one_line_error(result, "answered HTTP 500", "database is on fire")
    assert not (tmp_path / "a.csv").exists()


def test_map_error_covers_the_sdk_and_http_failures() -> None:
    req = httpx.Request("GET", "http://x/api/v1/datasets/1")

    def status(code: int) -> httpx.HTTPStatusError:
        return httpx.HTTPStatusError("x", request=req, response=httpx.Response(code, request=req))

    assert isinstance(map_error(status(401), "http://x"), AuthenticationError)
    assert isinstance(map_error(status(403), "http://x"), AuthenticationError)
    assert isinstance(map_error(status(404), "http://x"), NotFoundError)
    assert isinstance(map_error(status(502), "http://x"), ServerError)
    assert isinstance(map_error(httpx.ReadTimeout("slow"), "http://x"), BackendConnectionError)
    assert isinstance(map_error(json.JSONDecodeError("x", "<html>", 0), "http://x"), ServerError)


def test_a_refused_distribution_change_is_a_clear_note() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"detail": "distribution cannot be changed"})

    backend = ArgillaBackend(url="http://argilla.test", api_key="k")
    backend._client = SimpleNamespace(http_client=httpx.Client(base_url="http://argilla.test",
                                                               transport=httpx.MockTransport(handler)))
    notes: list[str] = []
    backend._set_distribution({"id": "d1", "distribution": {"min_submitted": 2}}, 3, False, notes)
    assert notes == ["annotators per item NOT changed: it stays 2, not 3. Argilla allows changing the task "
                     "distribution only before any response exists."]


@pytest.mark.server
def test_wrong_key_missing_dataset_and_workspace_on_a_real_server(
    argilla_env: ServerInfo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, samples_file: Path
) -> None:
    runner = CliRunner()
    out = str(tmp_path / "a.parquet")
    missing = runner.invoke(cli, ["pull", "--from", "argilla", "--dataset", "no-such-dataset", "-o", out])
    _one_line_error(missing, "no dataset 'no-such-dataset'")
    # (a push with an owner's key creates a missing workspace: tests/backends/test_argilla_workspaces.py)
    no_ws = runner.invoke(cli, ["pull", "--from", "argilla", "--dataset", "d", "--workspace", "no-such-team",
                                "-o", out])
    _one_line_error(no_ws, "no workspace 'no-such-team'")
    monkeypatch.setenv("ARGILLA_API_KEY", "wrong-key-123")
    wrong = runner.invoke(cli, ["pull", "--from", "argilla", "--dataset", "d", "-o", out])
    text = _one_line_error(wrong, "refused the API key")
    assert "wrong-key-123" not in text
    with pytest.raises(AuthenticationError):
        ArgillaBackend().pull(None, PullOptions(target="d"))
