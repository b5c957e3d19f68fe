"""Judge calibration: honest (cross-validated) reliability, monotone confidence, minimum counts."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from brun_label.agreement.calibration import (
    MIN_EACH,
    MIN_ITEMS,
    apply_calibration,
    calibrate,
    fit_question,
    judge_points,
    predict,
    report_section,
)
from brun_label.cli import cli
from brun_label.exporters.tables import write_annotations
from brun_label.model import Sample, sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.table import make_table

RUBRIC = load_rubric("de-escalation")


def points(rng: np.random.Generator, n: int, *, informative: bool = True) -> pd.DataFrame:
    """The judge is right with probability ``acc``; it states ``0.4 * log(acc)`` (overconfident)."""
    acc = rng.uniform(0.5, 1.0, n)
    right = rng.uniform(size=n) < (acc if informative else 0.75)
    return pd.DataFrame({"question": "q", "logprob": 0.4 * np.log(acc), "consistent": None, "match": right,
                         "acc": acc})


@pytest.mark.parametrize("method", ["isotonic", "logistic"])
def test_calibrated_confidence_tracks_the_true_accuracy(rng: np.random.Generator, method: str) -> None:
    pts = points(rng, 2000)
    fit = fit_question(pts, method=method)
    assert fit["status"] == "ok" and fit["n_folds"] == 5 and fit["method"] == method
    assert fit["brier_cv"] < fit["brier_raw"] and fit["brier_cv"] < fit["brier_baseline"]
    pred = np.array(predict(fit["model"], pts["logprob"].to_numpy()))
    assert float(np.mean(np.abs(pred - pts["acc"].to_numpy()))) < 0.06
    curve = fit["curve"]
    assert sum(curve["count"]) == 2000 and len(curve["mean_predicted"]) == 10
    assert all(abs(p - f) < 0.12 for p, f in zip(curve["mean_predicted"], curve["fraction_matching"], strict=True))


def test_cross_validation_claims_no_skill_on_noise(rng: np.random.Generator) -> None:
    """On a confidence unrelated to being right, an in-sample isotonic fit would beat the base rate."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import brier_score_loss

    pts = points(rng, 200, informative=False)
    y = pts["match"].to_numpy(dtype=float)
    in_sample = IsotonicRegression(out_of_bounds="clip").fit(pts["logprob"], y).predict(pts["logprob"])
    assert brier_score_loss(y, in_sample) < y.mean() * (1 - y.mean())  # the overfit an honest report avoids
    fit = fit_question(pts)
    assert fit["brier_cv"] >= fit["brier_baseline"] - 0.005


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(-5, 0), st.booleans()), min_size=MIN_ITEMS, max_size=120),
       st.sampled_from(["isotonic", "logistic"]))
def test_calibrated_confidence_is_a_monotone_probability(data: list[tuple[float, bool]], method: str) -> None:
    pts = pd.DataFrame({"question": "q", "logprob": [d[0] for d in data], "consistent": None,
                        "match": [d[1] for d in data]})
    fit = fit_question(pts, method=method)
    n_match = int(pts["match"].sum())
    if min(n_match, len(pts) - n_match) < MIN_EACH:
        assert fit["status"].startswith("not enough items") and "model" not in fit
        return
    grid = np.linspace(-6, 1, 50)
    pred = predict(fit["model"], grid)
    assert all(0 <= p <= 1 for p in pred)
    if method == "isotonic" or fit["model"]["coef"] >= 0:
        assert all(a <= b + 1e-12 for a, b in itertools.pairwise(pred))
    else:
        assert all(a >= b - 1e-12 for a, b in itertools.pairwise(pred))


def test_swap_consistency_is_the_confidence_when_there_are_no_logprobs(rng: np.random.Generator) -> None:
    consistent = rng.uniform(size=300) < 0.7
    right = np.where(consistent, rng.uniform(size=300) < 0.9, rng.uniform(size=300) < 0.4)
    pts = pd.DataFrame({"question": "q", "logprob": None, "consistent": consistent, "match": right})
    fit = fit_question(pts)
    assert fit["feature"] == "consistent" and fit["brier_raw"] is None
    lo, hi = predict(fit["model"], [0.0, 1.0])
    assert abs(lo - 0.4) < 0.12 and abs(hi - 0.9) < 0.06


@pytest.mark.parametrize(("n", "wrong"), [(MIN_ITEMS - 1, 10), (200, MIN_EACH - 1), (200, 0)])
def test_too_few_items_or_outcomes_give_no_model(n: int, wrong: int) -> None:
    pts = pd.DataFrame({"question": "q", "logprob": np.linspace(-2, 0, n), "consistent": None,
                        "match": [i >= wrong for i in range(n)]})
    fit = fit_question(pts)
    assert fit["status"] == (f"not enough items: {n} with a clear annotator consensus, {n - wrong} matching "
                             f"(need {MIN_ITEMS}, with at least {MIN_EACH} matches and {MIN_EACH} mismatches)")
    assert "model" not in fit and "brier_cv" not in fit


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="calibration method must be one of isotonic, logistic"):
        fit_question(pd.DataFrame({"question": [], "logprob": [], "consistent": [], "match": []}), method="svm")


