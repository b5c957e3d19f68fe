"""Position bias: planted biases are found for the rater who has one, and only for them."""

from __future__ import annotations

import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from brun_label.agreement.position_bias import (
    NOT_MEASURABLE,
    first_slot_test,
    holm,
    position_bias,
    report_section,
)
from brun_label.agreement.report import render_report
from brun_label.agreement.summary import summarize
from brun_label.cli import cli
from brun_label.exporters.tables import write_annotations
from brun_label.rubrics import load_rubric
from brun_label.table import make_table

RUBRIC = load_rubric("de-escalation")


def planted_table(rng: np.random.Generator, n_items: int = 150, *, biased: str | None = "ann2",
                  first_rate: float = 0.75, tone_bias: str | None = None, widths: tuple[int, ...] = (2,),
                  annotators: tuple[str, ...] = ("ann1", "ann2", "ann3", "ann4", "ann5")) -> pd.DataFrame:
    """Each item has a truly best candidate and a true tone per candidate, shown in a random order.

    Unbiased annotators pick the best candidate (90%) or another at random, and rate the true tone
    (±1 noise 20% of the time); ``biased`` picks the first slot with probability ``first_rate``;
    ``tone_bias`` rates the first slot one step higher.
    """
    rows: list[dict[str, Any]] = []
    for i in range(n_items):
        k = int(rng.choice(widths))
        cands = [f"s{i}-c{j}" for j in range(k)]
        best = cands[int(rng.integers(k))]
        tone = {c: int(rng.integers(-2, 3)) for c in cands}
        for a in annotators:
            order = list(rng.permutation(cands))
            shown = json.dumps(order)
            if a == biased and rng.uniform() < first_rate:
                pick = order[0]
            elif rng.uniform() < 0.9:
                pick = best
            else:
                pick = order[int(rng.integers(k))]
            vote = "tie" if rng.uniform() < 0.05 else pick
            rows.append({"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": a,
                         "value": vote, "position": None if vote == "tie" else order.index(vote),
                         "shown_order": shown})
            for slot, c in enumerate(order):
                v = tone[c] + (int(rng.choice([-1, 1])) if rng.uniform() < 0.2 else 0)
                if a == tone_bias and slot == 0:
                    v += 1
                rows.append({"item_id": f"s{i}", "candidate_id": c, "question": "tone_zone", "annotator": a,
                             "value": int(np.clip(v, -2, 2)), "position": slot, "shown_order": shown})
    return make_table(rows)


def test_a_planted_first_position_bias_is_flagged_for_that_person_only(rng: np.random.Generator) -> None:
    pb = position_bias(planted_table(rng), rubric=RUBRIC)
    assert pb["measurable"] and "Holm" in pb["correction"]
    raters = pb["questions"]["preference"]["raters"]
    assert [f["rater"] for f in pb["flagged"]] == ["ann2"]
    assert raters["ann2"]["flagged"] and raters["ann2"]["direction"] == "first"
    lo, hi = raters["ann2"]["first_share_ci95"]
    # the true first-slot share of ann2: 0.75 + 0.25 * 0.5 (an unbiased vote lands first half the time)
    assert lo <= 0.875 <= hi
    for a in ("ann1", "ann3", "ann4", "ann5"):
        e = raters[a]
        assert not e["flagged"] and e["p_holm"] >= e["p_value"]
        assert e["first_share_ci95"][0] <= e["first_share"] <= e["first_share_ci95"][1]
    assert raters["ann1"]["n_no_winner"] > 0 and raters["ann1"]["n_votes"] + raters["ann1"]["n_no_winner"] == 150
    assert not any(e["flagged"] for e in pb["questions"]["tone_zone"]["raters"].values())


def test_a_planted_tone_bias_by_slot_is_flagged_for_that_person_only(rng: np.random.Generator) -> None:
    pb = position_bias(planted_table(rng, biased=None, tone_bias="ann4"), rubric=RUBRIC)
    tone = pb["questions"]["tone_zone"]["raters"]
    assert [(f["question"], f["rater"]) for f in pb["flagged"]] == [("tone_zone", "ann4")]
    e = tone["ann4"]
    assert e["direction"] == "first higher" and e["mean_first_minus_rest"] > 0.5
    assert e["mean_by_slot"][0] > e["mean_by_slot"][1] and e["n_items"] > 0
    assert e["diff_ci95"][0] > 0
    assert all(not x["flagged"] for a, x in tone.items() if a != "ann4")


