"""The HTML report: structure, escaping, and a real render in headless Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from brun_label.agreement.report import render_report
from brun_label.agreement.summary import summarize
from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.table import make_table
from tests.agreement.examples import synthetic_table

RUBRIC = load_rubric("de-escalation")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]


def _samples(n: int) -> dict[str, Any]:
    out = {}
    for i in range(n):
        s = sample_from_dict({
            "id": f"s{i:03d}", "prompt": f"Customer {i}: where is my refund?",
            "candidates": [{"id": f"c{i:03d}a", "text": f"Reply A{i}: so sorry, our fault."},
                           {"id": f"c{i:03d}b", "text": f"Reply B{i}: here is what I can do."}],
        })
        out[s.id] = s
    return out


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    table = synthetic_table(np.random.default_rng(5), 40, ("ann1", "ann2", "ann3", "spam"), spammer="spam", missing=0.1)
    return summarize(table, rubric=RUBRIC, n_bootstrap=200)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    p = _Tags()
    p.feed(html)
    return p.tags


def _classes(tags: list[tuple[str, dict[str, str | None]]], tag: str, cls: str) -> int:
    return sum(1 for t, a in tags if t == tag and cls in (a.get("class") or "").split())


def test_structure_matches_the_summary(summary: dict[str, Any]) -> None:
    html = render_report(summary, samples=_samples(40), source="annotations.jsonl")
    tags = _parse(html)
    questions = summary["questions"]
    assert _classes(tags, "svg", "forest") == 1
    assert _classes(tags, "circle", "point") == len(questions)
    assert _classes(tags, "line", "ci") == len(questions)
    n_cells = sum(q["n_annotators"] ** 2 for q in questions.values())
    confusion = sum(len(j["by_judge"]["judge:gpt-4o"].get("confusion", {}).get("labels", [])) ** 2
                    for j in summary["judge"].values())
    assert _classes(tags, "rect", "cell") == n_cells + confusion
    assert _classes(tags, "svg", "bars") == len(questions)
    assert _classes(tags, "svg", "hbars") == len(summary["judge"])
    assert _classes(tags, "tr", "flagged") >= 1
    units = summary["low_agreement_units"]
    units_table = html.split("<table class='units'>")[1].split("</table>")[0]
    assert units_table.count("<tr><td>") == len(units) > 0
    assert "Customer" in html and "Reply" in html


def test_no_network_and_everything_escaped(summary: dict[str, Any]) -> None:
    rows = [{"item_id": f"<i>{u}", "candidate_id": "c", "question": "tone_zone", "annotator": a, "value": v}
            for u in range(6) for a, v in (("<script>alert(1)</script>", u % 3), ("ann2", (u + 1) % 3))]
    html = render_report(summarize(make_table(rows), rubric=RUBRIC))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<i>" not in html
    for t, attrs in _parse(html):
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not re.match(r"^(https?:)?//", value), (t, key, value)
    assert "Content-Security-Policy" in html


def test_report_without_judge_or_contested_units() -> None:
    rows = [{"item_id": f"s{u}", "candidate_id": "c", "question": "tone_zone", "annotator": a, "value": u % 3 - 1}
            for u in range(9) for a in ("ann1", "ann2")]
    html = render_report(summarize(make_table(rows), rubric=RUBRIC))
    assert "No <code>judge:</code> ratings" in html
    assert "Every unit has a clear majority" in html


def _png_pixels_vary(path: Path) -> bool:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return len(set(raw[: 2_000_000])) > 50


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium)")
def test_renders_in_headless_chromium(summary: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(render_report(summary, samples=_samples(40)), encoding="utf-8")
    assert CHROMIUM is not None
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile1'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    tags = _parse(dom)
    assert _classes(tags, "svg", "forest") == 1
    assert _classes(tags, "svg", "heatmap") >= 3
    assert _classes(tags, "rect", "segment") > 10
    assert _classes(tags, "rect", "bar") >= 5
    assert _classes(tags, "table", "units") == 1 and _classes(tags, "table", "metrics") == 1
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1200,3000",
         f"--screenshot={shot}", path.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    assert shot.stat().st_size > 50_000
    assert _png_pixels_vary(shot)
