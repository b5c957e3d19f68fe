"""Two annotators in the real Label Studio UI: invited, signed in, labelling with clicks and hotkeys.

The team lead pushes a file with a 4-candidate and a 3-candidate sample. The 3-candidate sample
lands in the sibling project ``<title> (3)`` (one project per candidate count), whose page shows no
"Candidate D" and refuses a submission that leaves C unrated. Both annotators join through the
organization's invite link, sign in through the login form and work through the label stream;
the pull returns exactly what they clicked and typed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from brun_label.backends.base import PullOptions, PushOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.layout import count_target
from brun_label.rubrics import load_rubric
from tests.fixtures.label_studio import LabelStudioAdmin
from tests.ui.conftest import (
    PASSWORD,
    Pages,
    keep,
    ls_column,
    ls_invite_link,
    ls_label_stream,
    ls_login,
    ls_sign_up,
    pulled_rows,
    script_rows,
    ui_sample,
)

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")


def wait_for_annotations(admin: LabelStudioAdmin, task_id: int, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        found = admin._json("GET", f"/api/tasks/{task_id}/annotations/")
        if len(found) >= n or time.monotonic() > deadline:
            return list(found)
        time.sleep(0.25)


def test_two_invited_annotators_label_with_clicks_and_hotkeys_and_pull_returns_exactly_that(
    label_studio_server, label_studio_admin, ls_project_title, pages: Pages, tmp_path: Path
) -> None:
    url = label_studio_server.url
    title = ls_project_title
    four, three = ui_sample("ui-four", 4), ui_sample("ui-three", 3)
    backend = LabelStudioBackend(url=url, api_key=label_studio_server.api_key)
    pushed = backend.push([four, three], RUBRIC, PushOptions(target=title, annotators_per_item=2))
    assert pushed.n_added == 2
    assert any("no roles" in n for n in pushed.notes), pushed.notes  # the lead is told plainly
    p4, p3 = label_studio_admin.project(title), label_studio_admin.project(count_target(title, 3))
    task4 = label_studio_admin.task_of(title, four.id)
    task3 = label_studio_admin.task_of(count_target(title, 3), three.id)

    # The team lead signs in and copies the invite link; two annotators sign up with it.
    lead = pages.new()
    ls_login(lead, url, label_studio_server.username, label_studio_server.password)
    link = ls_invite_link(lead, url)
    for email in ("ann.ui@example.org", "ben.ui@example.org"):
        ls_sign_up(pages.new(), link, email)

    # Ann signs in and opens the 3-candidate project's label stream.
    ann = pages.new()
    ls_login(ann, url, "ann.ui@example.org", PASSWORD)
    # No blinding in the community edition, but the Data Manager opens on a tab that does not
    # show who annotated what, nor the judge's predictions (any member may show them again).
    ann.goto(f"{url}/projects/{p3['id']}/data")
    ann.get_by_text("candidate_a", exact=True).wait_for()
    assert ann.get_by_text("Annotated by", exact=True).count() == 0
    ls_label_stream(ann, url, p3["id"])
    body = ann.inner_text("body")
    assert "Candidate C" in body and "Candidate D" not in body and "D is best" not in body
    assert "Hotkeys:" in body and "Tone zone of C: a-g" in body  # listed where she works
    ann.keyboard.press("3")  # A: 0 In zone
    ls_column(ann, "B").locator("label", has_text="-1 Soft").click()
    ann.keyboard.press("Shift+1")  # A: admits fault
    ann.keyboard.press("Alt+b")  # preference: B
    ann.get_by_test_id("bottombar-submit-button").click()
    ann.get_by_text('"tone_zone_c" is required').wait_for()  # C unrated: refused
    ann.get_by_role("button", name="OK").click()
    assert wait_for_annotations(label_studio_admin, task3["id"], 0) == []
    ann.keyboard.press("g")  # C: +2 Defensive
    keep(ann, tmp_path, "label-studio-3-candidates.png")
    ann.get_by_test_id("bottombar-submit-button").click()
    assert len(wait_for_annotations(label_studio_admin, task3["id"], 1)) == 1

    # Ben does the 4-candidate task with hotkeys only, then the 3-candidate one.
    ben = pages.new()
    ls_login(ben, url, "ben.ui@example.org", PASSWORD)
    ls_label_stream(ben, url, p4["id"])
    assert "Candidate D" in ben.inner_text("body")
    for key in ("1", "e", "d", "v", "Shift+z", "Shift+x", "Alt+d"):
        ben.keyboard.press(key)
    keep(ben, tmp_path, "label-studio-4-candidates.png")
    ben.keyboard.press("Control+Enter")
    assert len(wait_for_annotations(label_studio_admin, task4["id"], 1)) == 1
    ls_label_stream(ben, url, p3["id"])
    for key in ("2", "w", "s", "Alt+t"):
        ben.keyboard.press(key)
    ben.locator("textarea").fill("All three hedge; B and C equally.")
    ben.locator("textarea").press("Enter")  # a new line, stored as typed
    ben.get_by_test_id("bottombar-submit-button").click()
    assert len(wait_for_annotations(label_studio_admin, task3["id"], 2)) == 2

    expected = script_rows("ann.ui@example.org", "ben.ui@example.org", four, three, "All three hedge; B and C equally.\n")
    pulled = backend.pull(RUBRIC, PullOptions(target=title, include_judge=False))
    assert pulled.invalid == []
    got = pulled_rows(pulled.table)
    assert got == expected, json.dumps(sorted(map(str, got ^ expected)), indent=1)


def test_a_two_candidate_task_fits_a_laptop_screen(label_studio_server, ls_project_title, pages: Pages,
                                                   tmp_path: Path) -> None:
    """With the project defaults, both replies and the preference are in a 1366x768 window at once."""
    from dataclasses import replace

    from brun_label.data import sample_path
    from brun_label.importers.samples import read_samples

    bundled = read_samples(sample_path("de-escalation"))[0]  # a real-length message and replies
    two = replace(bundled, id="laptop-1", candidates=bundled.candidates[:2])
    backend = LabelStudioBackend(url=label_studio_server.url, api_key=label_studio_server.api_key)
    pushed = backend.push([two], RUBRIC, PushOptions(target=ls_project_title))
    project_id = int(str(pushed.url).split("/projects/")[1].split("/")[0])
    page = pages.new()
    ls_login(page, label_studio_server.url, label_studio_server.username, label_studio_server.password)
    ls_label_stream(page, label_studio_server.url, project_id)
    height, width = page.viewport_size["height"], page.viewport_size["width"]
    bottom_bar = page.get_by_test_id("bottombar-submit-button").bounding_box()
    assert bottom_bar is not None

    def on_screen(locator: Any) -> bool:
        box = locator.bounding_box()
        return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= bottom_bar["y"] and \
            box["x"] + box["width"] <= width

    for letter in ("A", "B"):
        column = ls_column(page, letter)
        assert on_screen(column.locator(".brun-reply")), f"candidate {letter}'s reply is off screen"
        assert on_screen(column.locator("label", has_text="+2 Defensive")), f"{letter}'s tone zone is off screen"
        assert on_screen(column.locator("label", has_text="Discloses private data")), f"{letter}'s flags off screen"
    for option in ("A is better", "B is better", "Both bad"):
        assert on_screen(page.locator("label", has_text=option)), f"preference {option!r} is off screen"
    assert height == 768 and width == 1366
    keep(page, tmp_path, "label-studio-2-candidates.png")
