"""Every coefficient of one rubric question, with the reason whenever one is undefined.

Pure core. :func:`question_metrics` is the per-question block of the agreement summary. Which
coefficient is computed how, by kind of question:

=============  ==============================  ===========================================
kind           α                               κ / AC / percent agreement
=============  ==============================  ===========================================
scale, rating  at the level (rubric/option)    on the values; AC2 and weighted κ for
numeric                                        non-nominal levels
choice/labels  nominal (ordinal with rubric)   on the labels
preference     nominal on candidate positions  on candidate positions, tie, both_bad
flags          MASI distance over sets         sets as categories; plus ``per_flag``
=============  ==============================  ===========================================

Weights that follow the level: Cohen's κ is unweighted (nominal), linear (ordinal) or quadratic
(interval, ratio); Gwet's AC2 uses Gwet's ordinal weights (ordinal) or quadratic weights.

Verdict (Krippendorff 2004, §11.4): α ≥ 0.800 ``reliable``; 0.667 ≤ α < 0.800 ``tentative``
(draw only tentative conclusions); α < 0.667 ``unreliable``; ``undefined`` when α is.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from brun_label.agreement.alpha import alpha_from_counts, krippendorff_alpha
from brun_label.agreement.distances import masi_distances
from brun_label.agreement.flags import masi_patterns, per_flag_agreement, set_matrix
from brun_label.agreement.fleiss import fleiss_kappa
from brun_label.agreement.gwet import agreement_weights, gwet_from_counts
from brun_label.agreement.kappa import pairwise_cohen_kappa
from brun_label.agreement.percent import percent_agreement_from_counts
from brun_label.agreement.questions import QuestionData
from brun_label.agreement.reliability import (
    codes_and_domain,
    count_patterns,
    counts_from_codes,
    unit_patterns,
)

if TYPE_CHECKING:
    from brun_label.agreement.bootstrap import BootstrapCI

RELIABLE = 0.800
TENTATIVE = 0.667
_KAPPA_WEIGHTS = {"nominal": None, "ordinal": "linear", "interval": "quadratic", "ratio": "quadratic"}
_AC2_WEIGHTS = {"ordinal": "ordinal", "interval": "quadratic", "ratio": "quadratic"}


def clean(x: Any) -> Any:
    """Return ``x`` JSON-ready: NaN/inf → None, NumPy scalars → Python, recursively.

    >>> clean({"a": float("nan"), "b": [np.float64(1.5), np.int64(2)]})
    {'a': None, 'b': [1.5, 2]}
    """
    kind = type(x)
    if kind is str or kind is int or x is None:  # the common leaves, returned as they are
        return x
    if kind is dict:
        return {k if type(k) is str else str(k): clean(v) for k, v in x.items()}
    if isinstance(x, dict):
        return {str(k): clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [clean(v) for v in x]
    if isinstance(x, frozenset | set):
        return sorted(clean(v) for v in x)
    if isinstance(x, np.ndarray):
        return [clean(v) for v in x.tolist()]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        f = float(x)
        return None if not math.isfinite(f) else f
    return x


def verdict(alpha: float) -> str:
    """Return ``reliable``, ``tentative``, ``unreliable`` or ``undefined`` for an α.

    >>> verdict(0.81), verdict(0.7), verdict(0.2), verdict(float("nan"))
    ('reliable', 'tentative', 'unreliable', 'undefined')
    """
    if math.isnan(alpha):
        return "undefined"
    if alpha >= RELIABLE:
        return "reliable"
    if alpha >= TENTATIVE:
        return "tentative"
    return "unreliable"


def question_alpha(q: QuestionData, values: np.ndarray | None = None) -> float:
    """Return α of a question's human matrix, or of ``values`` (e.g. with a row removed or added)."""
    vals = q.values if values is None else values
    if q.distance == "masi":
        patterns, mult, delta = masi_patterns(vals)
        return alpha_from_counts(patterns, distances=delta, multiplicity=mult)
    return krippendorff_alpha(q.agreement_values(vals), level=q.level, value_domain=q.agreement_domain())


def alpha_without(q: QuestionData) -> list[float]:
    """α of the question without each human annotator in turn (NaN with two annotators or fewer).

    The matrix is coded once and each annotator's row is dropped from the codes, so this costs
    one coding plus one pattern count per annotator (the same numbers as :func:`question_alpha`
    on the matrix without that row: values nobody else gave only add empty columns).
    """
    n_ann = len(q.annotators)
    if n_ann <= 2:
        return [math.nan] * n_ann
    if q.distance == "masi":
        codes, domain = codes_and_domain(set_matrix(q.values))
        delta = masi_distances(list(domain))
        out = []
        for a in range(n_ann):
            patterns, mult = unit_patterns(np.delete(codes, a, axis=0), len(domain))
            out.append(alpha_from_counts(patterns, distances=delta, multiplicity=mult))
        return out
    codes, domain = codes_and_domain(q.agreement_values(), value_domain=q.agreement_domain())
    if q.level != "nominal" and domain.dtype.kind not in "iuf" and q.agreement_domain() is None:
        return [question_alpha(q, np.delete(q.values, a, axis=0)) for a in range(n_ann)]
    out = []
    for a in range(n_ann):
        patterns, mult = unit_patterns(np.delete(codes, a, axis=0), len(domain))
        out.append(alpha_from_counts(patterns, level=q.level, value_domain=domain, multiplicity=mult))
    return out


