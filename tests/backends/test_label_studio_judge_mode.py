"""Against a real Label Studio: the judge's predictions do not pre-label tasks unless push
--show-judge, and the project records which mode it is in.

What an annotator sees is read from the endpoints the UI uses: the label stream
(``/api/projects/{id}/next/``, where the editor opens a task pre-labelled with the predictions the
project allows), and the Data Manager's tab (``/api/dm/views``). The community edition has no
roles, so the admin's view here is every member's.
"""

from __future__ import annotations

from typing import Any

import pytest

from brun_label.backends.base import PullOptions, PushOptions
from brun_label.backends.label_studio import PREDICTION_COLUMNS, LabelStudioBackend
from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo
from tests.fixtures.label_studio import LabelStudioAdmin

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")


def _samples() -> list[Any]:
    return [sample_from_dict({
        "id": f"s{i}", "prompt": f"Customer message {i}", "judge_model": "judge-x", "judge": {"preference": "tie"},
        "candidates": [{"id": f"s{i}-a", "text": "Calm", "judge": {"tone_zone": 1, "liability_flags": []}},
                       {"id": f"s{i}-b", "text": "Cold"}],
    }) for i in range(2)]


def _next_predictions(admin: LabelStudioAdmin, project_id: int) -> list[dict[str, Any]]:
    task = admin.http.get(f"/api/projects/{project_id}/next/").raise_for_status().json()
    return list(task.get("predictions") or [])


def test_hidden_by_default_and_shown_only_when_asked(
    label_studio_env: ServerInfo, label_studio_admin: LabelStudioAdmin, ls_project_title: str
) -> None:
    backend = LabelStudioBackend()
    backend.push(_samples(), RUBRIC, PushOptions(target=ls_project_title))
    project = label_studio_admin.project(ls_project_title)
    assert project["show_collab_predictions"] is False
    assert _next_predictions(label_studio_admin, project["id"]) == []  # the label stream is not pre-labelled
    views = label_studio_admin.http.get("/api/dm/views", params={"project": project["id"]}).raise_for_status().json()
    assert len(views) == 1
    hidden = views[0]["data"]["hiddenColumns"]
    assert set(hidden["explore"]) & set(hidden["labeling"]) >= {f"tasks:{c}" for c in PREDICTION_COLUMNS}
    # Still stored: pull returns the judge's answers.
    table = backend.pull(RUBRIC, PullOptions(target=ls_project_title)).table
    assert set(table.loc[table["annotator"] == "judge:judge-x", "question"]) >= {"tone_zone", "preference"}

    result = backend.push(_samples(), RUBRIC, PushOptions(target=ls_project_title, show_judge=True))
    assert any("now pre-labelled" in note for note in result.notes)
    project = label_studio_admin.project(ls_project_title)
    assert project["show_collab_predictions"] is True and project["model_version"] == "judge-x"
    predictions = _next_predictions(label_studio_admin, project["id"])
    assert [p["model_version"] for p in predictions] == ["judge-x"]
    assert {r["from_name"] for r in predictions[0]["result"]} >= {"preference"}

    result = backend.push(_samples(), RUBRIC, PushOptions(target=ls_project_title))
    assert any("no longer pre-labelled" in note for note in result.notes)
    assert label_studio_admin.project(ls_project_title)["show_collab_predictions"] is False
    assert _next_predictions(label_studio_admin, project["id"]) == []


def test_a_project_created_with_show_judge_is_pre_labelled(
    label_studio_env: ServerInfo, label_studio_admin: LabelStudioAdmin, ls_project_title: str
) -> None:
    LabelStudioBackend().push(_samples(), RUBRIC, PushOptions(target=ls_project_title, show_judge=True))
    project = label_studio_admin.project(ls_project_title)
    assert project["show_collab_predictions"] is True and project["model_version"] == "judge-x"
    assert len(_next_predictions(label_studio_admin, project["id"])) == 1
    views = label_studio_admin.http.get("/api/dm/views", params={"project": project["id"]}).json()
    hidden = {c for view in views for c in view["data"].get("hiddenColumns", {}).get("explore", [])}
    assert not hidden & {f"tasks:{c}" for c in PREDICTION_COLUMNS}
