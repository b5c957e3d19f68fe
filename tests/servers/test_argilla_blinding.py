"""Blinding on the local argilla-server: an annotator reads no other annotator's response and none
of the metadata hidden from annotators (the judge's answers included), by any endpoint.

Every route of argilla-server 2.8.0's API is listed here (checked against the server's own
OpenAPI document, so a new route fails the test until it is classified) either as probed, with
the annotator's answer searched for the other annotator's response and the hidden metadata, or
with the reason it cannot return them to an annotator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.argilla_records import JUDGE_KEY, JUDGE_SHOWN_KEY
from brun_label.backends.base import PushOptions
from brun_label.layout import ORDER_KEY, SAMPLE_ID_KEY
from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import Annotator, ArgillaAPI, unique_name

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")
#: Text only bob's responses hold: it must never reach alice.
SECRET = "bob-secret-rationale-7f3a"

#: Routes that cannot hand an annotator a response, a suggestion or record metadata, and why.
NOT_PROBED = {
    ("GET", "/api/v1/version"): "server version",
    ("GET", "/api/v1/status"): "server and engine status",
    ("GET", "/api/v1/settings"): "server settings",
    ("POST", "/api/v1/token"): "issues the caller's own token",
    ("GET", "/api/v1/oauth2/providers"): "OAuth provider names",
    ("GET", "/api/v1/oauth2/providers/{provider}/authentication"): "OAuth redirect",
    ("GET", "/api/v1/oauth2/providers/{provider}/access-token"): "OAuth token for the caller",
    ("GET", "/api/v1/me"): "the caller's own user",
    ("GET", "/api/v1/me/workspaces"): "workspace names",
    ("GET", "/api/v1/me/datasets"): "dataset settings, no records",
    ("GET", "/api/v1/datasets/{dataset_id}"): "dataset settings, no records",
    ("GET", "/api/v1/datasets/{dataset_id}/fields"): "field settings",
    ("GET", "/api/v1/datasets/{dataset_id}/questions"): "question settings",
    ("GET", "/api/v1/datasets/{dataset_id}/vectors-settings"): "vector settings",
    ("GET", "/api/v1/me/datasets/{dataset_id}/metadata-properties"): "property settings (annotator-visible only)",
    ("GET", "/api/v1/workspaces/{workspace_id}"): "workspace name",
    ("POST", "/api/v1/workspaces"): "owner only",
    ("DELETE", "/api/v1/workspaces/{workspace_id}"): "owner only",
    ("POST", "/api/v1/workspaces/{workspace_id}/users"): "owner only",
    ("DELETE", "/api/v1/workspaces/{workspace_id}/users/{user_id}"): "owner or admin only",
    ("POST", "/api/v1/users"): "owner only",
    ("PATCH", "/api/v1/users/{user_id}"): "owner only",
    ("DELETE", "/api/v1/users/{user_id}"): "owner only",
    ("POST", "/api/v1/datasets"): "owner or admin only",
    ("PATCH", "/api/v1/datasets/{dataset_id}"): "owner or admin only",
    ("DELETE", "/api/v1/datasets/{dataset_id}"): "owner or admin only",
    ("PUT", "/api/v1/datasets/{dataset_id}/publish"): "owner or admin only",
    ("POST", "/api/v1/datasets/{dataset_id}/fields"): "owner or admin only",
    ("POST", "/api/v1/datasets/{dataset_id}/questions"): "owner or admin only",
    ("POST", "/api/v1/datasets/{dataset_id}/metadata-properties"): "owner or admin only",
    ("POST", "/api/v1/datasets/{dataset_id}/vectors-settings"): "owner or admin only",
    ("POST", "/api/v1/datasets/{dataset_id}/records/bulk"): "owner or admin only",
    ("PUT", "/api/v1/datasets/{dataset_id}/records/bulk"): "owner or admin only",
    ("DELETE", "/api/v1/datasets/{dataset_id}/records"): "owner or admin only",
    ("POST", "/api/v1/datasets/{dataset_id}/import"): "owner or admin only",
    ("POST", "/api/v1/datasets/{dataset_id}/export"): "owner or admin only",
    ("PATCH", "/api/v1/fields/{field_id}"): "owner or admin only",
    ("DELETE", "/api/v1/fields/{field_id}"): "owner or admin only",
    ("PATCH", "/api/v1/questions/{question_id}"): "owner or admin only",
    ("DELETE", "/api/v1/questions/{question_id}"): "owner or admin only",
    ("PATCH", "/api/v1/metadata-properties/{metadata_property_id}"): "owner or admin only",
    ("DELETE", "/api/v1/metadata-properties/{metadata_property_id}"): "owner or admin only",
    ("PATCH", "/api/v1/vectors-settings/{vector_settings_id}"): "owner or admin only",
    ("DELETE", "/api/v1/vectors-settings/{vector_settings_id}"): "owner or admin only",
    ("PUT", "/api/v1/records/{record_id}/suggestions"): "owner or admin only",
    ("DELETE", "/api/v1/records/{record_id}/suggestions"): "owner or admin only",
    ("DELETE", "/api/v1/suggestions/{suggestion_id}"): "owner or admin only",
    ("GET", "/api/v1/webhooks"): "owner only",
    ("POST", "/api/v1/webhooks"): "owner only",
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): "owner only",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): "owner only",
    ("POST", "/api/v1/webhooks/{webhook_id}/ping"): "owner only",
}


def _push(name: str, show_judge: bool = False) -> None:
    samples = [sample_from_dict({
        "id": f"s{i}", "category": "billing", "prompt": f"Customer message {i}", "judge_model": "judge-x",
        "judge": {"preference": "tie"},
        "candidates": [{"id": f"s{i}-a", "text": f"Calm reply {i}", "judge": {"tone_zone": 1, "liability_flags": []}},
                       {"id": f"s{i}-b", "text": f"Cold reply {i}", "judge": {"liability_flags": ["admits_fault"]}}],
    }) for i in range(3)]
    ArgillaBackend().push(samples, RUBRIC, PushOptions(target=name, annotators_per_item=2, show_judge=show_judge))


def _leaks(body: Any, alice: Annotator, bob_response_ids: set[str]) -> list[str]:
    """What in an answer to alice she must not see."""
    text = json.dumps(body)
    found = [word for word in (SECRET, JUDGE_KEY, JUDGE_SHOWN_KEY, ORDER_KEY, SAMPLE_ID_KEY) if word in text]
    found += [f"response {rid}" for rid in bob_response_ids if rid in text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "user_id" in node and "values" in node and str(node["user_id"]) != alice.id:
                found.append(f"a response of user {node['user_id']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body)
    return found


def _routes(api: ArgillaAPI) -> set[tuple[str, str]]:
    spec = api.http.get("/api/v1/openapi.json").raise_for_status().json()
    return {(method.upper(), "/api/v1" + path) for path, ops in spec["paths"].items() for method in ops}


def test_an_annotator_cannot_read_another_annotators_response_by_any_endpoint(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    name = unique_name("blind")
    _push(name)
    dataset = argilla_api.dataset(name)
    dataset_id = dataset["id"]
    owner_records = {r["external_id"]: r for r in argilla_api.records(dataset_id)}
    rid = {sid: r["id"] for sid, r in owner_records.items()}
    alice, bob = argilla_api.annotator("blind-alice"), argilla_api.annotator("blind-bob")
    bob_ids = {bob.submit(rid[sid], {"tone_zone_a": "-2", "tone_zone_b": "0", "preference": "b",
                                         "rationale": SECRET})["id"]
               for sid in ("s0", "s1")}
    bob_ids.add(bob.submit(rid["s2"], {"rationale": SECRET}, "draft")["id"])
    alice_response = alice.submit(rid["s0"], {"tone_zone_a": "1", "tone_zone_b": "0", "preference": "a"})
    # The owner sees everything: the judge's answers in the hidden metadata, no suggestions (hidden mode).
    assert owner_records["s0"]["metadata"][JUDGE_SHOWN_KEY] is False
    judge = owner_records["s0"]["metadata"][JUDGE_KEY]
    assert sorted(judge[f"liability_flags_{x}"]["value"] for x in "ab") == [[], ["admits_fault"]]
    assert {answer["agent"] for answer in judge.values()} == {"judge-x"}
    assert all(not r["suggestions"] for r in owner_records.values())

    http = alice.http
    properties = http.get(f"/api/v1/me/datasets/{dataset_id}/metadata-properties").raise_for_status().json()
    questions = argilla_api.http.get(f"/api/v1/datasets/{dataset_id}/questions").raise_for_status().json()
    tone_a = next(q for q in questions["items"] if q["name"] == "tone_zone_a")
    me_search = f"/api/v1/me/datasets/{dataset_id}/records/search"
    include: dict[str, Any] = {"include": ["responses", "suggestions", "vectors"], "limit": 100}
    pending = {"filters": {"and": [{"type": "terms", "scope": {"entity": "response", "property": "status"},
                                    "values": ["pending", "submitted", "draft", "discarded"]}]}}
    bob_value = {"filters": {"and": [{"type": "terms", "scope": {"entity": "response", "question": "tone_zone_a"},
                                      "values": ["-2"]}]}}
    by_response = {"sort": [{"scope": {"entity": "response", "question": "tone_zone_a"}, "order": "asc"}]}
    probes: dict[tuple[str, str], list[Any]] = {
        ("GET", "/api/v1/records/{record_id}"): [http.get(f"/api/v1/records/{rid[s]}") for s in rid],
        ("GET", "/api/v1/records/{record_id}/suggestions"): [http.get(f"/api/v1/records/{rid['s1']}/suggestions")],
        ("PATCH", "/api/v1/records/{record_id}"): [http.patch(f"/api/v1/records/{rid['s1']}", json={"metadata": {}})],
        ("DELETE", "/api/v1/records/{record_id}"): [http.delete(f"/api/v1/records/{rid['s1']}")],
        ("POST", "/api/v1/records/{record_id}/responses"): [
            http.post(f"/api/v1/records/{rid['s1']}/responses", json={"status": "draft", "values": {
                "tone_zone_a": {"value": "0"}}})],
        ("POST", "/api/v1/me/responses/bulk"): [http.post("/api/v1/me/responses/bulk", json={"items": [
            {"record_id": rid["s2"], "status": "draft", "values": {"tone_zone_a": {"value": "0"}}}]})],
        ("PUT", "/api/v1/responses/{response_id}"): [
            http.put(f"/api/v1/responses/{r}", json={"status": "draft", "values": {"rationale": {"value": "x"}}})
            for r in bob_ids],
        ("DELETE", "/api/v1/responses/{response_id}"): [http.delete(f"/api/v1/responses/{r}") for r in bob_ids],
        ("GET", "/api/v1/datasets/{dataset_id}/records"): [
            http.get(f"/api/v1/datasets/{dataset_id}/records", params={"include": ["responses", "suggestions"]})],
        ("POST", "/api/v1/datasets/{dataset_id}/records/search"): [
            http.post(f"/api/v1/datasets/{dataset_id}/records/search", params=include, json={})],
        ("POST", "/api/v1/me/datasets/{dataset_id}/records/search"): [
            http.post(me_search, params=include, json=body) for body in ({}, pending, bob_value, by_response)],
        ("GET", "/api/v1/datasets/{dataset_id}/records/search/suggestions/options"): [
            http.get(f"/api/v1/datasets/{dataset_id}/records/search/suggestions/options")],
        ("GET", "/api/v1/datasets/{dataset_id}/progress"): [http.get(f"/api/v1/datasets/{dataset_id}/progress")],
        ("GET", "/api/v1/datasets/{dataset_id}/users/progress"): [
            http.get(f"/api/v1/datasets/{dataset_id}/users/progress")],
        ("GET", "/api/v1/me/datasets/{dataset_id}/metrics"): [http.get(f"/api/v1/me/datasets/{dataset_id}/metrics")],
        ("GET", "/api/v1/metadata-properties/{metadata_property_id}/metrics"): [
            http.get(f"/api/v1/metadata-properties/{p['id']}/metrics") for p in properties["items"]],
        ("GET", "/api/v1/jobs/{job_id}"): [http.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000")],
        ("GET", "/api/v1/users"): [http.get("/api/v1/users")],
        ("GET", "/api/v1/users/{user_id}"): [http.get(f"/api/v1/users/{bob.id}")],
        ("GET", "/api/v1/users/{user_id}/workspaces"): [http.get(f"/api/v1/users/{bob.id}/workspaces")],
        ("GET", "/api/v1/workspaces/{workspace_id}/users"): [
            http.get(f"/api/v1/workspaces/{dataset['workspace_id']}/users")],
    }
    assert _routes(argilla_api) == set(probes) | set(NOT_PROBED)

    problems = []
    for route, answers in probes.items():
        for answer in answers:
            body = answer.json() if answer.content else None
            leaks = _leaks(body, alice, bob_ids)
            if leaks or answer.status_code >= 500:
                problems.append(f"{route}: HTTP {answer.status_code}: {leaks}")
    assert problems == []

    # What alice may do still works, and only with her own data.
    record = http.get(f"/api/v1/records/{rid['s0']}").raise_for_status().json()
    assert [r["id"] for r in record["responses"]] == [alice_response["id"]]
    assert record["metadata"] == {"category": "billing"}
    assert [r["values"]["tone_zone_a"]["value"] for r in record["responses"]] == ["1"]
    found = http.post(me_search, params=include, json=bob_value).raise_for_status().json()
    assert found["total"] == 0  # bob's "-2" answers are not alice's
    assert probes[("PUT", "/api/v1/responses/{response_id}")][0].status_code == 403
    assert probes[("GET", "/api/v1/records/{record_id}/suggestions")][0].json()["items"] == []
    # bob's answers are untouched, and the owner still reads them all.
    after = {r["external_id"]: r for r in argilla_api.records(dataset_id)}
    assert sorted(r["id"] for s in ("s0", "s1", "s2") for r in after[s]["responses"] if r["user_id"] == bob.id) == \
        sorted(bob_ids)
    assert tone_a["id"]


def test_an_annotator_cannot_filter_or_sort_by_metadata_hidden_from_annotators(
    argilla_env: ServerInfo, argilla_api: ArgillaAPI
) -> None:
    name = unique_name("hidden-meta")
    _push(name)
    dataset_id = argilla_api.dataset(name)["id"]
    argilla_api.http.post(f"/api/v1/datasets/{dataset_id}/metadata-properties", json={
        "name": "secret_score", "title": "secret", "settings": {"type": "integer"},
        "visible_for_annotators": False}).raise_for_status()
    carol = argilla_api.annotator("blind-carol")
    path = f"/api/v1/me/datasets/{dataset_id}/records/search"
    scope = {"entity": "metadata", "metadata_property": "secret_score"}
    for body in ({"filters": {"and": [{"type": "range", "scope": scope, "ge": 0}]}},
                 {"sort": [{"scope": scope, "order": "asc"}]}):
        answer = carol.http.post(path, json=body)
        assert answer.status_code == 403, answer.text
        assert "secret_score" in answer.text and "not visible to annotators" in answer.text
        assert argilla_api.http.post(path, json=body).status_code == 200  # the owner may
    visible = {"filters": {"and": [{"type": "terms", "scope": {"entity": "metadata", "metadata_property": "category"},
                                    "values": ["billing"]}]}}
    assert carol.http.post(path, json=visible).raise_for_status().json()["total"] == 3


def test_show_judge_sends_suggestions_and_records_the_mode(argilla_env: ServerInfo, argilla_api: ArgillaAPI) -> None:
    name = unique_name("shown")
    _push(name, show_judge=True)
    dataset_id = argilla_api.dataset(name)["id"]
    records = {r["external_id"]: r for r in argilla_api.records(dataset_id)}
    assert records["s0"]["metadata"][JUDGE_SHOWN_KEY] is True
    # Suggestions for every answer but the empty flags (Argilla cannot store []); metadata keeps all.
    assert len(records["s0"]["suggestions"]) == 3
    assert len(records["s0"]["metadata"][JUDGE_KEY]) == 4
    dave = argilla_api.annotator("blind-dave")
    seen = dave.http.post(f"/api/v1/me/datasets/{dataset_id}/records/search",
                          params={"include": ["suggestions"]}, json={}).raise_for_status().json()
    assert all(len(item["record"]["suggestions"]) == 3 for item in seen["items"])
    assert all(item["record"]["metadata"] == {"category": "billing"} for item in seen["items"])