def judged(i: int, tone: int, lp: float | None, consistent: bool | None = None) -> Sample:
    conf = {"tone_zone": {"logprob": lp, "consistent": consistent}}
    return sample_from_dict({"id": f"s{i}", "prompt": "p", "judge": {"preference": f"s{i}-a"},
                             "judge_confidence": {"preference": {"logprob": lp, "consistent": consistent}},
                             "candidates": [{"id": f"s{i}-a", "text": "a", "judge": {"tone_zone": tone},
                                             "judge_confidence": conf},
                                            {"id": f"s{i}-b", "text": "b"}]})


def test_only_units_with_a_clear_human_consensus_count() -> None:
    samples = {f"s{i}": judged(i, 0, -0.1) for i in range(4)}
    votes = {0: [0, 0, 0], 1: [0, 0, 1], 2: [1, 1, 1, 0], 3: [0]}  # unanimous, 2/3, 3/4, one human
    rows = [{"item_id": f"s{i}", "candidate_id": f"s{i}-a", "question": "tone_zone", "annotator": f"ann{a}",
             "value": v} for i, vs in votes.items() for a, v in enumerate(vs)]
    rows += [{"item_id": "s0", "candidate_id": "s0-a", "question": "tone_zone", "annotator": "judge:m", "value": 2}]
    pts = judge_points(make_table(rows), samples, rubric=RUBRIC)
    assert pts[["item_id", "match"]].values.tolist() == [["s0", True], ["s2", False]]
    assert pts["logprob"].tolist() == [-0.1, -0.1]  # the judge's answer comes from the samples, not its rows


def test_apply_calibration_stores_the_calibrated_confidence(rng: np.random.Generator) -> None:
    acc = rng.uniform(0.5, 1.0, 120)
    samples = {f"s{i}": judged(i, 0, float(0.4 * np.log(acc[i]))) for i in range(120)}
    rows = [{"item_id": f"s{i}", "candidate_id": f"s{i}-a", "question": "tone_zone", "annotator": f"ann{a}",
             "value": 0 if rng.uniform() < acc[i] else 1} for i in range(120) for a in range(1)]
    rows = [{**r, "annotator": f"ann{a}"} for r in rows for a in range(2)]
    cal = calibrate(make_table(rows), samples, rubric=RUBRIC)
    assert cal["questions"]["tone_zone"]["status"] == "ok" and "preference" not in cal["questions"]
    out = apply_calibration(list(samples.values()), cal)
    got = sorted((c.judge_confidence["tone_zone"]["logprob"], c.judge_confidence["tone_zone"]["calibrated"])
                 for s in out for c in s.candidates if c.judge_confidence)
    assert [p for _, p in got] == sorted(p for _, p in got) and all(0 <= p <= 1 for _, p in got)
    assert all(s.judge_confidence and s.judge_confidence["preference"]["calibrated"] is None for s in out)
    assert out[0].candidates[0].judge_confidence["tone_zone"]["logprob"] == samples["s0"].candidates[0].judge_confidence["tone_zone"]["logprob"]  # type: ignore[index]
    assert sample_from_dict(out[0].to_dict()) == out[0]


def test_agreement_reports_the_calibration_curve_and_brier_score(rng: np.random.Generator, tmp_path: Path) -> None:
    acc = rng.uniform(0.5, 1.0, 150)
    samples_path = tmp_path / "judged.jsonl"
    with open(samples_path, "w", encoding="utf-8") as fh:
        for i in range(150):
            fh.write(json.dumps(judged(i, 0, float(0.4 * np.log(acc[i]))).to_dict()) + "\n")
    rows: list[dict[str, Any]] = []
    for i in range(150):
        v = 0 if rng.uniform() < acc[i] else -1
        rows += [{"item_id": f"s{i}", "candidate_id": f"s{i}-a", "question": "tone_zone", "annotator": a,
                  "value": v} for a in ("ann1", "ann2", "ann3")]
    table = tmp_path / "ann.jsonl"
    write_annotations(make_table(rows), table)
    report = tmp_path / "report.html"
    res = CliRunner().invoke(cli, ["agreement", str(table), "--rubric", "de-escalation", "--samples", str(samples_path),
                                   "--json", "--report", str(report)])
    assert res.exit_code == 0, res.output
    fit = json.loads(res.stdout)["judge_calibration"]["questions"]["tone_zone"]
    assert fit["status"] == "ok" and fit["n_items"] == 150
    assert math.isfinite(fit["brier_cv"]) and fit["brier_cv"] < fit["brier_raw"]
    html = report.read_text(encoding="utf-8")
    assert "<h2 id='calibration'>Judge calibration</h2>" in html and "aria-label='calibration curve'" in html
    assert f"{fit['brier_cv']:.3f}" in html
    text = CliRunner().invoke(cli, ["agreement", str(table), "--rubric", "de-escalation",
                                    "--samples", str(samples_path)]).stdout
    assert "Calibration against the annotators' consensus" in text and f"Brier {fit['brier_cv']:.3f}" in text


def test_report_section_without_points_and_with_too_few() -> None:
    assert "No judge answer with a confidence" in report_section(None)
    html = report_section({"questions": {"<q>": {"status": "not enough items: 3 <x>"}}, "settings": {}})
    assert "&lt;q&gt;" in html and "not enough items: 3 &lt;x&gt;" in html
