"""Hostile text is shown as text in both annotation pages, and nothing in it runs (real browser).

LLM output and user files are untrusted: a candidate reply, the prompt, the metadata and the
rubric's own texts (guidelines, titles, hints) carry payloads of every usual kind (script tags,
event handlers, ``javascript:`` URLs, srcdoc frames, markdown links, attribute break-outs, Vue
template syntax, mutation-XSS, Label Studio's ``$variable`` substitution). Each payload, if it ran,
would set ``top.__xss``. The test signs in through each platform's form, opens the annotation
page (and the guidelines), and checks every frame and every dialog.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PushOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.model import Sample, sample_from_dict
from brun_label.rubric import Option, Rubric
from brun_label.rubrics import load_rubric
from tests.fixtures.argilla import ArgillaAPI, unique_name
from tests.ui.conftest import Pages, argilla_sign_in, keep, ls_label_stream, ls_login

pytestmark = pytest.mark.server

PAYLOADS = [
    "<script>top.__xss = 'script'</script>",
    '<img src=x onerror="top.__xss = \'img\'">',
    "<svg onload=\"top.__xss = 'svg'\"></svg>",
    "<iframe srcdoc=\"<script>top.__xss = 'srcdoc'</script>\"></iframe>",
    "<a href=\"javascript:top.__xss = 'href'\" id=\"xss-link\">click me</a>",
    "[markdown link](javascript:top.__xss='md')",
    "<details open ontoggle=\"top.__xss = 'details'\">x</details>",
    "\"><img src=x onerror=\"top.__xss = 'breakout'\">",
    "'><script>top.__xss = 'single'</script>",
    "{{ constructor.constructor(\"top.__xss = 'vue'\")() }}",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"top.__xss = 'mxss'\">",
    "<b>bold?</b> &amp; &lt;kept&gt; $prompt $brun_order",
]
HOSTILE = "\n".join(PAYLOADS)
#: What an annotator must read, character for character, where the reply is shown.
VISIBLE = "<img src=x onerror=\"top.__xss = 'img'\">"


def hostile_sample() -> Sample:
    return sample_from_dict({
        "id": "hostile-1", "category": "<img src=x onerror=\"top.__xss = 'category'\">",
        "prompt": [{"role": "system", "content": HOSTILE}, {"role": "user", "content": HOSTILE}],
        "metadata": {"channel": "<script>top.__xss = 'metadata'</script>"},
        "candidates": [{"id": "h-a", "text": HOSTILE}, {"id": "h-b", "text": "A calm reply. " + PAYLOADS[1]}],
    })


def hostile_rubric() -> Rubric:
    """The pack with every text an annotator sees replaced by payloads (as a user's file could)."""
    base = load_rubric("de-escalation")
    questions = []
    for q in base.questions:
        if q.name == "tone_zone":
            q = replace(q, title="Tone " + PAYLOADS[2], description=PAYLOADS[4],
                        options=tuple(replace(o, hint=PAYLOADS[7]) for o in q.options))
        if q.name == "liability_flags":
            q = replace(q, options=(Option("admits_fault", "Admits " + PAYLOADS[1]), *q.options[1:]))
        questions.append(q)
    return replace(base, questions=tuple(questions), guidelines=HOSTILE, prompt_title="Message " + PAYLOADS[0])


def ran(page: Any) -> list[Any]:
    """What the payloads set, in the page and in every frame (Argilla renders fields in srcdoc frames)."""
    found = []
    for frame in page.frames:
        try:
            value = frame.evaluate("() => { try { return window.__xss || top.__xss || null } catch (e) { return null } }")
        except Exception:  # a frame that went away
            continue
        if value:
            found.append(value)
    return found


def poke(page: Any) -> None:
    """Do what could trigger a lazy payload: hover and click the links, scroll, wait a little."""
    for link in page.locator("#xss-link").all():
        link.click(timeout=2000)
    page.mouse.wheel(0, 2000)
    page.wait_for_timeout(1500)


def test_hostile_text_runs_nothing_in_the_label_studio_page(
    label_studio_server, ls_project_title, pages: Pages, tmp_path: Path
) -> None:
    backend = LabelStudioBackend(url=label_studio_server.url, api_key=label_studio_server.api_key)
    pushed = backend.push([hostile_sample()], hostile_rubric(), PushOptions(target=ls_project_title))
    project_id = int(str(pushed.url).split("/projects/")[1].split("/")[0])
    page = pages.new()
    ls_login(page, label_studio_server.url, label_studio_server.username, label_studio_server.password)
    page.goto(f"{label_studio_server.url}/projects/{project_id}/data")  # the Data Manager shows the texts too
    page.get_by_text("hostile-1").first.wait_for()
    poke(page)
    page.goto(f"{label_studio_server.url}/projects/{project_id}/data?labeling=1")
    page.get_by_text("Labeling Instructions").wait_for()  # the guidelines, opened with the stream
    assert "<script>top.__xss = 'script'</script>" in page.inner_text("body")
    poke(page)
    ls_label_stream(page, label_studio_server.url, project_id)
    poke(page)
    keep(page, tmp_path, "label-studio-hostile.png")
    assert ran(page) == [] and pages.dialogs == []
    body = page.inner_text("body")
    assert VISIBLE in body and "$prompt $brun_order" in body and "<b>bold?</b> &amp; &lt;kept&gt;" in body


def test_hostile_text_runs_nothing_in_the_argilla_page(
    argilla_env, argilla_api: ArgillaAPI, pages: Pages, tmp_path: Path
) -> None:
    name = unique_name("hostile")
    ArgillaBackend().push([hostile_sample()], hostile_rubric(), PushOptions(target=name))
    dataset_id = argilla_api.dataset(name)["id"]
    argilla_api.annotator("eve-ui")
    page = pages.new()
    argilla_sign_in(page, argilla_env.url, "eve-ui", "annotator-pw-123")
    page.goto(f"{argilla_env.url}/dataset/{dataset_id}/annotation-mode")
    page.get_by_text("Candidate B").first.wait_for()
    poke(page)
    page.get_by_text("Guidelines", exact=False).first.click()  # open the guidelines panel
    poke(page)
    keep(page, tmp_path, "argilla-hostile.png")
    assert ran(page) == [] and pages.dialogs == []
    body = page.inner_text("body")
    assert VISIBLE in body and "<b>bold?</b> &amp; &lt;kept&gt;" in body
