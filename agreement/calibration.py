"""Judge calibration: how often the LLM judge's answer matches a clear annotator consensus, given its confidence.

Pure core (NumPy, pandas, scikit-learn; no I/O). The judge's scores carry its own confidence
(``judge_confidence`` in the samples file, see :mod:`brun_label.importers.judge`): the
log-probability it gave its answer, when the endpoint returns token log-probabilities, else
whether it kept the answer with the candidates reversed (``--swap-check``). Neither is a
probability of being right. :func:`calibrate` learns one per question:

1. **points**: every unit (an item, or an item's candidate, for one question) with a *clear*
   human consensus (majority vote of at least ``min_annotators`` humans, the winning answer given
   by at least ``min_share`` of them, no tie; :func:`brun_label.agreement.consensus.consensus`)
   and a judge answer with a confidence; the outcome is whether the judge's answer equals the
   consensus;
2. **model**: scikit-learn's ``IsotonicRegression`` (monotone non-decreasing, so a more confident
   answer is never trusted less; the default) or ``LogisticRegression`` (Platt scaling) of the
   outcome on the confidence;
3. **honesty on small data**: the reliability numbers come from *cross-validated* predictions
   (stratified k-fold, ``k = min(5, size of the smaller outcome)``: every unit is predicted by a
   model that never saw it), and a question with fewer than :data:`MIN_ITEMS` points or fewer than
   :data:`MIN_EACH` matches or mismatches is reported as ``"not enough items"``, without a model;
4. **reliability**: the Brier score of the cross-validated predictions, beside the Brier score of
   always predicting the base rate (also cross-validated) and, with log-probabilities, of the
   judge's own stated probability ``exp(logprob)``; the calibration curve (mean predicted against
   the share matching, in quantile bins, with counts).

The model fitted on all points is kept as plain numbers (the isotonic breakpoints, or the logistic
coefficients): :func:`apply_calibration` stores ``judge_confidence[question]["calibrated"]`` in
every sample that has the confidence, and ``push --min-judge-confidence`` sends only the
answers at or above a threshold (:func:`brun_label.model.trusted_judge`).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> acc = rng.uniform(0.5, 1.0, 400)
>>> points = pd.DataFrame({"question": "tone_zone", "logprob": np.log(acc) * 0.3,
...                        "consistent": None, "match": rng.uniform(size=400) < acc})
>>> fit = fit_question(points)
>>> fit["status"], fit["feature"], fit["n_items"]
('ok', 'logprob', 400)
>>> fit["brier_cv"] < fit["brier_baseline"] and fit["brier_cv"] < fit["brier_raw"]
True
>>> lo, hi = predict(fit["model"], [np.log(0.55) * 0.3, np.log(0.95) * 0.3])
>>> bool(lo < hi)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from brun_label.model import Sample
from brun_label.rubric import Rubric

#: Fewest points (units with a clear consensus and a judge confidence) to fit a question.
MIN_ITEMS = 30
#: Fewest matches and fewest mismatches among them (the cross-validation needs both in every fold).
MIN_EACH = 5
#: A clear consensus: at least this many humans, the winning answer given by at least this share.
MIN_ANNOTATORS = 2
MIN_SHARE = 0.75
METHODS = ("isotonic", "logistic")
FEATURES = ("logprob", "consistent")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple | np.ndarray) or isinstance(b, list | tuple | np.ndarray):
        if not isinstance(a, list | tuple | np.ndarray) or not isinstance(b, list | tuple | np.ndarray):
            return False
        return sorted(map(str, a)) == sorted(map(str, b))
    if isinstance(a, int | float | np.integer | np.floating) and isinstance(b, int | float | np.integer | np.floating):
        return float(a) == float(b)
    return a is not None and str(a) == str(b)


def judge_points(
    table: pd.DataFrame,
    samples: Mapping[str, Sample],
    *,
    rubric: Rubric | None = None,
    min_annotators: int = MIN_ANNOTATORS,
    min_share: float = MIN_SHARE,
) -> pd.DataFrame:
    """Return one row per unit with a clear annotator consensus and a judge answer in ``samples``.

    Columns: ``question``, ``item_id``, ``candidate_id``, ``match`` (the judge's answer equals
    the consensus), ``logprob`` and ``consistent`` (``None`` when unknown). The judge's answers
    and confidences come from the samples file, not from the table's ``judge:`` rows.
    """
    from brun_label.agreement.consensus import consensus

    cols = ["question", "item_id", "candidate_id", "match", "logprob", "consistent"]
    cons = consensus(table, rubric=rubric)
    clear = cons[(cons["n_annotators"] >= min_annotators) & (cons["support"] >= min_share) & ~cons["tied"]]
    rows = []
    for item, cand, question, value in zip(clear["item_id"], clear["candidate_id"], clear["question"],
                                           clear["value"], strict=True):
        sample = samples.get(str(item))
        if sample is None:
            continue
        if cand:
            owner = next((c for c in sample.candidates if c.id == cand), None)
            if owner is None:
                continue
            judge, conf = owner.judge, owner.judge_confidence
        else:
            judge, conf = sample.judge, sample.judge_confidence
        if not judge or judge.get(question) is None:
            continue
        entry = (conf or {}).get(question) or {}
        lp = entry.get("logprob")
        cons_ok = entry.get("consistent")
        rows.append((question, str(item), str(cand), _same(judge[question], value),
                     float(lp) if isinstance(lp, int | float) and math.isfinite(lp) else None,
                     bool(cons_ok) if isinstance(cons_ok, bool) else None))
    return pd.DataFrame(rows, columns=cols)


def _feature(points: pd.DataFrame) -> tuple[str | None, pd.DataFrame]:
    """The confidence to calibrate on: the log-probability where known, else the swap consistency."""
    best: tuple[str | None, pd.DataFrame] = (None, points.iloc[:0])
    for name in FEATURES:
        have = points[points[name].notna()] if name in points.columns else points.iloc[:0]
        if len(have) > len(best[1]) or (len(have) == len(best[1]) and best[0] is None and len(have)):
            best = (name, have)
        if len(have) >= MIN_ITEMS:
            return name, have
    return best


def _x(values: Any) -> np.ndarray:
    return np.asarray([float(v) for v in values], dtype=float)


def _estimator(method: str) -> Any:
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        return IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0)


def _fit_predict(method: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    est = _estimator(method)
    if method == "isotonic":
        est.fit(x_train, y_train)
        return np.asarray(est.predict(x_test), dtype=float)
    if len(np.unique(x_train)) < 2:  # nothing to learn from one value: the base rate
        return np.full(len(x_test), float(y_train.mean()))
    est.fit(x_train.reshape(-1, 1), y_train)
    return np.asarray(est.predict_proba(x_test.reshape(-1, 1))[:, 1], dtype=float)


def _model(method: str, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    est = _estimator(method)
    if method == "isotonic":
        est.fit(x, y)
        return {"method": method, "x": [float(v) for v in est.X_thresholds_],
                "y": [float(v) for v in est.y_thresholds_]}
    if len(np.unique(x)) < 2:
        return {"method": method, "coef": 0.0, "intercept": float(math.log(y.mean() / (1 - y.mean())))}
    est.fit(x.reshape(-1, 1), y)
    return {"method": method, "coef": float(est.coef_[0][0]), "intercept": float(est.intercept_[0])}


def predict(model: Mapping[str, Any], x: Sequence[float] | np.ndarray) -> list[float]:
    """Return the calibrated confidence of confidences ``x`` under a fitted ``model``.

    >>> predict({"method": "isotonic", "x": [-2.0, -1.0, 0.0], "y": [0.2, 0.5, 0.9]}, [-3, -0.5, 1])
    [0.2, 0.7, 0.9]
    >>> [round(p, 3) for p in predict({"method": "logistic", "coef": 2.0, "intercept": 0.0}, [0.0, 1.0])]
    [0.5, 0.881]
    """
    xs = np.asarray(x, dtype=float)
    if model["method"] == "isotonic":
        out = np.interp(xs, np.asarray(model["x"], dtype=float), np.asarray(model["y"], dtype=float))
    else:
        out = 1.0 / (1.0 + np.exp(-(float(model["coef"]) * xs + float(model["intercept"]))))
    return [float(v) for v in out]


def _curve(p: np.ndarray, y: np.ndarray, n_bins: int) -> dict[str, list[float] | list[int]]:
    edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    mean_p: list[float] = []
    frac: list[float] = []
    count: list[int] = []
    for b in range(max(len(edges) - 1, 1)):
        sel = idx == b
        if sel.any():
            mean_p.append(float(p[sel].mean()))
            frac.append(float(y[sel].mean()))
            count.append(int(sel.sum()))
    return {"mean_predicted": mean_p, "fraction_matching": frac, "count": count}


def fit_question(points: pd.DataFrame, *, method: str = "isotonic", seed: int = 0) -> dict[str, Any]:
    """Calibrate one question's points (see the module docstring); ``status`` says if it could."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {', '.join(METHODS)}, got {method!r}")
    feature, have = _feature(points)
    y = have["match"].to_numpy(dtype=bool).astype(float)
    n, n_match = len(y), int(y.sum())
    out: dict[str, Any] = {"status": "ok", "feature": feature, "method": method, "n_items": n,
                           "n_matches": n_match, "match_rate": n_match / n if n else None}
    if feature is None:
        out["status"] = "not enough items: no judge answer with a confidence matches a clear annotator consensus"
        return out
    if n < MIN_ITEMS or min(n_match, n - n_match) < MIN_EACH:
        out["status"] = (f"not enough items: {n} with a clear annotator consensus, {n_match} matching "
                         f"(need {MIN_ITEMS}, with at least {MIN_EACH} matches and {MIN_EACH} mismatches)")
        return out
    from sklearn.metrics import brier_score_loss
    from sklearn.model_selection import StratifiedKFold

    x = _x(have[feature])
    k = min(5, n_match, n - n_match)
    p_cv = np.zeros(n)
    base_cv = np.zeros(n)
    for train, test in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x.reshape(-1, 1), y):
        p_cv[test] = _fit_predict(method, x[train], y[train], x[test])
        base_cv[test] = y[train].mean()
    out.update({
        "n_folds": k,
        "brier_cv": float(brier_score_loss(y, p_cv)),
        "brier_baseline": float(brier_score_loss(y, base_cv)),
        "brier_raw": float(brier_score_loss(y, np.exp(np.minimum(x, 0.0)))) if feature == "logprob" else None,
        "curve": _curve(p_cv, y, n_bins=max(2, min(10, n // 20))),
        "model": _model(method, x, y),
    })
    return out


def calibrate(
    table: pd.DataFrame,
    samples: Mapping[str, Sample],
    *,
    rubric: Rubric | None = None,
    method: str = "isotonic",
    min_annotators: int = MIN_ANNOTATORS,
    min_share: float = MIN_SHARE,
    seed: int = 0,
) -> dict[str, Any]:
    """Return ``{"questions": {question: fit}, "settings": {...}}`` for every judged question.

    A fit is :func:`fit_question`'s dict; only questions the judge answered in ``samples`` and the
    humans rated appear.
    """
    points = judge_points(table, samples, rubric=rubric, min_annotators=min_annotators, min_share=min_share)
    questions = {str(q): fit_question(g, method=method, seed=seed) for q, g in points.groupby("question", sort=False)}
    return {"questions": questions,
            "settings": {"method": method, "min_annotators": min_annotators, "min_share": min_share,
                         "min_items": MIN_ITEMS, "min_each": MIN_EACH, "seed": seed,
                         "cross_validation": "stratified k-fold, k = min(5, matches, mismatches)"}}


def _calibrated(conf: Mapping[str, Any] | None, fits: Mapping[str, Any]) -> dict[str, Any] | None:
    if not conf:
        return None if conf is None else dict(conf)
    out = {}
    for q, entry in conf.items():
        entry = dict(entry) if isinstance(entry, Mapping) else {}
        fit = fits.get(q) or {}
        feature, model = fit.get("feature"), fit.get("model")
        value = entry.get(feature) if feature else None
        entry["calibrated"] = (predict(model, [float(value)])[0]
                               if model is not None and isinstance(value, int | float | bool) else None)
        out[q] = entry
    return out


def apply_calibration(samples: Sequence[Sample], calibration: Mapping[str, Any]) -> list[Sample]:
    """Return ``samples`` with ``judge_confidence[question]["calibrated"]`` set from the fitted models.

    An answer whose question has no model (not enough items) or that lacks the confidence the model
    uses gets ``None``: it is not known to be trustworthy.
    """
    fits = calibration.get("questions", {})
    out = []
    for s in samples:
        cands = tuple(replace(c, judge_confidence=_calibrated(c.judge_confidence, fits)) for c in s.candidates)
        out.append(replace(s, candidates=cands, judge_confidence=_calibrated(s.judge_confidence, fits)))
    return out


def _reliability_svg(fit: Mapping[str, Any]) -> str:
    """Inline SVG reliability diagram: the diagonal, and each bin's share matching against its mean prediction."""
    size, pad = 220, 30
    span = size - 2 * pad

    def xy(px: float, py: float) -> tuple[float, float]:
        return pad + px * span, size - pad - py * span

    curve = fit["curve"]
    parts = [f"<svg class='chart calibration' width='{size}' height='{size}' role='img' "
             f"aria-label='calibration curve'><rect x='{pad}' y='{pad}' width='{span}' height='{span}' "
             "fill='none' stroke='#ccc'/>"]
    x0, y0 = xy(0, 0)
    x1, y1 = xy(1, 1)
    parts.append(f"<line x1='{x0}' y1='{y0}' x2='{x1}' y2='{y1}' stroke='#999' stroke-dasharray='4 3'/>")
    parts.append(f"<text x='{x0}' y='{y0 + 12}' font-size='10' text-anchor='middle'>0</text>"
                 f"<text x='{x1}' y='{y0 + 12}' font-size='10' text-anchor='middle'>1</text>"
                 f"<text x='{x0 - 6}' y='{y1 + 4}' font-size='10' text-anchor='end'>1</text>")
    pts = [xy(p, f) for p, f in zip(curve["mean_predicted"], curve["fraction_matching"], strict=True)]
    if pts:
        parts.append("<polyline fill='none' stroke='#0b3d91' stroke-width='2' points='"
                     + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + "'/>")
    total = max(sum(curve["count"]), 1)
    for (a, b), c in zip(pts, curve["count"], strict=True):
        parts.append(f"<circle cx='{a:.1f}' cy='{b:.1f}' r='{2 + 6 * math.sqrt(c / total):.1f}' fill='#0b3d91'>"
                     f"<title>{c} units</title></circle>")
    parts.append(f"<text x='{size / 2}' y='{size - 6}' font-size='11' text-anchor='middle'>calibrated confidence "
                 "(cross-validated)</text>")
    parts.append(f"<text x='10' y='{size / 2}' font-size='11' text-anchor='middle' transform='rotate(-90 10 {size / 2})'>"
                 "share matching the annotators</text></svg>")
    return "".join(parts)


def _f(x: Any) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def report_section(cal: Mapping[str, Any] | None) -> str:
    """Return the HTML section of the agreement report: per question, the curve and the Brier scores."""
    out = ["<h2 id='calibration'>Judge calibration</h2>"]
    questions = (cal or {}).get("questions") or {}
    if not questions:
        out.append("<p class='muted'>No judge answer with a confidence matches a unit with a clear annotator consensus "
                   "(give the judged samples with <code>--samples</code>).</p>")
        return "".join(out)
    st = cal.get("settings", {}) if cal else {}
    out.append("<p class='muted'>How often the judge's answer matches a clear annotator consensus (at least "
               f"{st.get('min_annotators')} annotators, ≥ {st.get('min_share')} of them agreeing), as a function of "
               f"the judge's own confidence; {escape(str(st.get('method')))} regression, reliability from "
               f"{escape(str(st.get('cross_validation')))} predictions. Brier score: lower is better; the baseline "
               "always predicts the base rate, raw uses the judge's stated probability.</p><div class='grid'>")
    for name, fit in questions.items():
        out.append(f"<div><h3>{escape(name)}</h3>")
        if fit["status"] != "ok":
            out.append(f"<p class='muted'>{escape(fit['status'])}.</p></div>")
            continue
        out.append(_reliability_svg(fit))
        out.append(f"<table><tr><th>confidence</th><td>{escape(str(fit['feature']))}</td></tr>"
                   f"<tr><th>units</th><td class='num'>{fit['n_items']} ({fit['n_matches']} matching)</td></tr>"
                   f"<tr><th>Brier (cross-validated)</th><td class='num'>{_f(fit['brier_cv'])}</td></tr>"
                   f"<tr><th>Brier baseline</th><td class='num'>{_f(fit['brier_baseline'])}</td></tr>"
                   f"<tr><th>Brier raw</th><td class='num'>{_f(fit['brier_raw'])}</td></tr></table></div>")
    out.append("</div>")
    return "".join(out)


__all__ = ["MIN_EACH", "MIN_ITEMS", "MIN_SHARE", "apply_calibration", "calibrate", "fit_question",
           "judge_points", "predict", "report_section"]