def test_three_or_four_candidates(rng: np.random.Generator) -> None:
    pb = position_bias(planted_table(rng, 240, widths=(3, 4), first_rate=0.6), rubric=RUBRIC)
    r = pb["questions"]["preference"]["raters"]
    assert [f["rater"] for f in pb["flagged"]] == ["ann2"]
    assert set(r["ann1"]["by_candidates"]) == {"3", "4"}
    three = r["ann1"]["by_candidates"]["3"]
    assert sum(three["counts"]) == three["n_votes"] and len(three["shares"]) == 3
    assert 0.25 < r["ann1"]["expected_first_share"] < 1 / 3


def test_family_wise_error_is_controlled_under_no_bias() -> None:
    """With no bias anywhere, a table flags someone in at most about alpha of the runs."""
    rng = np.random.default_rng(7)
    runs, flagged = 400, 0
    for _ in range(runs):
        firsts = rng.binomial(100, 0.5, size=8)
        p = [first_slot_test(int(x), {2: 100}) for x in firsts]
        flagged += any(q < 0.05 for q in holm(p))
    assert flagged / runs <= 0.08


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), data=st.data())
def test_exact_test_is_scipy_binomtest_for_pairs(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    assert math.isclose(first_slot_test(k, {2: n}), stats.binomtest(k, n, 0.5).pvalue, rel_tol=1e-9, abs_tol=1e-12)
    w = data.draw(st.integers(3, 5))
    assert math.isclose(first_slot_test(k, {w: n}), stats.binomtest(k, n, 1 / w).pvalue, rel_tol=1e-6, abs_tol=1e-12)


def test_mixed_widths_match_an_exact_enumeration() -> None:
    """Poisson-binomial p-value against enumerating every outcome of 4 pairs and 3 triples."""
    probs = [0.5] * 4 + [1 / 3] * 3
    pmf = np.zeros(len(probs) + 1)
    for outcome in itertools.product([0, 1], repeat=len(probs)):
        pmf[sum(outcome)] += math.prod(p if o else 1 - p for p, o in zip(probs, outcome, strict=True))
    for k in range(len(probs) + 1):
        expected = pmf[pmf <= pmf[k] * (1 + 1e-7)].sum()
        assert math.isclose(first_slot_test(k, {2: 4, 3: 3}), min(1.0, expected), rel_tol=1e-9)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_is_monotone_and_never_below_the_raw_p(ps: list[float]) -> None:
    adj = holm(ps)
    assert all(a >= p - 1e-12 and a <= 1 for a, p in zip(adj, ps, strict=True))
    order = np.argsort(ps, kind="stable")
    assert all(adj[order[i]] <= adj[order[i + 1]] + 1e-12 for i in range(len(ps) - 1))


def test_positions_come_from_shown_order_when_the_column_is_empty() -> None:
    rows = [{"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": "ann1",
             "value": f"b{i}", "shown_order": json.dumps([f"b{i}", f"a{i}"])} for i in range(30)]
    pb = position_bias(make_table(rows))
    assert pb["questions"]["preference"]["raters"]["ann1"]["first_share"] == 1.0


def test_judge_positions_come_from_the_order_the_judge_saw(rng: np.random.Generator) -> None:
    table = planted_table(rng, 80, biased=None)
    judge_rows, orders = [], {}
    for i in range(80):
        order = [f"s{i}-c1", f"s{i}-c0"] if i % 2 else [f"s{i}-c0", f"s{i}-c1"]
        orders[f"s{i}"] = order
        # the judge always prefers the reply it saw first; the table's own columns say nothing about it
        judge_rows.append({"item_id": f"s{i}", "candidate_id": "", "question": "preference",
                           "annotator": "judge:gpt", "value": order[0], "position": None, "shown_order": None})
    both = pd.concat([table, make_table(judge_rows)], ignore_index=True)
    without = position_bias(both, rubric=RUBRIC)
    assert "judge:gpt" not in without["questions"]["preference"]["raters"]
    pb = position_bias(both, rubric=RUBRIC, judge_orders=orders)
    j = pb["questions"]["preference"]["raters"]["judge:gpt"]
    assert j["judge"] and j["first_share"] == 1.0 and j["flagged"]
    assert [f["rater"] for f in pb["flagged"]] == ["judge:gpt"]


def test_a_table_without_positions_is_not_an_error() -> None:
    rows = [{"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": a, "value": "c1"}
            for i in range(5) for a in ("ann1", "ann2")]
    pb = position_bias(make_table(rows), rubric=RUBRIC)
    assert pb == {"measurable": False, "reason": NOT_MEASURABLE, "alpha": 0.05, "correction": pb["correction"],
                  "questions": {}, "flagged": []}
    summary = summarize(make_table(rows), rubric=RUBRIC)
    assert summary["position_bias"]["reason"] == NOT_MEASURABLE
    assert NOT_MEASURABLE in render_report(summary)


@pytest.mark.parametrize(("cell", "message"), [
    ("x", "position: must be a 0-based slot number"),
    (-1, "position: must be a 0-based slot number"),
    (1, "position: slot 1 disagrees with shown_order (slot 0)"),
])
def test_bad_positions_name_the_row_and_field(cell: Any, message: str) -> None:
    rows = [{"item_id": "s1", "candidate_id": "", "question": "preference", "annotator": "ann1",
             "value": "c1", "position": 0, "shown_order": '["c1", "c2"]'},
            {"item_id": "s2", "candidate_id": "", "question": "preference", "annotator": "ann1",
             "value": "d1", "position": cell, "shown_order": '["d1", "d2"]'}]
    with pytest.raises(ValueError, match=r"data row 2, field position"):
        position_bias(make_table(rows), rubric=RUBRIC)
    with pytest.raises(ValueError, match=re.escape(message.split(": ", 1)[1])):
        position_bias(make_table(rows), rubric=RUBRIC)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["agreement", *args])


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_cli_flags_the_biased_person_in_json_text_and_report(rng: np.random.Generator, tmp_path: Path,
                                                             fmt: str) -> None:
    path = tmp_path / f"ann.{fmt}"
    write_annotations(planted_table(rng, 120), path)
    res = run(str(path), "--rubric", "de-escalation", "--json")
    assert res.exit_code == 0, res.output
    pb = json.loads(res.stdout)["position_bias"]
    assert [f["rater"] for f in pb["flagged"]] == ["ann2"]
    text = run(str(path), "--rubric", "de-escalation").stdout
    assert "Position bias (Holm" in text
    assert [ln.split()[1] for ln in text.splitlines() if "FLAGGED" in ln] == ["ann2:"]
    report = tmp_path / "r.html"
    assert run(str(path), "--rubric", "de-escalation", "--report", str(report)).exit_code == 0
    html = report.read_text(encoding="utf-8")
    assert "<h2 id='position'>Position bias</h2>" in html and "share per slot" in html