def question_alpha_ci(q: QuestionData, *, n_bootstrap: int, seed: int) -> BootstrapCI:
    """Return α of a question with its bootstrap interval over units."""
    from brun_label.agreement.bootstrap import bootstrap_alpha, bootstrap_alpha_counts

    if q.distance == "masi":
        patterns, mult, delta = masi_patterns(q.values)
        return bootstrap_alpha_counts(
            patterns, distances=delta, multiplicity=mult, n_resamples=n_bootstrap, seed=seed
        )
    return bootstrap_alpha(
        q.agreement_values(), level=q.level, value_domain=q.agreement_domain(),
        n_resamples=n_bootstrap, seed=seed,
    )


def category_counts(q: QuestionData) -> tuple[np.ndarray, np.ndarray]:
    """Units × categories counts of the human ratings, over every known category."""
    codes, domain = codes_and_domain(q.agreement_values(), value_domain=q.agreement_domain())
    return counts_from_codes(codes, len(domain)), domain


def _why_undefined(n_annotators: int, n_pairable: int, what: str) -> str:
    if n_annotators < 2:
        return f"{what}: undefined with fewer than two human annotators"
    if n_pairable == 0:
        return f"{what}: undefined, no unit was rated by two human annotators"
    return f"{what}: undefined, every rating is the same value (no variation to agree on)"


def question_metrics(q: QuestionData, *, n_bootstrap: int = 0, seed: int = 0) -> dict[str, Any]:
    """Return the summary block of one question (NaN where undefined; see :func:`clean`)."""
    notes: list[str] = []
    counts, domain = category_counts(q)
    pats, mult = count_patterns(counts)  # the count-based coefficients run on distinct unit patterns
    r = counts.sum(axis=1)
    n_pairable = int((r >= 2).sum())
    n_ann = len(q.annotators)
    if n_bootstrap > 0:
        ci = question_alpha_ci(q, n_bootstrap=n_bootstrap, seed=seed)
        alpha, ci_list = ci.estimate, [ci.low, ci.high]
    else:
        alpha, ci_list = question_alpha(q), None
    weights = _KAPPA_WEIGHTS[q.level] if q.distance != "masi" else None
    pair = pairwise_cohen_kappa(q.agreement_values(), weights=weights, labels=domain) if n_ann else np.zeros((0, 0))
    pairwise = {
        f"{q.annotators[i]}|{q.annotators[j]}": float(pair[i, j])
        for i in range(n_ann) for j in range(i + 1, n_ann)
    }
    out: dict[str, Any] = {
        "type": q.kind,
        "level": q.level,
        "level_source": q.level_source,
        "distance": q.distance,
        "n_units": q.n_units_rated,
        "n_pairable_units": n_pairable,
        "n_annotators": n_ann,
        "n_ratings": int(r.sum()),
        "krippendorff_alpha": alpha,
        "alpha_ci95": ci_list,
        "verdict": verdict(alpha),
        "percent_agreement": percent_agreement_from_counts(pats, multiplicity=mult),
        "fleiss_kappa": fleiss_kappa(pats, multiplicity=mult),
        "gwet_ac1": gwet_from_counts(pats, multiplicity=mult),
        "cohen_kappa_pairwise": pairwise,
        "cohen_weights": weights or "none",
    }
    if q.level in _AC2_WEIGHTS and domain.dtype.kind == "f" and len(domain) >= 2:
        out["gwet_ac2"] = gwet_from_counts(pats, weights=agreement_weights(_AC2_WEIGHTS[q.level], domain),
                                           multiplicity=mult)
        out["gwet_ac2_weights"] = _AC2_WEIGHTS[q.level]
    if q.kind == "flags":
        out["per_flag"] = per_flag_agreement(q.values, flags=q.domain)
    if q.level_source == "default":
        notes.append("level: nominal by default (no rubric or --level for this question)")
    for key, what in (("krippendorff_alpha", "krippendorff_alpha"), ("percent_agreement", "percent_agreement"),
                      ("fleiss_kappa", "fleiss_kappa"), ("gwet_ac1", "gwet_ac1")):
        if math.isnan(out[key]):
            notes.append(_why_undefined(n_ann, n_pairable, what))
    if ci_list is None:
        notes.append("alpha_ci95: not computed (use --bootstrap N)")
    elif any(math.isnan(x) for x in ci_list) and not math.isnan(alpha):
        notes.append("alpha_ci95: undefined in every resample")
    bad_pairs = [k for k, v in pairwise.items() if math.isnan(v)]
    if bad_pairs:
        notes.append(
            f"cohen_kappa_pairwise: undefined for {len(bad_pairs)} pair(s) with no shared units or one value "
            f"({', '.join(bad_pairs[:3])}{'…' if len(bad_pairs) > 3 else ''})"
        )
    if (not math.isnan(out["percent_agreement"]) and out["percent_agreement"] >= 0.9
            and (math.isnan(alpha) or alpha < TENTATIVE)):
        notes.append(
            "high raw agreement but low or undefined α: most ratings share one value (the prevalence "
            f"paradox); AC1 = {out['gwet_ac1']:.3f} is the more telling number here"
        )
    if n_ann and np.unique(r[r > 0]).size > 1:
        notes.append("fleiss_kappa: units have uneven numbers of ratings (Gwet's generalisation used)")
    out["notes"] = notes
    return out
