"""Published worked examples and random rating matrices shared by the agreement tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from brun_label.table import make_table

NAN = float("nan")

#: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 coders ×
#: 12 units with missing values (also Gwet 2014's four-rater example, irrCAC ``raw_4raters``).
KRIPPENDORFF_C = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def random_ratings(
    rng: np.random.Generator,
    n_annotators: int,
    n_units: int,
    n_values: int,
    missing: float,
    noise: int = 1,
) -> np.ndarray:
    """Annotators × units ratings 1..n_values around a per-unit truth, with NaN holes."""
    truth = rng.integers(1, n_values + 1, n_units)
    data = np.clip(truth + rng.integers(-noise, noise + 1, (n_annotators, n_units)), 1, n_values)
    data = data.astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


FLAGS = ["admits_fault", "promises_compensation", "speculates_cause", "blames_customer"]


def synthetic_table(
    rng: np.random.Generator,
    n_items: int = 60,
    annotators: tuple[str, ...] = ("ann1", "ann2", "ann3"),
    *,
    drifter: str | None = None,
    spammer: str | None = None,
    judge: str | None = "judge:gpt-4o",
    missing: float = 0.0,
) -> pd.DataFrame:
    """A de-escalation annotation table: tone_zone and liability_flags per candidate, a
    preference and a free-text rationale per item. ``drifter`` rates one step higher than the
    truth, ``spammer`` answers at random; the judge is right 80% of the time."""
    rows: list[dict[str, Any]] = []
    raters = list(annotators) + ([judge] if judge else [])
    for i in range(n_items):
        item = f"s{i:03d}"
        cands = [f"c{i:03d}a", f"c{i:03d}b"]
        tone_truth = {c: int(rng.choice([-2, -1, 0, 0, 0, 1, 2])) for c in cands}
        flag_truth = {c: {f for f in FLAGS if rng.random() < 0.2} for c in cands}
        better = cands[0] if abs(tone_truth[cands[0]]) <= abs(tone_truth[cands[1]]) else cands[1]
        pref_truth = "tie" if tone_truth[cands[0]] == tone_truth[cands[1]] else better
        for ann in raters:
            if ann != judge and rng.random() < missing:
                continue
            for c in cands:
                tone = tone_truth[c]
                if ann == spammer:
                    tone = int(rng.integers(-2, 3))
                elif ann == drifter:
                    tone = min(tone + 1, 2)
                elif ann == judge:
                    tone = tone if rng.random() < 0.8 else int(np.clip(tone + rng.choice([-1, 1]), -2, 2))
                elif rng.random() < 0.1:
                    tone = int(np.clip(tone + rng.choice([-1, 1]), -2, 2))
                flags = set(flag_truth[c])
                if ann == spammer:
                    flags = {f for f in FLAGS if rng.random() < 0.3}
                elif rng.random() < 0.1:
                    flags ^= {str(rng.choice(FLAGS))}
                rows.append({"item_id": item, "candidate_id": c, "question": "tone_zone", "annotator": ann, "value": tone})
                rows.append({"item_id": item, "candidate_id": c, "question": "liability_flags", "annotator": ann,
                             "value": sorted(flags)})
            pref = pref_truth
            if ann == spammer:
                pref = str(rng.choice([*cands, "tie", "both_bad"]))
            elif rng.random() < 0.1:
                pref = str(rng.choice([*cands, "tie"]))
            rows.append({"item_id": item, "candidate_id": "", "question": "preference", "annotator": ann, "value": pref})
            if ann != judge:
                rows.append({"item_id": item, "candidate_id": "", "question": "rationale", "annotator": ann,
                             "value": "looks fine"})
    return make_table(rows)


def package_alpha(*args: Any, **kwargs: Any) -> float:
    """``krippendorff.alpha`` (the GPL oracle, test-only) with a plain ``str`` level accepted."""
    import krippendorff

    return float(krippendorff.alpha(*args, **kwargs))
