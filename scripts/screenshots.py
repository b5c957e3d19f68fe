"""Refresh the README's screenshots (``docs/screenshots/*.png``) from the real UIs and the report.

Usage: ``.venv/bin/python scripts/screenshots.py``

1. runs the real-browser tests (``tests/ui/``) with ``BRUN_LABEL_SCREENSHOTS=docs/screenshots``:
   they start their own local Label Studio and Argilla, push, sign in through the forms and
   annotate, and keep what the annotators saw (1366x768);
2. renders the agreement report of the bundled de-escalation samples answered by the demo's
   simulated annotators (no server needed) and photographs its top in chromium.

Nothing here is asserted: the tests do that. The script fails when they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]


def ui_screenshots() -> None:
    """Run the UI tests, keeping their screenshots in ``docs/screenshots``."""
    env = {**os.environ, "BRUN_LABEL_SCREENSHOTS": str(OUT)}
    subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "tests" / "ui"), "-q", "-p", "no:cacheprovider"],
                   cwd=ROOT, env=env, check=True)


def report_screenshot() -> Path:
    """Render the bundled samples' agreement report (simulated annotators) and photograph it."""
    from playwright.sync_api import sync_playwright

    from brun_label.agreement.report import render_report
    from brun_label.agreement.summary import summarize
    from brun_label.data import sample_path
    from brun_label.importers.samples import read_samples
    from brun_label.rubrics import load_rubric
    from brun_label.simulate import DEMO_ANNOTATORS, simulate_answers
    from brun_label.table import make_table

    rubric = load_rubric("de-escalation")
    samples = read_samples(sample_path("de-escalation"))
    rows = simulate_answers(samples, rubric, DEMO_ANNOTATORS)
    for row in rows:
        row.setdefault("status", "submitted")
        row.setdefault("platform", "label-studio")
        row.setdefault("submitted_at", None)
    summary = summarize(make_table(rows), rubric=rubric, n_bootstrap=200)
    html = render_report(summary, samples={s.id: s for s in samples}, source="bundled de-escalation samples")
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "report.html"
        page_path.write_text(html, encoding="utf-8")
        target = OUT / "agreement-report.png"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 1400})
            page.goto(page_path.as_uri())
            page.screenshot(path=str(target))
            browser.close()
    return target


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ui_screenshots()
    report_screenshot()
    for png in sorted(OUT.glob("*.png")):
        print(png.relative_to(ROOT))


if __name__ == "__main__":
    main()
