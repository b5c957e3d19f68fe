"""`brun-label push/pull --to/--from label-studio` through the CLI: outputs, exit codes, one-line errors.

Error cases use real endpoints: a closed port, the real server with a wrong key, a tiny local HTTP
server that answers 500 to everything, and one that answers an HTML page.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import jwt
import pytest
from click.testing import CliRunner

from brun_label.cli import cli
from brun_label.data import sample_path
from brun_label.importers.annotations import read_annotations
from brun_label.importers.samples import read_samples
from brun_label.servers.base import free_port
from tests.fixtures.label_studio import choices, textarea

pytestmark = pytest.mark.server


def _run(args: list[str], env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, args, env=env)


def _one_error_line(result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("pull from")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("ext", ["jsonl", "csv", "parquet"])
def test_push_then_pull_writes_the_table(ext, label_studio_env, label_studio_admin, ls_project_title, tmp_path):
    samples_file = str(sample_path("project-architect"))
    push = _run(["push", samples_file, "--to", "label-studio", "--project", ls_project_title,
                 "--rubric", "project-architect", "--json"])
    assert push.exit_code == 0, push.output
    summary = json.loads(push.stdout)
    n = len(read_samples(samples_file))
    assert (summary["created"], summary["n_added"], summary["n_samples"]) == (True, n, n)
    assert summary["url"].startswith(label_studio_env.url)
    assert "push to label-studio" in push.stderr  # progress goes to stderr

    first = read_samples(samples_file)[0]
    task = label_studio_admin.task_of(ls_project_title, first.id)
    order = task["data"]["brun_order"]
    label_studio_admin.annotate(task["id"], [choices("plan_depth_b", "candidate_b", "1"),
                                             {"from_name": "actionability_a", "to_name": "candidate_a",
                                              "type": "rating", "value": {"rating": 4}},
                                             choices("preference", "prompt", "both_bad"),
                                             textarea("rationale", "prompt", "Neither, sorry: ünïcode")],
                                "reviewer@example.org")
    out = tmp_path / f"ann.{ext}"
    pull = _run(["pull", "--from", "label-studio", "--project", ls_project_title, "-o", str(out), "--no-judge"])
    assert pull.exit_code == 0, pull.output
    assert f"{out}: {4 + 2} row(s) from {n} item(s), 1 annotator(s), 0 invalid answer(s)" in pull.stdout
    table = read_annotations(out)
    got = sorted((r.candidate_id, r.question, json.dumps(r.value, ensure_ascii=False)) for r in table.itertuples())
    # No flag ticked in a submitted annotation means "no flags" for each candidate rated (a and b, not c).
    assert got == sorted([(order[1], "plan_depth", "1"), (order[0], "actionability", "4"),
                          ("", "preference", '"both_bad"'), ("", "rationale", '"Neither, sorry: ünïcode"'),
                          *((c, "planning_flags", "[]") for c in order[:2])])
    assert set(table["annotator"]) == {"reviewer@example.org"} and set(table["item_id"]) == {first.id}


def test_dry_run_says_what_would_change_and_changes_nothing(label_studio_env, label_studio_admin, ls_project_title,
                                                          tmp_path):
    samples_file = str(sample_path("socratic-mentor"))
    n = len(read_samples(samples_file))
    base = ["push", samples_file, "--to", "label-studio", "--project", ls_project_title]
    dry = _run([*base, "--rubric", "socratic-mentor", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"(new): would add {n} sample(s), 0 already there, {n} in the file" in dry.stdout
    assert "would create project" in dry.stderr
    assert label_studio_admin.http.get("/api/projects/", params={"title": ls_project_title}).json()["count"] == 0
    assert _run([*base, "--rubric", "socratic-mentor"]).exit_code == 0
    again = _run([*base, "--rubric", "socratic-mentor"])
    assert f"(existing): added 0 sample(s), {n} already there" in again.stdout

    # judge answers that are not questions of de-escalation are refused before the server is asked
    refused = _run([*base, "--rubric", "de-escalation"])
    assert "is not a question of rubric de-escalation" in _one_error_line(refused, 2)
    plain = tmp_path / "no-judge.jsonl"
    plain.write_text("".join(json.dumps({k: v for k, v in s.to_dict().items() if not k.startswith("judge")}
                                        | {"candidates": [{k: v for k, v in c.items() if not k.startswith("judge")}
                                                          for c in s.to_dict()["candidates"]]}) + "\n"
                             for s in read_samples(samples_file)))
    other = ["push", str(plain), "--to", "label-studio", "--project", ls_project_title]
    conflict = _run([*other, "--rubric", "de-escalation"])
    line = _one_error_line(conflict, 1)
    assert "different labeling config" in line and "--update-config" in line
    dry_change = _run([*other, "--rubric", "de-escalation", "--update-config", "--dry-run"])
    assert dry_change.exit_code == 0 and "would replace the project's labeling config" in dry_change.stderr


def test_a_wrong_url_is_one_line_exit_1_and_no_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "0123456789abcdef")
    out = tmp_path / "ann.parquet"
    port = free_port()
    result = _run(["pull", "--from", "label-studio", "--url", f"http://127.0.0.1:{port}", "--project", "p", "-o", str(out)])
    line = _one_error_line(result, 1)
    assert f"cannot reach Label Studio at http://127.0.0.1:{port}" in line
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_key_is_one_line_exit_1_and_never_printed(label_studio_server, tmp_path, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio_server.url)
    monkeypatch.setenv("MY_LS_KEY", "wrong-key-123456")
    out = tmp_path / "ann.csv"
    result = _run(["pull", "--from", "label-studio", "--project", "p", "-o", str(out), "--api-key-env", "MY_LS_KEY"])
    line = _one_error_line(result, 1)
    assert "refused the API key" in line and "401" in line
    assert "wrong-key-123456" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_expired_personal_access_token_is_one_line_exit_1(label_studio_server, tmp_path, monkeypatch):
    token = jwt.encode({"token_type": "refresh", "exp": int(time.time()) - 60, "user_id": 1}, "k" * 32)
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)
    result = _run(["pull", "--from", "label-studio", "--project", "p", "-o", str(tmp_path / "a.jsonl")])
    line = _one_error_line(result, 1)
    assert "expired" in line and token not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_missing_project_is_one_line_exit_1_and_no_file(label_studio_env, tmp_path):
    out = tmp_path / "ann.jsonl"
    result = _run(["pull", "--from", "label-studio", "--project", "Nobody made this", "-o", str(out)])
    assert "no Label Studio project titled 'Nobody made this'" in _one_error_line(result, 1)
    assert list(tmp_path.iterdir()) == []


class _Canned(http.server.BaseHTTPRequestHandler):
    status = 500
    body = b'{"detail": "Internal server error"}'
    content_type = "application/json"

    def _answer(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def canned_server(request) -> Iterator[str]:
    status, body, kind = request.param
    handler = type("Handler", (_Canned,), {"status": status, "body": body, "content_type": kind})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("canned_server, needle", [
    ((500, b'{"detail": "Internal server error"}', "application/json"), "failed while listing projects (HTTP 500"),
    ((200, b"<html><body>Welcome to nginx!</body></html>", "text/html"), "is it a Label Studio server?"),
], indirect=["canned_server"])
def test_a_server_error_is_one_line_exit_1_and_no_file(canned_server, needle, tmp_path, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "0123456789abcdef")
    samples = tmp_path / "s.jsonl"
    samples.write_text(sample_path("de-escalation").read_text())
    out = tmp_path / "out"
    out.mkdir()
    pull = _run(["pull", "--from", "label-studio", "--url", canned_server, "--project", "p", "-o", str(out / "a.parquet")])
    assert needle in _one_error_line(pull, 1)
    push = _run(["push", str(samples), "--to", "label-studio", "--url", canned_server, "--project", "p",
                 "--rubric", "de-escalation"])
    assert needle in _one_error_line(push, 1)
    assert list(out.iterdir()) == []


def test_no_url_or_key_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "0123456789abcdef")
    result = _run(["pull", "--from", "label-studio", "--project", "p", "-o", str(tmp_path / "a.csv")])
    assert "set LABEL_STUDIO_URL or pass --url" in _one_error_line(result, 2)
    monkeypatch.setenv("LABEL_STUDIO_URL", "localhost:8080")
    result = _run(["pull", "--from", "label-studio", "--project", "p", "-o", str(tmp_path / "a.csv")])
    assert "not an http(s) URL" in _one_error_line(result, 2)
    monkeypatch.setenv("LABEL_STUDIO_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("LABEL_STUDIO_API_KEY")
    result = _run(["pull", "--from", "label-studio", "--project", "p", "-o", str(tmp_path / "a.csv")])
    assert "no Label Studio API key" in _one_error_line(result, 2)


def test_a_personal_access_token_works_like_a_legacy_token(label_studio_server, label_studio_admin, ls_project_title,
                                                           tmp_path, monkeypatch):
    response = label_studio_admin.http.post("/api/token/")
    assert response.status_code == 201, response.text
    pat = response.json()["token"]
    assert pat.count(".") == 2  # a JWT refresh token, which the SDK trades for access tokens
    monkeypatch.setenv("LABEL_STUDIO_URL", label_studio_server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", pat)
    push = _run(["push", str(sample_path("deal-closer")), "--to", "label-studio", "--project", ls_project_title,
                 "--rubric", "deal-closer", "--json"])
    assert push.exit_code == 0, push.output
    assert pat not in push.output
    out = tmp_path / "judge.jsonl"
    pull = _run(["pull", "--from", "label-studio", "--project", ls_project_title, "-o", str(out), "--json"])
    assert pull.exit_code == 0, pull.output
    summary = json.loads(pull.stdout)
    assert summary["items"] == len(read_samples(sample_path("deal-closer")))
    assert summary["annotators"] == [] and summary["rows"] > 0  # only the judge's predictions so far
