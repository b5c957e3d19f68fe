"""``brun-label status``: the pure status of a table, and the command on a live project whose counts
must equal the ones Label Studio and Argilla report themselves."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from brun_label.backends import label_studio_changes
from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PushOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.cli import cli
from brun_label.layout import candidate_order
from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.status import project_status, status_tables
from brun_label.table import make_table
from tests.fixtures.argilla import unique_name
from tests.fixtures.label_studio import choices

RUBRIC = load_rubric("de-escalation")


def _rows(item: str, who: str, *, tone: int, flags: list[str], pref: str, status: str = "submitted",
          when: str = "2026-03-01T11:30:00Z", platform: str = "argilla") -> list[dict[str, Any]]:
    base = {"item_id": item, "annotator": who, "status": status, "platform": platform, "submitted_at": when}
    return [{**base, "candidate_id": f"{item}-a", "question": "tone_zone", "value": tone},
            {**base, "candidate_id": f"{item}-a", "question": "liability_flags", "value": flags},
            {**base, "candidate_id": f"{item}-b", "question": "tone_zone", "value": -2},
            {**base, "candidate_id": f"{item}-b", "question": "liability_flags", "value": ["admits_fault"]},
            {**base, "candidate_id": "", "question": "preference", "value": pref}]


def test_status_counts_people_throughput_eta_and_the_exports_consensus() -> None:
    rows = []
    for who in ("ana", "ben", "cy"):  # s1: a unanimous, clear pair
        rows += _rows("s1", who, tone=0, flags=[], pref="s1-a")
    rows += _rows("s2", "ana", tone=0, flags=[], pref="s2-a", when="2026-03-01T01:00:00Z")  # s2: one vote, a day ago
    rows += _rows("s3", "ben", tone=1, flags=[], pref="tie", status="draft")  # s3: a draft only
    rows.append({"item_id": "s3", "candidate_id": "", "question": "preference", "annotator": "cy", "value": None,
                 "status": "skipped", "platform": "argilla", "submitted_at": "2026-03-01T11:40:00Z"})
    rows += [{**r, "annotator": "judge:m"} for r in _rows("s2", "x", tone=0, flags=[], pref="s2-a")]
    s = project_status(make_table(rows), RUBRIC, now="2026-03-01T12:00:00Z", overlap=3)
    assert s["people"]["ana"] == {"submitted": 2, "drafts": 0, "skipped": 0, "assigned": 3, "last_hour": 1,
                                  "last_day": 2, "platforms": ["argilla"]}
    assert s["people"]["ben"]["drafts"] == 1 and s["people"]["cy"]["skipped"] == 1
    assert "judge:m" not in s["people"]  # the judge is not a person
    assert s["throughput"] == {"last_hour": 3, "last_day": 4}
    # s2 needs 2 more, s3 needs 3: 5 missing, at 3 per hour
    assert s["overlap"]["remaining_responses"] == 5 and s["overlap"]["eta_hours"] == pytest.approx(5 / 3, abs=0.01)
    assert s["consensus"]["exportable"] == ["s1"] and s["consensus"]["short_of_votes_items"] == 2
    assert s["agreement"]["tone_zone"]["n_annotators"] == 3
    assert [t for t, _, _ in status_tables(s)] == ["People", "Platforms", "Progress", "Agreement so far", "Consensus"]
    # a person below the gold gate counts in the consensus no more than in route and export
    without_cy = project_status(make_table(rows), RUBRIC, now="2026-03-01T12:00:00Z", overlap=3, excluded=["cy"])
    assert without_cy["consensus"]["exportable"] == [] and "cy" in without_cy["people"]


def test_status_of_an_empty_project_has_no_eta_and_nothing_exportable() -> None:
    s = project_status(make_table([]), RUBRIC, now="2026-03-01T12:00:00Z")
    assert s["items"] == 0 and s["overlap"]["eta_hours"] is None and s["consensus"]["exportable_items"] == 0


def test_names_and_ids_are_shown_as_text_never_markup() -> None:
    from rich.console import Console

    from brun_label.cli.status import render

    rows = _rows("[bold]s1[/bold]", "[red]eve[/red]", tone=0, flags=[], pref="[bold]s1[/bold]-a")
    s = project_status(make_table(rows), RUBRIC, now="2026-03-01T12:00:00Z")
    console = Console(record=True, width=200)
    console.print(render(s))
    assert "[red]eve[/red]" in console.export_text()


@pytest.mark.server
def test_status_json_on_a_live_project_reports_the_platforms_own_counts(
        label_studio_server, label_studio_admin, ls_project_title, argilla_server, argilla_api,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**label_studio_server.env, **argilla_server.env}.items():
        monkeypatch.setenv(key, value)
    samples = [sample_from_dict({"id": f"st-{i}", "prompt": f"Customer {i} is angry.",
                                 "candidates": [{"id": f"st-{i}-a", "text": f"We hear you {i}."},
                                                {"id": f"st-{i}-b", "text": f"Not us {i}."}]}) for i in range(6)]
    dataset = unique_name("status")
    LabelStudioBackend().push(samples, RUBRIC, PushOptions(target=ls_project_title))
    ArgillaBackend().push(samples, RUBRIC, PushOptions(target=dataset))
    # Label Studio: ana submits 3, ben skips 1; Argilla: cy submits 2, a draft, a discard
    tasks = {t["data"]["brun_sample_id"]: t["id"] for t in label_studio_admin.tasks(ls_project_title)}
    for s in samples[:3]:
        order = candidate_order(s)
        label_studio_admin.annotate(tasks[s.id], [choices("tone_zone_a", "candidate_a", "0"),
                                                  choices("tone_zone_b", "candidate_b", "-2"),
                                                  choices("preference", "prompt", "ab"[order.index(s.candidates[0].id)])],
                                    "ana@example.org")
    label_studio_admin.annotate(tasks["st-3"], [], "ben@example.org", skipped=True)
    records = {r["external_id"]: r["id"] for r in argilla_api.records(argilla_api.dataset(dataset)["id"])}
    cy = argilla_api.annotator("status-cy")
    for s in samples[:2]:
        cy.submit(records[s.id], {"tone_zone_a": "0", "tone_zone_b": "-2", "preference": "a"})
    cy.submit(records["st-2"], {"preference": "tie"}, status="draft")
    cy.submit(records["st-3"], None, status="discarded")
    project = tmp_path / "brun-label.yaml"
    project.write_text(f"samples: missing.jsonl\nrubric: de-escalation\noverlap: 2\nplatforms:\n"
                       f"  label-studio: {{project: {json.dumps(ls_project_title)}}}\n"
                       f"  argilla: {{dataset: {dataset}}}\n"
                       "people:\n  - {name: Ana, label-studio: ana@example.org}\n", encoding="utf-8")

    def status_json(*extra: str) -> dict[str, Any]:
        res = CliRunner().invoke(cli, ["status", "--json", "--project-file", str(project), *extra])
        assert res.exit_code == 0, res.output
        return dict(json.loads(res.stdout))

    monkeypatch.setattr(label_studio_changes, "MARGIN", 0.0)  # re-read only what changed after the last pull
    time.sleep(1.1)
    first = status_json()
    time.sleep(1.1)
    again = status_json()
    assert first["pull"]["modes"] == {"label-studio": "full", "argilla": "full"}
    assert again["pull"]["modes"] == {"label-studio": "incremental", "argilla": "incremental"}
    ls_own = label_studio_admin.project(ls_project_title)
    ag_own = argilla_api.progress(argilla_api.dataset(dataset)["id"])
    for snap in (first, again):
        ls, ag = snap["platforms"]["label-studio"], snap["platforms"]["argilla"]
        assert ls["checks"]["tasks"] == {"server": ls_own["task_number"], "table": 6, "matches": True}
        assert ls["checks"]["annotations"] == {"server": ls_own["total_annotations_number"], "table": 3, "matches": True}
        assert ls["checks"]["skipped"]["matches"] and ls["skipped"] == 1
        assert ag["checks"]["records"] == {"server": ag_own["total"], "table": 6, "matches": True}
        assert all(c["matches"] for c in ag["checks"].values()), ag["checks"]
        assert (ag["submitted"], ag["drafts"], ag["skipped"]) == (2, 1, 1)
        assert snap["people"]["Ana"]["submitted"] == 3 and snap["people"]["argilla:status-cy"]["drafts"] == 1
        assert snap["overlap"]["target"] == 2
    assert again["pull"]["items_read"]["label-studio"] == 0

    # --watch: refreshes from incremental pulls until Ctrl-C (here: the first wait is interrupted)
    import brun_label.cli.status as status_cli

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(status_cli, "_wait", interrupted)
    res = CliRunner().invoke(cli, ["status", "--watch", "--json", "--project-file", str(project)])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["pull"]["modes"]["argilla"] == "incremental"
    res = CliRunner().invoke(cli, ["status", "--watch", "--project-file", str(project)])
    assert res.exit_code == 0, res.output
    assert "Agreement so far" in res.stdout and "argilla:status-cy" in res.stdout
