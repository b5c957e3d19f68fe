"""Real-browser fixtures: Debian's chromium driven by Playwright, and the sign-in flows of both UIs.

Everything goes through the pages a person uses: Label Studio's invite link and sign-up form,
its ``/user/login/`` form and label stream; Argilla's ``/sign-in`` form and annotation page. Set
``BRUN_LABEL_SCREENSHOTS=<dir>`` to keep the screenshots the tests take (``scripts/screenshots.py``
does, for the README).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brun_label.layout import candidate_order
from brun_label.model import Sample, sample_from_dict

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]
#: A laptop screen, the size the layout is made for.
VIEWPORT = {"width": 1366, "height": 768}
PASSWORD = "Annotator-pw-123"


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless chromium for the UI tests (Playwright, no downloaded browser).

    Package-scoped, not session-scoped: Playwright's sync API keeps an event loop running in the
    main thread while it is open, and the doctests collected after ``tests/`` call ``asyncio.run``.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail("the UI tests need Debian's chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


class Pages:
    """New pages in fresh browser contexts (one per person), each watched for dialogs."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.contexts: list[Any] = []
        self.dialogs: list[str] = []

    def new(self) -> Any:
        context = self.browser.new_context(viewport=VIEWPORT)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Any) -> Iterator[Pages]:
    """Fresh browser contexts for the test's people, closed afterwards."""
    made = Pages(browser)
    try:
        yield made
    finally:
        made.close()


def keep(page: Any, tmp_path: Path, name: str) -> Path:
    """Take a screenshot; copy it to ``$BRUN_LABEL_SCREENSHOTS`` when set."""
    path = tmp_path / name
    page.screenshot(path=str(path))
    target = os.environ.get("BRUN_LABEL_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


# -- Label Studio ----------------------------------------------------------------------------------


def ls_login(page: Any, url: str, email: str, password: str) -> None:
    """Sign in through Label Studio's login form."""
    page.goto(f"{url}/user/login/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/user/login" not in u)


def ls_invite_link(page: Any, url: str) -> str:
    """What a team lead does: Organization -> Add Members, and copy the invite link."""
    page.goto(f"{url}/organization")
    page.locator("button", has_text="Add Members").click()
    link = page.locator("input[value*='/user/signup/?token=']")
    link.wait_for()
    return str(link.get_attribute("value"))


def ls_sign_up(page: Any, link: str, email: str, password: str = PASSWORD) -> None:
    """What an invited annotator does: open the link, choose a password, sign up."""
    page.goto(link)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/user/signup" not in u)


def ls_label_stream(page: Any, url: str, project_id: int) -> None:
    """Open the project's label stream (Label All Tasks) and close the instructions it opens with."""
    page.goto(f"{url}/projects/{project_id}/data?labeling=1")
    page.get_by_text("Candidate A", exact=True).wait_for()
    instructions = page.get_by_text("Labeling Instructions")
    if instructions.count():
        page.keyboard.press("Escape")
        instructions.wait_for(state="hidden")


def ls_column(page: Any, letter: str) -> Any:
    """The column of candidate ``letter`` in the rendered config."""
    return page.locator(".brun-candidate").filter(has=page.get_by_text(f"Candidate {letter}", exact=True))


# -- Argilla ---------------------------------------------------------------------------------------


def argilla_sign_in(page: Any, url: str, username: str, password: str) -> None:
    """Sign in through Argilla's ``/sign-in`` form (username, password)."""
    page.goto(f"{url}/sign-in")
    inputs = page.locator("input")
    inputs.nth(0).fill(username)
    inputs.nth(1).fill(password)
    inputs.nth(1).press("Enter")
    page.wait_for_url(lambda u: "/sign-in" not in u)


def argilla_option(page: Any, slot: str, title: str) -> Any:
    """The label an annotator clicks to choose ``title`` in question ``slot``."""
    return page.locator(f'label[for^="{slot}_"][title="{title}"]')


# -- the two-annotator script both platform tests follow ------------------------------------------


def ui_sample(sid: str, n: int) -> Sample:
    """A short sample with ``n`` candidates."""
    return sample_from_dict({
        "id": sid, "category": "billing",
        "prompt": [{"role": "user", "content": f"You charged me {n} times. Refund everything now."}],
        "candidates": [{"id": f"{sid}-{k}", "text": f"Reply {k} to the {n}-candidate sample."} for k in range(n)],
    })


def script_rows(ann: str, ben: str, four: Sample, three: Sample, rationale: str) -> set[tuple[Any, ...]]:
    """The rows a pull must return after the script both UI tests play.

    ``ann`` rates the 3-candidate sample (A in zone, B soft, C defensive, A admits fault, prefers
    B); ``ben`` rates the 4-candidate one (-2, 0, 0, +1; D admits fault and promises
    compensation; prefers D), then the 3-candidate one (-1 each, a tie, a rationale). Flags left
    unticked on a rated candidate come back as ``()`` ("no flags").
    """
    o4, o3 = candidate_order(four), candidate_order(three)
    rows: set[tuple[Any, ...]] = set()

    def rated(who: str, sample: Sample, order: list[str], zones: list[int], flags: dict[int, tuple[str, ...]],
              preference: str) -> None:
        for pos, zone in enumerate(zones):
            rows.add((who, sample.id, order[pos], "tone_zone", zone))
            rows.add((who, sample.id, order[pos], "liability_flags", flags.get(pos, ())))
        rows.add((who, sample.id, "", "preference", preference))

    rated(ann, three, o3, [0, -1, 2], {0: ("admits_fault",)}, o3[1])
    rated(ben, four, o4, [-2, 0, 0, 1], {3: ("admits_fault", "promises_compensation")}, o4[3])
    rated(ben, three, o3, [-1, -1, -1], {}, "tie")
    rows.add((ben, three.id, "", "rationale", rationale))
    return rows


def pulled_rows(table: Any) -> set[tuple[Any, ...]]:
    """``(annotator, item, candidate, question, value)`` of a pulled table (lists as tuples); all submitted."""
    out = set()
    for r in table.itertuples():
        assert r.status == "submitted"
        value = r.value.tolist() if hasattr(r.value, "tolist") else r.value
        out.add((r.annotator, r.item_id, r.candidate_id, r.question, tuple(value) if isinstance(value, list) else value))
    return out
