"""Two annotators in the real Argilla UI: signed in through the form, answering with clicks and keys.

The owner pushes a 4-candidate and a 3-candidate sample (one dataset per candidate count: the
3-candidate one goes to ``<name> (3)``) and creates two annotator users, as a team lead does.
Each annotator signs in through ``/sign-in`` and answers in the annotation page; the page has no
"D" questions for the 3-candidate sample and keeps Submit disabled while C is unrated. The pull
returns exactly what they chose and typed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PullOptions, PushOptions
from brun_label.layout import count_target
from brun_label.rubrics import load_rubric
from tests.fixtures.argilla import ArgillaAPI, unique_name
from tests.ui.conftest import (
    Pages,
    argilla_option,
    argilla_sign_in,
    keep,
    pulled_rows,
    script_rows,
    ui_sample,
)

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")
#: The password the fixture gives annotator users.
ANNOTATOR_PASSWORD = "annotator-pw-123"


def open_dataset(page: Any, url: str, dataset_id: str, first_question: str) -> None:
    page.goto(f"{url}/dataset/{dataset_id}/annotation-mode")
    page.get_by_text(first_question).first.wait_for()


def press_in(page: Any, slot: str, key: str) -> None:
    """Answer with the keyboard: focus the question (as Tab does) and press the option's number."""
    page.locator(f'input[id^="{slot}_"]').first.focus()
    page.keyboard.press(key)


def submitted(api: ArgillaAPI, dataset_id: str, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        responses = [resp for r in api.records(dataset_id) for resp in r["responses"] if resp["status"] == "submitted"]
        if len(responses) >= n or time.monotonic() > deadline:
            return responses
        time.sleep(0.25)


def test_two_annotators_sign_in_answer_with_clicks_and_keys_and_pull_returns_exactly_that(
    argilla_env, argilla_api: ArgillaAPI, pages: Pages, tmp_path: Path
) -> None:
    url = argilla_env.url
    name = unique_name("ui-two")
    four, three = ui_sample("ui-four", 4), ui_sample("ui-three", 3)
    pushed = ArgillaBackend().push([four, three], RUBRIC, PushOptions(target=name, annotators_per_item=2))
    assert pushed.n_added == 2
    d4, d3 = argilla_api.dataset(name)["id"], argilla_api.dataset(count_target(name, 3))["id"]
    for username in ("ann-ui", "ben-ui"):
        argilla_api.annotator(username)

    ann = pages.new()
    argilla_sign_in(ann, url, "ann-ui", ANNOTATOR_PASSWORD)
    open_dataset(ann, url, d3, "C: Tone zone")
    body = ann.inner_text("body")
    assert "Candidate C" in body and "Candidate D" not in body and "D: Tone zone" not in body
    assert "D is best" not in body
    submit = ann.locator("button.button--submit")
    argilla_option(ann, "tone_zone_a", "0 In zone").click()
    press_in(ann, "tone_zone_b", "2")  # -1 Soft
    argilla_option(ann, "liability_flags_a", "Admits fault").click()
    argilla_option(ann, "preference", "B is best").click()
    assert submit.is_disabled()  # C unrated: Argilla will not submit
    press_in(ann, "tone_zone_c", "5")  # +2 Defensive
    assert submit.is_enabled()
    keep(ann, tmp_path, "argilla-3-candidates.png")
    submit.click()
    assert len(submitted(argilla_api, d3, 1)) == 1

    ben = pages.new()
    argilla_sign_in(ben, url, "ben-ui", ANNOTATOR_PASSWORD)
    open_dataset(ben, url, d4, "D: Tone zone")
    for slot, key in (("tone_zone_a", "1"), ("tone_zone_b", "3"), ("tone_zone_c", "3"), ("tone_zone_d", "4")):
        press_in(ben, slot, key)
    argilla_option(ben, "liability_flags_d", "Admits fault").click()
    argilla_option(ben, "liability_flags_d", "Promises compensation").click()
    argilla_option(ben, "preference", "D is best").click()
    keep(ben, tmp_path, "argilla-4-candidates.png")
    ben.locator("button.button--submit").click()
    assert len(submitted(argilla_api, d4, 1)) == 1
    open_dataset(ben, url, d3, "C: Tone zone")
    for slot in ("tone_zone_a", "tone_zone_b", "tone_zone_c"):
        press_in(ben, slot, "2")
    argilla_option(ben, "preference", "Tie between the best").click()
    ben.locator('[contenteditable="true"]').first.click()  # Argilla's text question
    ben.keyboard.type("All three hedge; B and C equally.")
    ben.locator("button.button--submit").click()
    assert len(submitted(argilla_api, d3, 2)) == 2

    expected = script_rows("ann-ui", "ben-ui", four, three, "All three hedge; B and C equally.")
    pulled = ArgillaBackend().pull(RUBRIC, PullOptions(target=name, include_judge=False))
    assert pulled.invalid == []
    got = pulled_rows(pulled.table)
    assert got == expected, json.dumps(sorted(map(str, got ^ expected)), indent=1)
