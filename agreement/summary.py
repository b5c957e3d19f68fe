"""The agreement summary: one JSON-ready dict per annotation table (what ``brun-label agreement`` prints).

Pure core. :func:`summarize` runs everything in :mod:`brun_label.agreement` over the long
annotation table and returns::

    {"questions": {"<question>": {"type", "level", "level_source", "distance", "n_units",
                                  "n_pairable_units", "n_annotators", "n_ratings",
                                  "krippendorff_alpha", "alpha_ci95", "verdict",
                                  "percent_agreement", "fleiss_kappa", "gwet_ac1",
                                  ["gwet_ac2", "gwet_ac2_weights",] "cohen_kappa_pairwise",
                                  "cohen_weights", ["per_flag",] "distributions", "notes"}},
     "annotators": {"<annotator>": {"n_ratings", "flagged", "reasons",
                                    "questions": {"<question>": {...}}}},
     "judge": {"<question>": {"judges", "n_units", "agreement_with_consensus",
                              "alpha_humans", "alpha_with_judge", "by_judge"}},
     "position_bias": {...},  # per rater, see brun_label.agreement.position_bias
     "low_agreement_units": [...], "n_low_agreement_units": ..., "notes": [...],
     "settings": {...}}

Only ``submitted`` rows count. ``judge:`` annotators never enter a human coefficient: they are
reported under ``"judge"``. ``flags`` questions get α with the MASI distance and a ``per_flag``
block of binary coefficients; ``text`` questions are skipped (with a note). Every undefined
number is ``None`` with the reason in the question's ``notes``; no NaN reaches the output.
See :mod:`brun_label.agreement.metrics`, :mod:`~brun_label.agreement.annotators` and
:mod:`~brun_label.agreement.adjudication` for the definitions.

Examples
--------
>>> from brun_label.table import make_table
>>> from brun_label.rubrics import load_rubric
>>> votes = {"ann1": [0, 0, 1, -1, 0, 2], "ann2": [0, 0, 1, -1, 1, 2], "ann3": [0, -1, 1, -1, 0, 2],
...          "judge:gpt": [0, 0, 0, -1, 0, 1]}
>>> rows = [{"item_id": f"s{u}", "candidate_id": "c1", "question": "tone_zone", "annotator": a, "value": v}
...         for a, vs in votes.items() for u, v in enumerate(vs)]
>>> s = summarize(make_table(rows), rubric=load_rubric("de-escalation"), n_bootstrap=200)
>>> q = s["questions"]["tone_zone"]
>>> q["level"], q["level_source"], q["n_units"], q["n_annotators"], q["n_ratings"]
('ordinal', 'rubric', 6, 3, 18)
>>> round(q["krippendorff_alpha"], 3), q["verdict"], len(q["alpha_ci95"])
(0.871, 'reliable', 2)
>>> sorted(s["annotators"]), round(s["judge"]["tone_zone"]["agreement_with_consensus"], 3)
(['ann1', 'ann2', 'ann3'], 0.667)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.adjudication import low_agreement_units
from brun_label.agreement.annotators import annotator_stats, judge_stats
from brun_label.agreement.consensus import UnitConsensus, majority_vote
from brun_label.agreement.metrics import alpha_without, clean, question_alpha, question_metrics
from brun_label.agreement.position_bias import position_bias
from brun_label.agreement.questions import QuestionData, split_questions
from brun_label.rubric import Rubric
from brun_label.table import factorize_objects

_KAPPA_WEIGHTS = {"nominal": None, "ordinal": "linear", "interval": "quadratic", "ratio": "quadratic"}


def _label(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def distributions(q: QuestionData, values: np.ndarray, names: list[str]) -> dict[str, dict[str, int]]:
    """Return ``{rater: {value: count}}`` (per flag, plus ``(none)``, for flags questions)."""
    coded = q.agreement_values(values)
    out: dict[str, dict[str, int]] = {}
    for i, name in enumerate(names):
        # Count each distinct answer once (in order of first appearance), then expand sets to flags.
        codes, uniques = factorize_objects(coded[i])
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        counter: Counter[str] = Counter()
        for v, n in zip(uniques, counts.tolist(), strict=True):
            if isinstance(v, frozenset):
                for f in sorted(v) or ["(none)"]:
                    counter[f] += n
            else:
                counter[_label(v)] += n
        out[name] = dict(counter)
    return out


def distribution_order(q: QuestionData) -> list[str]:
    """The display order of a question's values (the rubric's, else sorted)."""
    dom = q.agreement_domain()
    if q.kind == "flags":
        return [*(q.domain or []), "(none)"]
    return [_label(v) for v in dom] if dom else []


def _unit_consensus(q: QuestionData) -> UnitConsensus:
    """Majority vote per unit; preferences are voted on as positions, then mapped back to ids.

    Voting on raw candidate ids would build a units × (every candidate id) matrix, which does not
    scale (a million-row table has tens of thousands of ids); positions keep the domain small.
    """
    if q.kind != "preference":
        return majority_vote(q.values, level=q.level)
    cons = majority_vote(q.agreement_values(), level=q.level)
    # Map positions back to ids: one lookup per distinct winning label, then one array lookup.
    values = np.empty(len(cons.value), dtype=object)
    values[:] = cons.value
    codes, labels = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    rank = np.zeros(len(values), dtype=np.int64)
    for j, label in enumerate(labels.tolist()):
        if isinstance(label, str) and label.startswith("candidate_"):
            rank[np.asarray(codes) == j] = int(label.removeprefix("candidate_"))
    found = q.candidate_at(np.arange(len(values)), rank)
    named = (rank > 0) & pd.notna(found)
    values[named] = found[named]
    return replace(cons, value=values.tolist())


def summarize(
    table: pd.DataFrame,
    *,
    levels: Mapping[str, str] | None = None,
    n_bootstrap: int = 0,
    seed: int = 0,
    rubric: Rubric | None = None,
    max_low_units: int | None = 1000,
    judge_orders: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Return the agreement summary of a long annotation table (see the module docstring).

    Parameters
    ----------
    table : pandas.DataFrame
        The annotation table (columns ``item_id``, ``candidate_id`` (optional), ``question``,
        ``annotator``, ``value``, ``status`` (optional)).
    levels : mapping, optional
        ``{question: level}`` overriding the rubric's levels.
    n_bootstrap : int
        Bootstrap resamples for α's 95% interval (0: no interval).
    seed : int
        Seed of the bootstrap.
    rubric : Rubric, optional
        Gives each question's type, level and options.
    max_low_units : int or None
        Cap on the listed low-agreement units (``None``: all); the total is always reported.
    judge_orders : mapping, optional
        ``{item_id: candidate order the judge saw}`` (``Sample.judge_order``), for the judge's
        position bias (:mod:`brun_label.agreement.position_bias`).
    """
    if n_bootstrap < 0:
        raise ValueError("n_bootstrap must be 0 or more")
    questions, notes = split_questions(table, levels=levels, rubric=rubric)
    out_q: dict[str, Any] = {}
    annotators: dict[str, dict[str, Any]] = {}
    judge: dict[str, Any] = {}
    low: list[dict[str, Any]] = []
    n_listed: list[int] = []
    for name, q in questions.items():
        if not q.annotators:
            notes.append(f"{name}: only judge ratings, no human agreement to compute")
            continue
        metrics = question_metrics(q, n_bootstrap=n_bootstrap, seed=seed)
        metrics["distributions"] = {
            "order": distribution_order(q),
            "annotators": distributions(q, q.values, q.annotators),
            "judges": distributions(q, q.judge_values, q.judges),
        }
        out_q[name] = metrics
        alpha = float(metrics["krippendorff_alpha"])
        without = alpha_without(q)
        stats = annotator_stats(q, alpha=alpha, alpha_without=without)
        pairwise = metrics["cohen_kappa_pairwise"]
        for ann, st in stats.items():
            ks = [v for k, v in pairwise.items() if ann in k.split("|") and not math.isnan(v)]
            st["mean_cohen_kappa"] = float(np.mean(ks)) if ks else math.nan
            st["distribution"] = metrics["distributions"]["annotators"][ann]
            entry = annotators.setdefault(ann, {"n_ratings": 0, "flagged": False, "reasons": [], "questions": {}})
            entry["n_ratings"] += st["n_ratings"]
            entry["questions"][name] = st
            if st["flagged"]:
                entry["flagged"] = True
                entry["reasons"].extend(f"{name}: {r}" for r in st["reasons"])
        cons = _unit_consensus(q)
        low.extend(low_agreement_units(q, cons, limit=max_low_units, total=n_listed))
        if q.judges:
            stacked = np.concatenate([q.values, q.judge_values], axis=0)
            judge[name] = judge_stats(
                q,
                alpha_humans=alpha,
                alpha_with=question_alpha(q, stacked),
                kappa_weights=_KAPPA_WEIGHTS[q.level] if q.distance != "masi" else None,
            )
    low.sort(key=lambda e: (e["support"], -e["spread_steps"], -e["disagreement"]))
    n_low = sum(n_listed)  # each question's list is capped at max_low_units: the global top is kept
    if max_low_units is not None and n_low > max_low_units:
        notes.append(f"low_agreement_units: showing the {max_low_units} most contested of {n_low}")
        low = low[:max_low_units]
    if not out_q:
        notes.append("no question with human ratings to compute agreement on")
    bias = position_bias(table, rubric=rubric, judge_orders=judge_orders)
    for f in bias["flagged"]:  # a person with a position bias is one to check, like one who drifts
        if f["rater"] in annotators:
            annotators[f["rater"]]["flagged"] = True
            annotators[f["rater"]]["reasons"].append(f"{f['question']}: position bias: {f['why']}")
    result = {
        "questions": out_q,
        "annotators": dict(sorted(annotators.items())),
        "judge": judge,
        "position_bias": bias,
        "low_agreement_units": low,
        "n_low_agreement_units": n_low,
        "notes": notes,
        "settings": {
            "rubric": rubric.name if rubric is not None else None,
            "n_bootstrap": n_bootstrap,
            "seed": seed,
            "levels": dict(levels or {}),
        },
    }
    return dict(clean(result))
