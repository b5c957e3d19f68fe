"""The local argilla-server (SQLite + the brun-sql search engine): lifecycle, the annotator's view
(own responses, pending queue, progress), search features, and the real UI in headless Chromium.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PushOptions
from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.servers.argilla import ArgillaServer
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import ArgillaAPI, unique_name

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")


def _push(name: str, n: int, with_judge: bool = False) -> None:
    samples = []
    for i in range(n):
        raw: dict[str, Any] = {
            "id": f"s{i}", "category": ["billing", "hr", "pr"][i % 3],
            "prompt": f"Message {i}: " + ("refund please" if i % 2 else "I am furious about the late fee"),
            "candidates": [{"id": f"s{i}-a", "text": f"Calm reply {i}"}, {"id": f"s{i}-b", "text": f"Cold reply {i}"}],
        }
        if with_judge:
            raw["judge_model"] = "judge-x"
            raw["judge"] = {"preference": "tie"}
            raw["candidates"][0]["judge"] = {"tone_zone": i % 3 - 1}
        samples.append(sample_from_dict(raw))
    # with_judge: the judge's answers shown as suggestions (push --show-judge), for the suggestion features.
    ArgillaBackend().push(samples, RUBRIC, PushOptions(target=name, annotators_per_item=2, show_judge=with_judge))


def _answers(tone: str = "0") -> dict[str, Any]:
    return {"tone_zone_a": tone, "tone_zone_b": "1", "preference": "a"}


def _search(http: httpx.Client, dataset_id: str, body: dict[str, Any], me: bool = False, **params: Any) -> dict[str, Any]:
    path = f"/api/v1/{'me/' if me else ''}datasets/{dataset_id}/records/search"
    response = http.post(path, params={"limit": 100, **params}, json=body)
    response.raise_for_status()
    return dict(response.json())


def _ids(result: dict[str, Any]) -> list[str]:
    return [item["record"]["external_id"] for item in result["items"]]


def _terms(entity: str, values: list[str], **scope: str) -> dict[str, Any]:
    return {"type": "terms", "scope": {"entity": entity, **scope}, "values": values}


# -- lifecycle -------------------------------------------------------------------------------------


def test_a_restart_reuses_the_database_and_the_owner_key(tmp_path: Path) -> None:
    server = ArgillaServer(tmp_path / "state")
    first = server.start(port=0)
    try:
        assert stat.S_IMODE(server.info_path.stat().st_mode) == 0o600
        assert first.env == {"ARGILLA_API_URL": first.url, "ARGILLA_API_KEY": first.api_key}
        assert first.url.startswith("http://127.0.0.1:")
        assert server.status() is not None
        assert server.start() == server.status()  # idempotent while running
        me = httpx.get(f"{first.url}/api/v1/me", headers={"X-Argilla-Api-Key": first.api_key}).json()
        assert (me["username"], me["role"]) == ("owner", "owner")
        token = httpx.post(f"{first.url}/api/v1/token", data={"username": "owner", "password": first.password})
        assert token.status_code in (200, 201)
        httpx.post(f"{first.url}/api/v1/workspaces", json={"name": "kept"},
                   headers={"X-Argilla-Api-Key": first.api_key}).raise_for_status()
        status = httpx.get(f"{first.url}/api/v1/status", headers={"X-Argilla-Api-Key": first.api_key})
        assert status.status_code == 200 and status.json()["search_engine"]["name"] == "brun-sql"
    finally:
        assert server.stop()
    assert server.status() is None and not server.stop()
    second = server.start(port=0)
    try:
        assert second.api_key == first.api_key and second.password == first.password
        names = [w["name"] for w in httpx.get(f"{second.url}/api/v1/me/workspaces",
                                              headers={"X-Argilla-Api-Key": second.api_key}).json()["items"]]
        assert "kept" in names
    finally:
        server.stop()


# -- the annotator's view --------------------------------------------------------------------------


def test_annotators_see_their_own_responses_queue_and_progress(argilla_env: ServerInfo, argilla_api: ArgillaAPI) -> None:
    name = unique_name("view")
    _push(name, 6)
    dataset_id = argilla_api.dataset(name)["id"]
    alice, bob = argilla_api.annotator("alice"), argilla_api.annotator("bob")
    owner_records = {r["external_id"]: r["id"] for r in argilla_api.records(dataset_id)}
    alice.submit(owner_records["s0"], _answers())
    alice.submit(owner_records["s1"], _answers(), "draft")
    alice.submit(owner_records["s2"], None, "discarded")
    bob.submit(owner_records["s0"], _answers("-1"))
    bob.submit(owner_records["s3"], _answers())

    alice_pending = alice.queue(dataset_id, ["pending"])
    assert sorted(_ids(alice_pending)) == ["s3", "s4", "s5"]  # bob's answer to s3 does not take it away
    assert alice_pending["total"] == 3
    assert sorted(_ids(bob.queue(dataset_id, ["pending"]))) == ["s1", "s2", "s4", "s5"]
    assert _ids(alice.queue(dataset_id, ["submitted"])) == ["s0"]
    assert sorted(_ids(alice.queue(dataset_id, ["draft", "discarded"]))) == ["s1", "s2"]
    assert sorted(_ids(alice.queue(dataset_id, ["pending", "draft"]))) == ["s1", "s3", "s4", "s5"]
    for item in alice.queue(dataset_id, ["submitted"])["items"]:
        users = {r["user_id"] for r in item["record"]["responses"]}
        assert users == {alice.id}  # bob's response to s0 is not shown to alice

    assert alice.metrics(dataset_id)["responses"] == {"total": 6, "submitted": 1, "discarded": 1, "draft": 1,
                                                      "pending": 3}
    assert bob.metrics(dataset_id)["responses"] == {"total": 6, "submitted": 2, "discarded": 0, "draft": 0,
                                                    "pending": 4}
    progress = argilla_api.progress(dataset_id)
    assert (progress["total"], progress["completed"], progress["pending"]) == (6, 1, 5)  # s0: 2 submitted
    assert sorted(u["username"] for u in progress["users"]) == ["alice", "bob"]
    assert _ids(_search(argilla_api.http, dataset_id, {"filters": {"and": [
        _terms("record", ["completed"], property="status")]}})) == ["s0"]


def test_each_annotator_gets_a_stable_shuffled_order(argilla_env: ServerInfo, argilla_api: ArgillaAPI) -> None:
    name = unique_name("shuffle")
    _push(name, 30)
    dataset_id = argilla_api.dataset(name)["id"]
    carol, dave = argilla_api.annotator("carol"), argilla_api.annotator("dave")
    carol_order = _ids(carol.queue(dataset_id, ["pending"]))
    assert carol_order == _ids(carol.queue(dataset_id, ["pending"]))
    assert sorted(carol_order) == sorted(f"s{i}" for i in range(30))
    assert carol_order != _ids(dave.queue(dataset_id, ["pending"]))
    page = _search(carol.http, dataset_id, {"filters": {"and": [_terms("response", ["pending"], property="status")]}},
                   me=True, offset=10, limit=5)
    assert _ids(page) == carol_order[10:15] and page["total"] == 30


# -- search features -------------------------------------------------------------------------------


def test_text_search_filters_sort_and_metrics(argilla_env: ServerInfo, argilla_api: ArgillaAPI) -> None:
    name = unique_name("search")
    _push(name, 9, with_judge=True)
    dataset_id = argilla_api.dataset(name)["id"]
    http = argilla_api.http
    owner_records = {r["external_id"]: r["id"] for r in argilla_api.records(dataset_id)}
    erin = argilla_api.annotator("erin")
    erin.submit(owner_records["s4"], _answers("-2"))
    erin.submit(owner_records["s5"], _answers("2"))

    def search(body: dict[str, Any]) -> list[str]:
        return sorted(_ids(_search(http, dataset_id, body)))

    assert search({"query": {"text": {"q": "refund"}}}) == ["s1", "s3", "s5", "s7"]
    assert search({"query": {"text": {"q": "furious -fee"}}}) == []
    assert search({"query": {"text": {"q": '"late fee" message'}}}) == ["s0", "s2", "s4", "s6", "s8"]
    assert search({"query": {"text": {"q": "Calm | Cold", "field": "candidate_b"}}}) == [f"s{i}" for i in range(9)]
    assert search({"query": {"text": {"q": "reply 7", "field": "candidate_a"}}}) == ["s7"]
    assert search({"filters": {"and": [_terms("metadata", ["hr"], metadata_property="category")]}}) == ["s1", "s4", "s7"]
    assert search({"filters": {"and": [_terms("suggestion", ["tie"], question="preference")]}}) == [
        f"s{i}" for i in range(9)]
    assert search({"filters": {"and": [_terms("suggestion", ["a"], question="preference")]}}) == []
    judged = search({"filters": {"and": [_terms("suggestion", ["judge-x"], question="preference", property="agent")]}})
    assert judged == [f"s{i}" for i in range(9)]
    assert search({"filters": {"and": [_terms("response", ["-2"], question="tone_zone_a")]}}) == ["s4"]
    assert search({"filters": {"and": [{"type": "range", "scope": {"entity": "response", "question": "tone_zone_a"},
                                        "ge": 1}]}}) == ["s5"]
    sorted_desc = _ids(_search(http, dataset_id, {"sort": [{"scope": {"entity": "record", "property": "external_id"},
                                                            "order": "desc"}]}))
    assert sorted_desc == sorted((f"s{i}" for i in range(9)), reverse=True)
    by_category = _ids(_search(http, dataset_id, {"sort": [
        {"scope": {"entity": "metadata", "metadata_property": "category"}, "order": "asc"},
        {"scope": {"entity": "record", "property": "external_id"}, "order": "asc"}]}))
    assert by_category == ["s0", "s3", "s6", "s1", "s4", "s7", "s2", "s5", "s8"]

    props = http.get(f"/api/v1/me/datasets/{dataset_id}/metadata-properties").raise_for_status().json()["items"]
    metrics = http.get(f"/api/v1/metadata-properties/{props[0]['id']}/metrics").raise_for_status().json()
    assert metrics["total"] == 9
    assert sorted((v["term"], v["count"]) for v in metrics["values"]) == [("billing", 3), ("hr", 3), ("pr", 3)]


def test_similarity_search_says_it_is_not_supported(argilla_env: ServerInfo, argilla_api: ArgillaAPI) -> None:
    import argilla as rg

    client = rg.Argilla(api_url=argilla_env.url, api_key=argilla_env.api_key)
    settings = rg.Settings(fields=[rg.TextField(name="text")], questions=[rg.LabelQuestion(name="l", labels=["a", "b"])],
                           vectors=[rg.VectorField(name="emb", dimensions=2)])
    ds = rg.Dataset(name=unique_name("vectors"), workspace="default", settings=settings, client=client).create()
    ds.records.log([rg.Record(fields={"text": "x"}, vectors={"emb": [0.1, 0.2]})])
    answer = argilla_api.http.post(f"/api/v1/datasets/{ds.id}/records/search",
                                   json={"query": {"vector": {"name": "emb", "value": [0.1, 0.2]}}})
    assert answer.status_code == 422
    assert "not supported by the local SQL search engine" in answer.text


# -- the real UI -----------------------------------------------------------------------------------


class Chromium:
    """Headless Chromium driven over the DevTools protocol (websocket-client)."""

    def __init__(self, width: int = 1400, height: int = 1000) -> None:
        import websocket

        self.dir = tempfile.mkdtemp(prefix="brun-chromium-")
        self.proc = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
             f"--user-data-dir={self.dir}", "--remote-debugging-port=0", f"--window-size={width},{height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        port_file = Path(self.dir) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as resp:
            page = next(p for p in json.load(resp) if p["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self._ids = itertools.count(1)
        self.call("Page.enable")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(str(msg["error"]))
                return dict(msg.get("result") or {})

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.js(expression):
                    return True
            except RuntimeError:
                pass
            time.sleep(0.25)
        return False

    def goto(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        self.ws.close()
        os.killpg(self.proc.pid, 15)
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    if shutil.which("chromium") is None:
        pytest.fail("chromium is needed for the UI test: apt-get install -y chromium")
    browser = Chromium()
    try:
        yield browser
    finally:
        browser.close()


def _select(browser: Chromium, slot: str, title: str) -> None:
    """Choose an option the way an annotator does: click its label (unless a suggestion already chose it)."""
    selector = json.dumps(f'label[for^="{slot}_"][title="{title}"]')
    state = browser.js(f"(() => {{ const el = document.querySelector({selector}); if (!el) return 'missing';"
                       " if (el.classList.contains('label-active')) return 'already'; el.click(); return 'clicked'; })()")
    assert state in ("clicked", "already"), f"no option {title!r} for {slot}"
    assert browser.wait_for(f"document.querySelector({selector}).classList.contains('label-active')", timeout=5)


def _click_button(browser: Chromium, text: str) -> None:
    found = browser.js(f"(() => {{ const b = [...document.querySelectorAll('button')].find(e => "
                       f"e.innerText.trim().endsWith({json.dumps(text)})); if (!b) return false; b.click(); return true; }})()")
    assert found, f"no button {text!r}"


def _open_annotation_mode(browser: Chromium, url: str, dataset_id: str, username: str) -> None:
    token = httpx.post(f"{url}/api/v1/token", data={"username": username, "password": "annotator-pw-123"})
    token.raise_for_status()
    bearer = "Bearer " + token.json()["access_token"]
    browser.goto(f"{url}/sign-in")
    assert browser.wait_for("document.readyState === 'complete'")
    # What the UI's login form does: keep the token the server issued (nuxt-auth, local strategy).
    browser.js(f"localStorage.setItem('auth.strategy', 'local'); localStorage.setItem('auth._token.local', "
               f"{json.dumps(bearer)}); localStorage.setItem('auth._token_expiration.local', "
               "String(Date.now() + 3600000)); true")
    browser.goto(f"{url}/dataset/{dataset_id}/annotation-mode")
    assert browser.wait_for("document.body.innerText.includes('B: Tone zone')"), browser.js("document.body.innerText")


def test_by_default_the_ui_shows_no_judge_answer_and_selects_nothing(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI, chromium: Chromium
) -> None:
    name = unique_name("ui-hidden")
    samples = [sample_from_dict({"id": "h0", "prompt": "I want a refund", "judge_model": "judge-x",
                                 "judge": {"preference": "tie"},
                                 "candidates": [{"id": "h0-a", "text": "Calm", "judge": {"tone_zone": 0}},
                                                {"id": "h0-b", "text": "Cold", "judge": {"tone_zone": 2}}]})]
    ArgillaBackend().push(samples, RUBRIC, PushOptions(target=name))  # no --show-judge
    dataset_id = argilla_api.dataset(name)["id"]
    argilla_api.annotator("gina")
    _open_annotation_mode(chromium, argilla_env.url, dataset_id, "gina")
    assert chromium.wait_for("document.querySelectorAll('label[for^=\"tone_zone_a_\"]').length > 0")
    assert "judge-x" not in chromium.js("document.body.innerText")
    assert chromium.js("document.querySelectorAll('label.label-active').length") == 0  # nothing pre-selected
    # The same push with --show-judge pre-selects the judge's answers (what the default avoids).
    shown = unique_name("ui-shown")
    ArgillaBackend().push(samples, RUBRIC, PushOptions(target=shown, show_judge=True))
    _open_annotation_mode(chromium, argilla_env.url, argilla_api.dataset(shown)["id"], "gina")
    assert chromium.wait_for("document.querySelectorAll('label.label-active').length > 0")
    assert "judge-x" in chromium.js("document.body.innerText")


def test_an_annotator_logs_into_the_ui_sees_the_queue_and_submits(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI, chromium: Chromium, tmp_path: Path
) -> None:
    name = unique_name("ui")
    _push(name, 3, with_judge=True)
    dataset_id = argilla_api.dataset(name)["id"]
    frank = argilla_api.annotator("frank")
    url = argilla_env.url
    token = httpx.post(f"{url}/api/v1/token", data={"username": "frank", "password": "annotator-pw-123"})
    token.raise_for_status()
    bearer = "Bearer " + token.json()["access_token"]
    chromium.goto(f"{url}/sign-in")
    assert chromium.wait_for("document.readyState === 'complete'")
    # What the UI's login form does: keep the token the server issued (nuxt-auth, local strategy).
    chromium.js(f"localStorage.setItem('auth.strategy', 'local'); localStorage.setItem('auth._token.local', "
                f"{json.dumps(bearer)}); localStorage.setItem('auth._token_expiration.local', "
                "String(Date.now() + 3600000)); true")
    chromium.goto(f"{url}/dataset/{dataset_id}/annotation-mode")
    assert chromium.wait_for("document.body.innerText.includes('B: Tone zone')"), chromium.js("document.body.innerText")
    assert chromium.wait_for("document.body.innerText.includes('of 3')")
    text = chromium.js("document.body.innerText")
    assert "Pending" in text and "Candidate A" in text and "judge-x" in text  # queue, fields, suggestions
    chromium.screenshot(tmp_path / "queue.png")

    _select(chromium, "tone_zone_a", "0 In zone")
    _select(chromium, "tone_zone_b", "+1 Firm")
    _select(chromium, "preference", "Tie: equally good")
    _click_button(chromium, "Submit")
    deadline = time.monotonic() + 20
    while frank.metrics(dataset_id)["responses"]["submitted"] < 1 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert frank.metrics(dataset_id)["responses"]["submitted"] == 1
    # The UI moves on and its progress bar counts the submission.
    assert chromium.wait_for(r"/Submitted\s*1/.test(document.body.innerText)"), chromium.js("document.body.innerText")
    chromium.screenshot(tmp_path / "submitted.png")
    shot_dir = os.environ.get("BRUN_LABEL_UI_SCREENSHOTS")
    if shot_dir:  # to look at them: BRUN_LABEL_UI_SCREENSHOTS=/some/dir pytest -k ui
        for png in ("queue.png", "submitted.png"):
            shutil.copy(tmp_path / png, Path(shot_dir) / png)
    answered = [r for r in argilla_api.records(dataset_id) if r["responses"]]
    assert len(answered) == 1
    values = answered[0]["responses"][0]["values"]
    assert values["tone_zone_a"]["value"] == "0" and values["tone_zone_b"]["value"] == "1"
    assert values["preference"]["value"] == "tie"
