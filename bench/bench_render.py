"""Rendering a rubric with many options is linear: 20,000 options against 5,000, same run.

A ``choice`` question per candidate with ``n`` options (20,000 at full size, 2,000 with
``--quick``) and a preference, rendered for Label Studio (2 slots) and Argilla. Ours: the time for
``n`` options; baseline: 4 x the time for ``n / 4`` options, best of three rounds each. A linear
renderer gives a ratio near 1; the quadratic one this replaced (an option lookup per option) took
12.5 s for 20,000 options, a ratio near 4. Target: at most 1.5.
"""

from __future__ import annotations

from bench.common import Result, timed
from brun_label.render_argilla import render_argilla
from brun_label.render_label_studio import render_label_studio
from brun_label.rubric import Rubric, rubric_from_dict


def rubric_with(n_options: int) -> Rubric:
    """A rubric whose per-candidate choice question has ``n_options`` options."""
    return rubric_from_dict({"name": "big", "questions": [
        {"name": "topic", "type": "choice", "options": [{"value": f"o{i}", "label": f"Option {i}", "hint": f"h{i}"}
                                                        for i in range(n_options)]},
        {"name": "pref", "type": "preference"}]})


def _render(rubric: Rubric) -> int:
    return len(render_label_studio(rubric, n_candidates=2)) + len(render_argilla(rubric, n_candidates=2)["questions"])


def run(quick: bool) -> list[Result]:
    """The benchmark's one result (see the module docstring)."""
    n = 2_000 if quick else 20_000
    big, small = rubric_with(n), rubric_with(n // 4)
    ours, _ = timed(lambda: _render(big), repeat=3)
    quarter, _ = timed(lambda: _render(small), repeat=3)
    return [Result(name=f"render {n:,} options (LS + Argilla)", ours=ours, baseline=4 * quarter, unit="s",
                   target=1.5, note="vs 4 x the time for a quarter of the options (1 = linear)")]
