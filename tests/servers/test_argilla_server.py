"""The local argilla-server (SQLite + the brun-sql search engine): lifecycle, the annotator's view
(own responses, pending queue, progress), search features, and the real UI in headless Chromium.
"""

from __future__ import annotations

import stat
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


# The real UI (sign-in form, annotation page, clicks and keys) is tested in tests/ui/.