def test_cli_bad_position_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "ann.jsonl"
    path.write_text(json.dumps({"item_id": "s1", "candidate_id": "", "question": "preference", "annotator": "a",
                                "value": "c1", "position": 3, "shown_order": '["c1", "c2"]'}) + "\n",
                    encoding="utf-8")
    res = run(str(path), "--rubric", "de-escalation")
    errors = [ln for ln in res.output.splitlines() if ln.startswith("Error")]
    assert res.exit_code == 2 and len(errors) == 1 and "Traceback" not in res.output
    assert errors[0].endswith("ann.jsonl: slot 3 disagrees with shown_order (slot 0) (data row 1, field position)")


def test_report_shows_rater_names_as_text() -> None:
    rows = [{"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": "<b>x</b>",
             "value": "c1", "position": 0, "shown_order": '["c1", "c2"]'} for i in range(12)]
    html = report_section(position_bias(make_table(rows)))
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_the_latest_answer_counts_like_in_agreement() -> None:
    """A person who changed their vote counts once, with the later answer."""
    rows = []
    for i in range(30):
        order = json.dumps([f"a{i}", f"b{i}"])
        rows.append({"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": "ann1",
                     "value": f"b{i}", "position": 1, "shown_order": order, "submitted_at": "2026-01-02T00:00:00Z"})
        rows.append({"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": "ann1",
                     "value": f"a{i}", "position": 0, "shown_order": order, "submitted_at": "2026-01-01T00:00:00Z"})
    e = position_bias(make_table(rows))["questions"]["preference"]["raters"]["ann1"]
    assert e["n_votes"] == 30 and e["first_share"] == 0.0


