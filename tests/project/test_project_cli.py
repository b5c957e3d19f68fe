"""The project's own commands across both real servers: init, push, pull, status-free round trip.

Annotators work partly in Label Studio and partly in Argilla, one person on both. With nothing but
`brun-label init`, `push`, `pull`, `agreement` and `export dpo` run in the project folder (no hand
merging), there is one table, one agreement report and one export, and that person counts once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.argilla_annotators import ensure_annotator as argilla_annotator
from brun_label.backends.argilla_annotators import submit_answers as argilla_submit
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.backends.label_studio_annotators import submit_answers as ls_submit
from brun_label.cli import cli
from brun_label.importers.annotations import read_annotations
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import unique_name

pytestmark = pytest.mark.server
RUBRIC = load_rubric("de-escalation")


def _rows(item: str, a: int, b: int, at: str) -> list[dict[str, Any]]:
    return [{"item_id": item, "candidate_id": f"{item}-a", "question": "tone_zone", "value": a, "submitted_at": at},
            {"item_id": item, "candidate_id": f"{item}-a", "question": "liability_flags", "value": [], "submitted_at": at},
            {"item_id": item, "candidate_id": f"{item}-b", "question": "tone_zone", "value": b, "submitted_at": at},
            {"item_id": item, "candidate_id": f"{item}-b", "question": "liability_flags", "value": ["admits_fault"],
             "submitted_at": at},
            {"item_id": item, "candidate_id": "", "question": "preference", "value": f"{item}-a", "submitted_at": at}]


def _run(args: list[str]) -> Any:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    return result


def test_a_project_across_both_platforms_with_its_own_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                label_studio_server: ServerInfo,
                                                                argilla_server: ServerInfo, argilla_api: Any):
    for info in (label_studio_server, argilla_server):
        for key, value in info.env.items():
            monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({
        "id": f"p{i}", "category": "billing", "prompt": f"Scenario {i}: refund me now!",
        "candidates": [{"id": f"p{i}-a", "text": f"I understand ({i}); here is the next step."},
                       {"id": f"p{i}-b", "text": f"Sorry ({i}), our fault, full refund!"}]}) + "\n" for i in range(4)))
    ws, title, dataset = unique_name("ws"), unique_name("Proj")[:40], unique_name("proj")
    argilla_api.workspace_id(ws)
    _run(["init", "--samples", str(samples), "--rubric", "de-escalation", "--label-studio-project", title,
          "--argilla-dataset", dataset, "--argilla-workspace", ws, "--overlap", "3",
          "--person", "Ana:label-studio=ana@corp.test,argilla=ana", "--person", "Bo:label-studio=bo@corp.test",
          "--person", "Cy:argilla=cy"])
    pushed = json.loads(_run(["push", "--json"]).stdout)
    assert {p: r["n_added"] for p, r in pushed["platforms"].items()} == {"label-studio": 4, "argilla": 4}

    ls = LabelStudioBackend(url=label_studio_server.url, api_key=label_studio_server.api_key)
    ar = ArgillaBackend(url=argilla_server.url, api_key=argilla_server.api_key)
    # Ana labels everything in Label Studio, then p0 again in Argilla (later): she counts once
    ls_submit(ls, RUBRIC, title, "ana@corp.test", [r for i in range(4) for r in _rows(f"p{i}", 0, -2, "2026-02-01T09:00:00Z")])
    ls_submit(ls, RUBRIC, title, "bo@corp.test", [r for i in range(4) for r in _rows(f"p{i}", 0, -2, "2026-02-01T10:00:00Z")])
    argilla_submit(ar, RUBRIC, dataset, "cy", argilla_annotator(ar, "cy", "annotator-pw-123", ws),
                   [r for i in range(4) for r in _rows(f"p{i}", 0, -2, "2026-02-01T11:00:00Z")], workspace=ws)
    argilla_submit(ar, RUBRIC, dataset, "ana", argilla_annotator(ar, "ana", "annotator-pw-123", ws),
                   _rows("p0", 0, -2, "2026-02-02T09:00:00Z"), workspace=ws)

    pulled = json.loads(_run(["pull", "--json", "--full"]).stdout)
    assert pulled["people"] == ["Ana", "Bo", "Cy"] and pulled["cross_platform_duplicates"] == 5
    table = read_annotations(tmp_path / ".brun-label" / "project" / "annotations.parquet")
    humans = table[~table["annotator"].str.startswith("judge:")]
    voters = humans[humans["question"] == "tone_zone"].groupby(["item_id", "candidate_id"])["annotator"].nunique()
    assert (voters == 3).all()  # Ana on two platforms is one voter everywhere
    assert set(humans[(humans["item_id"] == "p0") & (humans["annotator"] == "Ana")]["platform"]) == {"argilla"}

    summary = json.loads(_run(["agreement", "--json"]).stdout)
    assert sorted(summary["annotators"]) == ["Ana", "Bo", "Cy"]
    export = json.loads(_run(["export", "dpo", "-o", "pairs.jsonl", "--json", "--min-alpha", "-1",
                              "--pseudonymize"]).stdout)
    assert export["pairs"] == 4
    provenance = [json.loads(line) for line in (tmp_path / "pairs.jsonl.provenance.jsonl").read_text().splitlines()]
    assert {p["n_annotators"] for p in provenance} == {3}
    card = (tmp_path / "README.md").read_text()
    assert "pseudonyms" in card and "ana@corp.test" not in card
