"""Anchoring, in the real UIs: by default an annotator sees no judge answer and nothing is
pre-selected (Argilla) or pre-labelled (Label Studio's label stream); only a push with
``--show-judge`` puts the judge's answers in front of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PushOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import ArgillaAPI, unique_name
from tests.fixtures.label_studio import LabelStudioAdmin
from tests.ui.conftest import Pages, argilla_sign_in, ls_label_stream, ls_login

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")
ANNOTATOR_PASSWORD = "annotator-pw-123"  # what the argilla_api fixture gives annotator users


def _judged() -> list[Any]:
    return [sample_from_dict({
        "id": "judged-0", "prompt": "I want a refund", "judge_model": "judge-visible-x", "judge": {"preference": "tie"},
        "candidates": [{"id": "judged-0-a", "text": "Calm", "judge": {"tone_zone": 0}},
                       {"id": "judged-0-b", "text": "Cold", "judge": {"tone_zone": 2}}],
    })]


def _open(page: Any, url: str, dataset_id: str) -> None:
    page.goto(f"{url}/dataset/{dataset_id}/annotation-mode")
    page.locator('label[for^="tone_zone_a_"]').first.wait_for()


def test_the_judge_is_hidden_unless_pushed_with_show_judge(argilla_env: Any, argilla_api: ArgillaAPI,
                                                          pages: Pages) -> None:
    hidden, shown = unique_name("ui-judge-hidden"), unique_name("ui-judge-shown")
    ArgillaBackend().push(_judged(), RUBRIC, PushOptions(target=hidden))
    ArgillaBackend().push(_judged(), RUBRIC, PushOptions(target=shown, show_judge=True))
    argilla_api.annotator("judge-ui-hana")
    page = pages.new()
    argilla_sign_in(page, argilla_env.url, "judge-ui-hana", ANNOTATOR_PASSWORD)

    _open(page, argilla_env.url, argilla_api.dataset(hidden)["id"])
    assert "judge-visible-x" not in page.inner_text("body")
    assert page.locator("label.label-active").count() == 0  # nothing pre-selected

    _open(page, argilla_env.url, argilla_api.dataset(shown)["id"])
    page.locator("label.label-active").first.wait_for()  # the judge's answers, pre-selected
    assert page.locator("label.label-active").count() >= 2
    assert "judge-visible-x" in page.inner_text("body")


def test_label_studio_pre_labels_only_with_show_judge(label_studio_env: ServerInfo, label_studio_server: ServerInfo,
                                                     label_studio_admin: LabelStudioAdmin, ls_project_title: str,
                                                     pages: Pages) -> None:
    hidden, shown = ls_project_title[:40] + " h", ls_project_title[:40] + " s"
    LabelStudioBackend().push(_judged(), RUBRIC, PushOptions(target=hidden))
    LabelStudioBackend().push(_judged(), RUBRIC, PushOptions(target=shown, show_judge=True))
    page = pages.new()
    ls_login(page, label_studio_server.url, label_studio_server.username, label_studio_server.password)
    # The community edition has no roles: what the lead's label stream shows, every member's shows.
    ls_label_stream(page, label_studio_server.url, label_studio_admin.project(hidden)["id"])
    assert page.locator("input:checked").count() == 0  # a blank task
    ls_label_stream(page, label_studio_server.url, label_studio_admin.project(shown)["id"])
    page.locator("input:checked").first.wait_for()  # pre-labelled with the judge's answers
    assert page.locator("input:checked").count() >= 2
