"""Agreement on multi-label flags: per flag (each a yes/no question) and over whole sets (MASI).

Pure core. A flags answer is a set of labels (``[]`` when the annotator ticked nothing); a
missing answer is ``None``/``NaN``. Two views, both useful:

* **per flag**: flag f becomes a binary question (ticked or not) on the units the annotator
  answered, and gets its own nominal α, percent agreement and AC1. Rare flags are where the
  prevalence paradox bites hardest, which is why AC1 sits next to α.
* **over sets**: α with the MASI distance (:func:`~brun_label.agreement.distances.masi_distance`)
  as the difference function, so {a, b} vs {a} counts as a partial disagreement.

Edge cases follow α's: ``NaN`` when nobody ever ticks (or everybody always ticks) a flag, or
when every answer is the same set.

Examples
--------
>>> data = [[["a"], [], ["a", "b"], ["b"]],
...         [["a"], [], ["a"], ["b"]],
...         [["a"], ["b"], ["a", "b"], None]]
>>> round(masi_alpha(data), 4)
0.5763
>>> {f: round(v["krippendorff_alpha"], 4) for f, v in per_flag_agreement(data).items()}
{'a': 1.0, 'b': 0.3333}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.alpha import alpha_from_counts, krippendorff_alpha
from brun_label.agreement.distances import masi_distances
from brun_label.agreement.gwet import gwet_ac1
from brun_label.agreement.percent import percent_agreement
from brun_label.agreement.reliability import codes_and_domain, unit_patterns


def _is_missing(cell: Any) -> bool:
    if cell is None:
        return True
    return bool(isinstance(cell, float) and np.isnan(cell))


def set_matrix(reliability_data: Any) -> np.ndarray:
    """Return annotators × units data as an object array of ``frozenset`` (``None`` missing).

    >>> m = set_matrix([[["b", "a"], None]])
    >>> m[0, 0] == frozenset({"a", "b"}), m[0, 1] is None
    (True, True)
    >>> set_matrix([["a"]])
    Traceback (most recent call last):
    ...
    ValueError: a flags answer must be a list of labels, got 'a' (annotator 0, unit 0)
    """
    if (
        isinstance(reliability_data, np.ndarray) and reliability_data.ndim == 2
        and all(v is None or type(v) is frozenset for v in reliability_data.ravel())
    ):
        return reliability_data  # already sets (the summary's matrices)
    if isinstance(reliability_data, pd.DataFrame):
        rows: Sequence[Sequence[Any]] = reliability_data.to_numpy().tolist()
    else:
        rows = list(reliability_data)
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise ValueError("reliability_data rows must all have the same length")
    out = np.empty((len(rows), widths.pop() if widths else 0), dtype=object)
    for a, row in enumerate(rows):
        for u, cell in enumerate(row):
            if _is_missing(cell):
                out[a, u] = None
            elif isinstance(cell, str) or not isinstance(cell, Iterable):
                raise ValueError(
                    f"a flags answer must be a list of labels, got {cell!r} (annotator {a}, unit {u})"
                )
            else:
                out[a, u] = frozenset(str(x) for x in cell)
    return out


def masi_patterns(reliability_data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(patterns, multiplicity, distances)`` for α over sets with the MASI distance."""
    sets = set_matrix(reliability_data)
    codes, domain = codes_and_domain(sets)
    patterns, multiplicity = unit_patterns(codes, len(domain))
    return patterns, multiplicity, masi_distances(list(domain))


def masi_alpha(reliability_data: Any) -> float:
    """Return Krippendorff's α over label sets with the MASI distance (``NaN`` when undefined)."""
    patterns, multiplicity, delta = masi_patterns(reliability_data)
    return alpha_from_counts(patterns, distances=delta, multiplicity=multiplicity)


def flag_matrix(reliability_data: Any, flag: str) -> np.ndarray:
    """Return the 0/1 (``NaN`` missing) annotators × units matrix of one flag.

    >>> flag_matrix([[["a"], [], None]], "a").tolist()
    [[1.0, 0.0, nan]]
    """
    sets = set_matrix(reliability_data)
    return _flag_matrix(sets, flag)


def _flag_matrix(sets: np.ndarray, flag: str) -> np.ndarray:
    out = np.full(sets.shape, np.nan)
    for idx, cell in np.ndenumerate(sets):
        if cell is not None:
            out[idx] = 1.0 if flag in cell else 0.0
    return out


def per_flag_agreement(
    reliability_data: Any, *, flags: Iterable[str] | None = None
) -> dict[str, dict[str, float]]:
    """Return, per flag, its binary α, percent agreement, AC1 and prevalence.

    ``flags`` lists every possible flag (e.g. the rubric's options); by default the flags that
    occur. ``prevalence`` is the share of answers that tick the flag.
    """
    sets = set_matrix(reliability_data)
    seen = sorted({f for cell in sets.ravel() if cell is not None for f in cell})
    names = list(flags) if flags is not None else seen
    out: dict[str, dict[str, float]] = {}
    for flag in names:
        binary = _flag_matrix(sets, flag)
        answered = ~np.isnan(binary)
        prevalence = float(binary[answered].mean()) if answered.any() else float("nan")
        out[flag] = {
            "krippendorff_alpha": krippendorff_alpha(binary, level="nominal", value_domain=[0.0, 1.0]),
            "percent_agreement": percent_agreement(binary),
            "gwet_ac1": gwet_ac1(binary, categories=[0.0, 1.0]),
            "prevalence": prevalence,
        }
    return out