def test_agreement_measures_the_judges_position_bias_from_the_order_it_saw(
        fake_judge: Any, tmp_path: Path) -> None:
    """End to end: a judge planted to pick its first reply 60% of the time is flagged; the humans are not."""
    from brun_label.importers.samples import read_samples
    from tests.fake_openai_server import truth_best
    from tests.importers.test_judge import judge_args, run_cli, write_samples

    fake_judge(position_bias=0.6, judge_accuracy=(1.0, 1.0))
    src = write_samples(tmp_path / "samples.jsonl", 120)
    assert run_cli(*judge_args(tmp_path, src)).exit_code == 0
    judged_path = tmp_path / "out" / "judged.jsonl"
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []
    for s in read_samples(judged_path):
        assert s.judge is not None and s.judge_order is not None
        best = s.candidates[truth_best([c.text for c in s.candidates])].id
        for a in ("ann1", "ann2", "ann3"):
            order = [str(c) for c in rng.permutation([c.id for c in s.candidates])]
            rows.append({"item_id": s.id, "candidate_id": "", "question": "preference", "annotator": a,
                         "value": best, "position": order.index(best), "shown_order": json.dumps(order)})
        # the judge's row as a pull without recorded judge positions gives it
        rows.append({"item_id": s.id, "candidate_id": "", "question": "preference", "annotator": "judge:gpt-4o-mini",
                     "value": s.judge["preference"], "position": None, "shown_order": None})
    table = tmp_path / "ann.jsonl"
    write_annotations(make_table(rows), table)
    res = run(str(table), "--rubric", "de-escalation", "--samples", str(judged_path), "--json")
    assert res.exit_code == 0, res.output
    pb = json.loads(res.stdout)["position_bias"]
    assert [f["rater"] for f in pb["flagged"]] == ["judge:gpt-4o-mini"]
    j = pb["questions"]["preference"]["raters"]["judge:gpt-4o-mini"]
    lo, hi = j["first_share_ci95"]
    assert lo <= 0.6 + 0.4 * 0.5 <= hi  # biased 60%, otherwise right: the best reply is first half the time


def test_the_biased_person_is_among_the_annotators_to_check(rng: np.random.Generator) -> None:
    summary = summarize(planted_table(rng), rubric=RUBRIC)
    reasons = summary["annotators"]["ann2"]["reasons"]
    assert summary["annotators"]["ann2"]["flagged"]
    assert any(r.startswith("preference: position bias: picks the first slot in") for r in reasons)
    assert not any("position bias" in r for a, e in summary["annotators"].items() if a != "ann2" for r in e["reasons"])


def test_without_shown_order_the_number_of_candidates_comes_from_the_table() -> None:
    """Three candidates per item, only positions recorded: no bias means a third in the first slot."""
    rows = []
    for i in range(90):
        cands = [f"s{i}-{j}" for j in range(3)]
        rows += [{"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": a,
                  "value": cands[(i + n) % 3], "position": (i + n) % 3} for n, a in enumerate(("ann1", "ann2", "ann3"))]
    e = position_bias(make_table(rows), rubric=RUBRIC)["questions"]["preference"]["raters"]["ann1"]
    assert e["expected_first_share"] == pytest.approx(1 / 3) and list(e["by_candidates"]) == ["3"]
    assert e["first_share"] == pytest.approx(1 / 3) and not e["flagged"]


def test_a_significant_but_negligible_deviation_is_not_flagged() -> None:
    """20,000 votes at 49% first: p < 0.01 before adjustment, but 1 point off is no bias to act on."""
    rows = [{"item_id": f"s{i}", "candidate_id": "", "question": "preference", "annotator": a,
             "value": f"s{i}-a" if (i < 9_800 or a == "ann2") else f"s{i}-b",
             "position": 0 if (i < 9_800 or a == "ann2") else 1, "shown_order": json.dumps([f"s{i}-a", f"s{i}-b"])}
            for i in range(20_000) for a in ("ann1", "ann2")]
    raters = position_bias(make_table(rows))["questions"]["preference"]["raters"]
    assert raters["ann1"]["first_share"] == 0.49 and raters["ann1"]["p_holm"] < 0.05
    assert raters["ann1"]["effect"] == pytest.approx(0.01) and not raters["ann1"]["flagged"]
    assert raters["ann2"]["flagged"] and raters["ann2"]["effect"] == 0.5
