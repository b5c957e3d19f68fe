"""summarize(): the JSON contract, consistency with the coefficient functions, edge cases."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from brun_label.agreement.alpha import krippendorff_alpha
from brun_label.agreement.flags import masi_alpha
from brun_label.agreement.fleiss import fleiss_kappa
from brun_label.agreement.gwet import gwet_ac1
from brun_label.agreement.kappa import cohen_kappa
from brun_label.agreement.questions import split_questions
from brun_label.agreement.reliability import value_counts
from brun_label.agreement.summary import summarize
from brun_label.rubrics import load_rubric
from brun_label.table import make_table
from tests.agreement.examples import synthetic_table

RUBRIC = load_rubric("de-escalation")
CONTRACT = (
    "level", "n_units", "n_annotators", "n_ratings", "krippendorff_alpha", "alpha_ci95",
    "percent_agreement", "fleiss_kappa", "gwet_ac1", "cohen_kappa_pairwise",
)


def _strict_json(obj: object) -> str:
    return json.dumps(obj, allow_nan=False)


def test_contract_and_strict_json(rng: np.random.Generator) -> None:
    s = summarize(synthetic_table(rng, 40, missing=0.2), rubric=RUBRIC, n_bootstrap=300, seed=4)
    _strict_json(s)
    assert set(s) >= {"questions", "annotators", "low_agreement_units", "judge", "notes"}
    assert list(s["questions"]) == ["tone_zone", "liability_flags", "preference"]
    for q in s["questions"].values():
        for key in CONTRACT:
            assert key in q
        lo, hi = q["alpha_ci95"]
        assert lo <= q["krippendorff_alpha"] <= hi
        assert isinstance(q["notes"], list)
    assert set(s["questions"]["liability_flags"]["per_flag"]) == {
        "admits_fault", "promises_compensation", "speculates_cause", "blames_customer", "legal_commitment",
        "discloses_private_data",
    }
    assert any("rationale" in n for n in s["notes"])


def test_numbers_equal_the_coefficient_functions(rng: np.random.Generator) -> None:
    table = synthetic_table(rng, 50, ("ann1", "ann2", "ann3", "ann4"), missing=0.25)
    s = summarize(table, rubric=RUBRIC)
    qs, _ = split_questions(table, rubric=RUBRIC)
    tone = qs["tone_zone"]
    out = s["questions"]["tone_zone"]
    assert out["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(tone.values, level="ordinal"), abs=1e-12)
    counts, _ = value_counts(tone.values, value_domain=[-2, -1, 0, 1, 2])
    assert out["fleiss_kappa"] == pytest.approx(fleiss_kappa(counts), abs=1e-12)
    assert out["gwet_ac1"] == pytest.approx(gwet_ac1(tone.values, categories=[-2, -1, 0, 1, 2]), abs=1e-12)
    a, b = tone.values[0], tone.values[2]
    assert out["cohen_kappa_pairwise"]["ann1|ann3"] == pytest.approx(
        cohen_kappa(a, b, weights="linear", labels=[-2, -1, 0, 1, 2]), abs=1e-12
    )
    assert out["n_ratings"] == int((~np.isnan(tone.values)).sum())
    flags = qs["liability_flags"]
    assert s["questions"]["liability_flags"]["krippendorff_alpha"] == pytest.approx(masi_alpha(flags.values), abs=1e-12)
    pref = qs["preference"]
    coded = pref.agreement_values()
    assert s["questions"]["preference"]["krippendorff_alpha"] == pytest.approx(krippendorff_alpha(coded), abs=1e-12)


def test_preference_alpha_is_computed_on_positions_not_ids() -> None:
    rows: list[dict[str, Any]] = []
    for u in range(30):
        for a in ("ann1", "ann2"):
            rows.append({"item_id": f"s{u}", "candidate_id": "", "question": "preference", "annotator": a,
                         "value": f"c{u}x" if (u + (a == "ann2")) % 3 else f"c{u}y"})
        rows += [{"item_id": f"s{u}", "candidate_id": c, "question": "tone_zone", "annotator": "ann1", "value": 0}
                 for c in (f"c{u}x", f"c{u}y")]
    s = summarize(make_table(rows), rubric=RUBRIC)
    raw_ids = [[r["value"] for r in rows if r["annotator"] == a and r["question"] == "preference"] for a in ("ann1", "ann2")]
    assert s["questions"]["preference"]["krippendorff_alpha"] < krippendorff_alpha(raw_ids) - 0.1


def test_level_precedence_and_default_note() -> None:
    rows = [{"item_id": f"s{u}", "candidate_id": "c", "question": q, "annotator": a, "value": (u + i) % 3}
            for u in range(10) for i, a in enumerate(("ann1", "ann2")) for q in ("tone_zone", "custom")]
    s = summarize(make_table(rows), rubric=RUBRIC, levels={"tone_zone": "interval"})
    assert (s["questions"]["tone_zone"]["level"], s["questions"]["tone_zone"]["level_source"]) == ("interval", "option")
    assert (s["questions"]["custom"]["level"], s["questions"]["custom"]["level_source"]) == ("nominal", "default")
    assert any("nominal by default" in n for n in s["questions"]["custom"]["notes"])
    assert s["questions"]["tone_zone"]["cohen_weights"] == "quadratic"


def test_single_value_everywhere_gives_nulls_with_reasons() -> None:
    rows = [{"item_id": f"s{u}", "candidate_id": "c", "question": "tone_zone", "annotator": a, "value": 0}
            for u in range(20) for a in ("ann1", "ann2", "ann3")]
    s = summarize(make_table(rows), rubric=RUBRIC, n_bootstrap=100)
    q = s["questions"]["tone_zone"]
    _strict_json(s)
    assert q["krippendorff_alpha"] is None and q["fleiss_kappa"] is None and q["alpha_ci95"] == [None, None]
    assert q["verdict"] == "undefined"
    assert q["gwet_ac1"] == 1.0 and q["percent_agreement"] == 1.0
    assert any("same value" in n for n in q["notes"])
    assert any("prevalence paradox" in n for n in q["notes"])
    assert all(v is None for v in q["cohen_kappa_pairwise"].values())


def test_one_annotator_and_judge_only_questions() -> None:
    rows = [{"item_id": f"s{u}", "candidate_id": "c", "question": "tone_zone", "annotator": "ann1", "value": u % 3}
            for u in range(5)]
    rows += [{"item_id": "s0", "candidate_id": "c", "question": "other", "annotator": "judge:x", "value": 1}]
    s = summarize(make_table(rows), rubric=RUBRIC)
    q = s["questions"]["tone_zone"]
    assert q["krippendorff_alpha"] is None and q["n_annotators"] == 1
    assert any("fewer than two human annotators" in n for n in q["notes"])
    assert "other" not in s["questions"]
    assert any("only judge ratings" in n for n in s["notes"])


def test_bootstrap_is_seeded(rng: np.random.Generator) -> None:
    table = synthetic_table(rng, 30)
    a = summarize(table, rubric=RUBRIC, n_bootstrap=200, seed=1)
    b = summarize(table, rubric=RUBRIC, n_bootstrap=200, seed=1)
    c = summarize(table, rubric=RUBRIC, n_bootstrap=200, seed=2)
    assert a == b
    assert a["questions"]["tone_zone"]["alpha_ci95"] != c["questions"]["tone_zone"]["alpha_ci95"]


def test_low_agreement_units_are_capped_with_a_note(rng: np.random.Generator) -> None:
    table = synthetic_table(rng, 60, ("ann1", "ann2", "spam"), spammer="spam")
    full = summarize(table, rubric=RUBRIC, max_low_units=None)
    capped = summarize(table, rubric=RUBRIC, max_low_units=5)
    assert full["n_low_agreement_units"] == capped["n_low_agreement_units"] == len(full["low_agreement_units"]) > 5
    assert capped["low_agreement_units"] == full["low_agreement_units"][:5]
    assert any("most contested" in n for n in capped["notes"])
    supports = [e["support"] for e in full["low_agreement_units"]]
    assert supports == sorted(supports)


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="n_bootstrap"):
        summarize(make_table([{"item_id": "s", "question": "q", "annotator": "a", "value": 1}]), n_bootstrap=-1)


def test_preference_consensus_scales_to_many_candidate_ids() -> None:
    """Regression: voting on raw ids built a units × ids matrix and failed past ~N units.

    Preferences are coded as positions among the item's (sorted) candidates, so α equals the
    krippendorff package's nominal α on those position codes.
    """
    import krippendorff

    rng = np.random.default_rng(7)
    rows, codes = [], []
    for i in range(3000):
        cands = [f"c{i}a", f"c{i}b"]
        pick = int(rng.integers(2))
        col = []
        for ann in ("x", "y", "z"):
            k = pick if ann != "z" else int(rng.integers(2))
            col.append(k)
            rows.append({"item_id": f"s{i}", "candidate_id": "", "question": "preference",
                         "annotator": ann, "value": cands[k]})
            for c in cands:
                rows.append({"item_id": f"s{i}", "candidate_id": c, "question": "tone_zone",
                             "annotator": ann, "value": 0})
        codes.append(col)
    out = summarize(pd.DataFrame(rows), rubric=load_rubric("de-escalation"))
    expected = krippendorff.alpha(np.array(codes, dtype=float).T, level_of_measurement="nominal")
    assert out["questions"]["preference"]["n_units"] == 3000
    assert out["questions"]["preference"]["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_without_each_annotator_matches_alpha_on_the_matrix_without_them(level: str) -> None:
    from brun_label.agreement.metrics import alpha_without, question_alpha
    from brun_label.agreement.questions import split_questions

    rng = np.random.default_rng(5)
    rows = [{"item_id": f"s{u}", "candidate_id": "c", "question": "q", "annotator": f"a{a}",
             "value": int(rng.integers(1, 6)) + (a == 3) * 7}  # a3 alone uses values 8..12
            for u in range(40) for a in range(4) if rng.random() < 0.85]
    rows += [{"item_id": f"s{u}", "candidate_id": "c", "question": "f", "annotator": f"a{a}",
              "value": sorted({"x", "y", "z"} & {str(rng.choice(["x", "y", "z", "w"]))})}
             for u in range(40) for a in range(4)]
    qs, _ = split_questions(make_table(rows), levels={"q": level})
    for q in qs.values():
        expected = [question_alpha(q, np.delete(q.values, a, axis=0)) for a in range(len(q.annotators))]
        assert np.allclose(alpha_without(q), expected, atol=1e-12, equal_nan=True)
