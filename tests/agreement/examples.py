"""Published worked examples and random rating matrices shared by the agreement tests."""

from __future__ import annotations

import numpy as np

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
