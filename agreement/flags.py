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

import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from brun_label.agreement.alpha import alpha_from_counts
from brun_label.agreement.distances import masi_distances
from brun_label.agreement.gwet import gwet_from_counts
from brun_label.agreement.percent import percent_agreement_from_counts
from brun_label.agreement.reliability import codes_and_domain, count_patterns, unit_patterns
from brun_label.table import factorize_objects


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
    if isinstance(reliability_data, np.ndarray) and reliability_data.ndim == 2 and reliability_data.dtype == object:
        try:
            distinct = _distinct_sets(reliability_data)[1]  # each distinct cell checked once
        except TypeError:  # unhashable cells (lists): convert below
            distinct = None
        if distinct is not None and all(type(v) is frozenset for v in distinct):
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
    bits, answered = set_bits(sets, [flag])
    return np.where(answered, bits[0].astype(np.float64), np.nan)


def _distinct_sets(sets: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes (-1: missing) and the distinct cells of an object matrix of sets, each hashed once.

    A read-only matrix (the agreement summary's question matrices are) is coded once: later calls
    with the same array return a copy of the first result.
    """
    hit = _SETS.get(id(sets)) if not sets.flags.writeable else None
    if hit is not None and hit[0]() is sets:
        return hit[1].copy(), list(hit[2])
    flat_codes, uniques = factorize_objects(sets)
    codes = flat_codes.reshape(sets.shape)
    if not sets.flags.writeable:
        _SETS[id(sets)] = (weakref.ref(sets), codes.copy(), list(uniques))
        weakref.finalize(sets, _SETS.pop, id(sets), None)
    return codes, uniques


#: ``id(array) -> (weak reference to the array, codes, distinct cells)`` for read-only set matrices.
_SETS: dict[int, tuple[Any, np.ndarray, list[Any]]] = {}


def flag_names(sets: np.ndarray) -> list[str]:
    """The flags that occur in an object matrix of sets (``None`` missing), sorted.

    >>> flag_names(np.array([[frozenset({"b"}), None], [frozenset({"a", "b"}), frozenset()]], dtype=object))
    ['a', 'b']
    """
    if sets.size == 0:
        return []
    return sorted({f for cell in _distinct_sets(sets)[1] for f in cell})


def set_bits(sets: np.ndarray, flags: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(bits, answered)`` of an annotators × units object matrix of sets (``None`` missing).

    ``bits[f, a, u]`` says whether cell ``(a, u)`` holds ``flags[f]`` (flags not listed are
    ignored), ``answered[a, u]`` whether the cell is not missing. Each distinct set is read once.

    >>> bits, answered = set_bits(np.array([[frozenset({"a"}), None, frozenset({"a", "b"})]], dtype=object),
    ...                           ["a", "b"])
    >>> bits.astype(int).tolist(), answered.tolist()
    ([[[1, 0, 1]], [[0, 0, 1]]], [[True, False, True]])
    """
    if sets.size == 0:
        return np.zeros((len(flags), *sets.shape), dtype=bool), np.zeros(sets.shape, dtype=bool)
    codes, uniques = _distinct_sets(sets)
    pos = {f: i for i, f in enumerate(flags)}
    table = np.zeros((len(flags), len(uniques) + 1), dtype=bool)  # the last column: missing cells
    for k, cell in enumerate(uniques):
        for f in cell:
            if f in pos:
                table[pos[f], k] = True
    slot = np.where(codes >= 0, codes, len(uniques))
    return table[:, slot], codes >= 0


def per_flag_agreement(
    reliability_data: Any, *, flags: Iterable[str] | None = None
) -> dict[str, dict[str, float]]:
    """Return, per flag, its binary α, percent agreement, AC1 and prevalence.

    ``flags`` lists every possible flag (e.g. the rubric's options); by default the flags that
    occur. ``prevalence`` is the share of answers that tick the flag.
    """
    sets = set_matrix(reliability_data)
    names = list(flags) if flags is not None else flag_names(sets)
    bits, answered_cells = set_bits(sets, names)
    n_answered = answered_cells.sum(axis=0)
    out: dict[str, dict[str, float]] = {}
    for f, flag in enumerate(names):
        # A flag is a binary question: its units × {0, 1} counts are all the coefficients need.
        ticks = bits[f].sum(axis=0)
        pats, mult = count_patterns(np.stack([n_answered - ticks, ticks], axis=1))
        total = int(n_answered.sum())
        out[flag] = {
            "krippendorff_alpha": alpha_from_counts(pats, level="nominal", value_domain=[0.0, 1.0],
                                                    multiplicity=mult),
            "percent_agreement": percent_agreement_from_counts(pats, multiplicity=mult),
            "gwet_ac1": gwet_from_counts(pats, multiplicity=mult),
            "prevalence": float(ticks.sum()) / total if total else float("nan"),
        }
    return out
