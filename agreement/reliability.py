"""Reliability data → value counts: the one reshaping step every coefficient starts from.

Pure core. *Reliability data* is an annotators × units matrix (the convention of the
``krippendorff`` package): row ``a`` holds annotator ``a``'s value for every unit, and a missing
rating is ``NaN`` (or ``None`` in an object array, or the string ``"nan"`` in a string array,
which is what ``numpy.asarray`` turns ``NaN`` into next to strings).

*Value counts* is the units × values matrix ``counts[u, v]`` = how many annotators gave value
``domain[v]`` to unit ``u``. Every coefficient in :mod:`brun_label.agreement` is a function of
the value counts (and, for weighted ones, of the domain), so the reshaping is done once, here,
with ``numpy.bincount`` rather than a units × annotators × values comparison.

Examples
--------
>>> counts, domain = value_counts([[1, 2, float("nan")], [1, 3, 3]])
>>> domain.tolist()
[1.0, 2.0, 3.0]
>>> counts.tolist()
[[2, 0, 0], [0, 1, 1], [0, 0, 1]]
>>> counts, domain = value_counts([["a", None], ["b", "a"]])
>>> domain.tolist(), counts.tolist()
(['a', 'b'], [[1, 1], [1, 0]])
>>> value_counts([[1, 2]], value_domain=[1, 3])
Traceback (most recent call last):
...
ValueError: reliability_data holds values outside value_domain: 2.0
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from brun_label.table import factorize_objects

#: Above this many distinct integer slots the integer fast path falls back to sorting.
_MAX_INT_SPAN = 1 << 20
#: Largest units × values count matrix built (dense int64: 8 bytes a cell, so 1.6 GB).
_MAX_COUNT_CELLS = 200_000_000


def as_matrix(reliability_data: Any) -> np.ndarray:
    """Return the reliability data as a 2-D array (annotators × units), checking its shape.

    >>> as_matrix([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> as_matrix([1, 2])
    Traceback (most recent call last):
    ...
    ValueError: reliability_data must be 2-D (annotators × units), got 1-D
    """
    arr: np.ndarray
    if isinstance(reliability_data, pd.DataFrame):
        arr = reliability_data.to_numpy()
    else:
        arr = np.asarray(reliability_data)
        if arr.dtype.kind == "O" and arr.ndim != 2:
            # Ragged rows, or cells holding sequences (e.g. flag lists): rebuild cell by cell.
            rows = list(reliability_data)
            width = {len(r) for r in rows}
            if len(width) > 1:
                raise ValueError("reliability_data rows must all have the same length")
            arr = np.empty((len(rows), width.pop() if width else 0), dtype=object)
            for i, row in enumerate(rows):
                for j, cell in enumerate(row):
                    arr[i, j] = cell
    if arr.ndim != 2:
        raise ValueError(f"reliability_data must be 2-D (annotators × units), got {arr.ndim}-D")
    return arr


def missing_mask(arr: np.ndarray) -> np.ndarray:
    """Return a boolean mask of the missing cells of a reliability matrix.

    >>> missing_mask(np.array([[1.0, np.nan]])).tolist()
    [[False, True]]
    >>> missing_mask(np.array([["a", "nan"]])).tolist()
    [[False, True]]
    """
    kind = arr.dtype.kind
    if kind == "f":
        return np.isnan(arr)
    if kind in "iub":
        return np.zeros(arr.shape, dtype=bool)
    if kind in "US":
        return (arr == "nan") | (arr == "")
    if not arr.size:
        return np.zeros(arr.shape, dtype=bool)
    if arr.flags.writeable:
        return np.asarray(pd.isna(arr), dtype=bool)
    # A read-only object matrix (the summary's question matrices) is tested once: every
    # coefficient asks which of its cells are missing.
    hit = _MISSING.get(id(arr))
    if hit is None or hit[0]() is not arr:
        hit = (weakref.ref(arr), np.asarray(pd.isna(arr), dtype=bool))
        _MISSING[id(arr)] = hit
        weakref.finalize(arr, _MISSING.pop, id(arr), None)
    return hit[1].copy()


#: ``id(array) -> (weak reference to the array, its missing cells)`` for read-only object arrays.
_MISSING: dict[int, tuple[Any, np.ndarray]] = {}


def _hashable(value: Any) -> Any:
    if isinstance(value, list | set):
        return frozenset(value)
    return value


def _sorted_if_possible(values: np.ndarray) -> np.ndarray:
    if values.size and all(isinstance(v, frozenset) for v in values):
        # Sets compare by inclusion, which is not a total order: sort by size, then members.
        keys = [(len(v), sorted(map(str, v))) for v in values]
        by_key = sorted(range(len(keys)), key=keys.__getitem__)
        return values[np.asarray(by_key, dtype=np.intp)]
    try:
        order = np.argsort(values, kind="stable")
    except TypeError:
        return values
    return values[order]


def codes_and_domain(
    reliability_data: Any, *, value_domain: npt.ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(codes, domain)``: ``codes[a, u]`` indexes ``domain``, ``-1`` where missing.

    Without ``value_domain`` the domain is the sorted distinct values that occur (in order of
    first appearance when they cannot be sorted, e.g. sets). With it, the domain is exactly
    ``value_domain`` in its given order (it sets the order of an ordinal scale), and a value
    outside it raises ``ValueError``.

    >>> codes, domain = codes_and_domain([[3, 1, float("nan")]])
    >>> codes.tolist(), domain.tolist()
    ([[1, 0, -1]], [1.0, 3.0])

    A read-only array (the agreement summary's question matrices are) is coded once: later calls
    with the same array and domain return copies of the first result.
    """
    key = _cache_key(reliability_data, value_domain)
    if key is not None:
        hit = _CODES.get(key)
        if hit is not None and hit[0]() is reliability_data:
            return hit[1].copy(), hit[2].copy()
    codes, domain = _codes_and_domain(reliability_data, value_domain)
    if key is not None:
        _CODES[key] = (weakref.ref(reliability_data), codes.copy(), domain.copy())
        weakref.finalize(reliability_data, _CODES.pop, key, None)
    return codes, domain


#: ``(id(array), domain key) -> (weak reference to the array, codes, domain)`` for read-only arrays.
_CODES: dict[tuple[int, Any], tuple[Any, np.ndarray, np.ndarray]] = {}


def _cache_key(data: Any, value_domain: Any) -> tuple[int, Any] | None:
    if not isinstance(data, np.ndarray) or data.flags.writeable or data.ndim != 2:
        return None
    try:
        dom = None if value_domain is None else tuple(np.asarray(value_domain).tolist())
        hash(dom)
    except TypeError:
        return None
    return id(data), dom


def _codes_and_domain(reliability_data: Any, value_domain: npt.ArrayLike | None) -> tuple[np.ndarray, np.ndarray]:
    arr = as_matrix(reliability_data)
    kind = arr.dtype.kind
    if kind in "iufb":
        codes, domain = _numeric_codes(arr.astype(np.float64, copy=False))
    else:
        flat: np.ndarray = arr.ravel()
        if kind == "O":
            work = flat  # factorize's missing cells are pd.isna's (None, NaN, NaT, NA): code -1
        else:  # text: "nan" and "" are missing too
            work = flat.astype(object)
            work[missing_mask(arr).ravel()] = None
        # pandas' hash-table factorize (each distinct object once): O(n), None/NaN -> code -1.
        try:
            flat_codes, found = factorize_objects(work)
        except TypeError:  # unhashable cells (lists, sets): compare them as frozensets
            work = np.array([_hashable(v) for v in work], dtype=object)
            flat_codes, found = factorize_objects(work)
        uniques = np.fromiter(found, dtype=object, count=len(found))  # a tuple value stays one cell
        if _all_numbers(uniques):
            uniques = uniques.astype(np.float64)
        ordered = _sorted_if_possible(uniques)
        if ordered is not uniques:
            remap = pd.Index(ordered).get_indexer(uniques)
            flat_codes = np.where(flat_codes >= 0, remap[np.maximum(flat_codes, 0)], -1)
        codes = flat_codes.reshape(arr.shape).astype(np.intp, copy=False)
        domain = ordered
    if value_domain is not None:
        codes, domain = _apply_domain(codes, domain, value_domain)
    return codes, domain


def _all_numbers(values: np.ndarray) -> bool:
    return bool(values.size) and all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        for v in values
    )


def _numeric_codes(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes for a float matrix: a linear-time path for small integer scales, else sorting."""
    if arr.size == 0:
        return np.full(arr.shape, -1, dtype=np.intp), np.empty(0, dtype=np.float64)
    lo = float(np.fmin.reduce(arr, axis=None))  # fmin/fmax skip NaN without copying
    hi = float(np.fmax.reduce(arr, axis=None))
    if np.isnan(lo):
        return np.full(arr.shape, -1, dtype=np.intp), np.empty(0, dtype=np.float64)
    if np.isinf(lo) or np.isinf(hi):
        raise ValueError("reliability_data holds infinite values")
    mask = np.isnan(arr)
    span = hi - lo
    if span < _MAX_INT_SPAN and span <= 4 * arr.size + 16:
        shifted = arr - lo
        with np.errstate(invalid="ignore"):
            as_int = shifted.astype(np.intp)
        if bool(np.all((as_int == shifted) | mask)):
            # Integer-valued scale (the common case): codes are offsets into a lookup table,
            # compressed to the values that occur; the table's last slot (-1) stays missing.
            top = int(span) + 1
            as_int[mask] = top
            present = np.bincount(as_int.ravel(), minlength=top + 1)[:top] > 0
            remap = np.empty(top + 1, dtype=np.intp)
            remap[:top] = np.cumsum(present) - 1
            remap[top] = -1
            domain = np.flatnonzero(present).astype(np.float64) + lo
            return remap[as_int], domain
    filled = np.where(mask, lo, arr)
    domain, inverse = np.unique(filled, return_inverse=True)
    codes = np.where(mask, -1, inverse.reshape(arr.shape))
    return codes, domain


def _apply_domain(
    codes: np.ndarray, domain: np.ndarray, value_domain: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    target = np.asarray(value_domain)
    if target.ndim != 1:
        raise ValueError("value_domain must be a 1-D list of values")
    if target.dtype.kind in "iufb" or (target.dtype.kind == "O" and _all_numbers(target)):
        target = target.astype(np.float64)
    if len(pd.unique(pd.Series(target, dtype=object))) != len(target):
        raise ValueError("value_domain values must be unique")
    if domain.size and domain.dtype.kind == "f" and target.dtype.kind != "f":
        raise ValueError("value_domain holds labels but reliability_data holds numbers")
    idx = pd.Index(target).get_indexer(pd.Index(domain)) if domain.size else np.empty(0, np.intp)
    if (idx < 0).any():
        bad = domain[np.flatnonzero(idx < 0)[0]]
        raise ValueError(f"reliability_data holds values outside value_domain: {bad}")
    new_codes = np.where(codes >= 0, idx[np.maximum(codes, 0)] if idx.size else -1, -1)
    return new_codes.astype(np.intp, copy=False), target


def counts_from_codes(codes: np.ndarray, n_values: int) -> np.ndarray:
    """Return the units × values count matrix of a codes matrix (annotators × units, -1 missing).

    >>> counts_from_codes(np.array([[0, 1, -1], [0, 0, 1]]), 2).tolist()
    [[2, 0], [1, 1], [0, 1]]
    """
    n_units = codes.shape[1]
    if n_units == 0 or n_values == 0:
        return np.zeros((n_units, n_values), dtype=np.int64)
    if n_units * n_values > _MAX_COUNT_CELLS:
        raise ValueError(
            f"{n_values} distinct values over {n_units} units is too many for a units × values "
            "count matrix; agreement is meant for rating scales (round continuous values first)"
        )
    width = n_values + 1
    # Missing (-1) goes to an extra last column that is dropped: no boolean indexing needed.
    slot = np.where(codes < 0, n_values, codes) + np.arange(n_units, dtype=np.intp) * width
    counts = np.bincount(slot.ravel(), minlength=n_units * width).reshape(n_units, width)
    return counts[:, :n_values]


def value_counts(
    reliability_data: Any, *, value_domain: npt.ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(counts, domain)`` for annotators × units reliability data.

    ``counts`` is units × values (``int64``), ``domain`` the values in column order.
    """
    codes, domain = codes_and_domain(reliability_data, value_domain=value_domain)
    return counts_from_codes(codes, len(domain)), domain


def unit_patterns(codes: np.ndarray, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Group units by their value counts: return ``(patterns, multiplicity)``.

    ``patterns`` is P × V (the distinct rows of the count matrix) and ``multiplicity[p]`` how
    many units have pattern p. Every coefficient here is a sum over units of a function of the
    unit's counts, so it can be computed on the (usually few) patterns; the bootstrap resamples
    patterns instead of units. A unit's pattern is encoded as one integer,
    ``Σ_a base ** code[a, u]``, gathered straight from the codes without building the count
    matrix first.

    >>> pats, mult = unit_patterns(np.array([[0, 0, 1, -1], [0, 0, 1, 1]]), 2)
    >>> pats.tolist(), mult.tolist()
    ([[2, 0], [0, 1], [0, 2]], [2, 1, 1])
    """
    n_annotators, n_units = codes.shape
    base = n_annotators + 1
    if n_units == 0 or n_values == 0:
        return np.zeros((0, n_values), dtype=np.int64), np.zeros(0, dtype=np.int64)
    if n_values * np.log2(base) < 62:
        table = np.zeros(n_values + 1, dtype=np.int64)  # the last slot (code -1) adds nothing
        table[:n_values] = base ** np.arange(n_values, dtype=np.int64)
        keys = table[codes].sum(axis=0)
        space = int(base) ** n_values
        if space <= 4 * n_units + 1024:
            hist = np.bincount(keys, minlength=space)
            uniq = np.flatnonzero(hist)
            mult = hist[uniq]
        else:
            uniq, mult = np.unique(keys, return_counts=True)
        digits = (uniq[:, None] // table[None, :n_values]) % base
        return digits.astype(np.int64), mult.astype(np.int64)
    # Many values: a unit's pattern is the multiset of its codes, i.e. its sorted codes column,
    # so deduplicate units × annotators rather than a wide units × values matrix.
    ordered = np.sort(codes, axis=0)
    cols, mult = np.unique(ordered.T, axis=0, return_counts=True)
    pats = counts_from_codes(np.ascontiguousarray(cols.T), n_values)
    return pats.astype(np.int64), mult.astype(np.int64)


def count_patterns(counts: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Group the rows of a units × values count matrix: return ``(patterns, multiplicity)``.

    Every count-based coefficient is a (weighted) mean over units of a function of the unit's
    counts, so it can be computed on the distinct rows (usually a handful) with their
    multiplicities instead of on every unit.

    >>> pats, mult = count_patterns([[2, 0], [1, 1], [2, 0]])
    >>> pats.tolist(), mult.tolist()
    ([[2, 0], [1, 1]], [2, 1])
    """
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim != 2 or c.shape[0] == 0:
        return c, np.zeros(c.shape[0] if c.ndim else 0, dtype=np.int64)
    base = int(c.max()) + 1 if c.size else 1
    if base > 0 and c.min() >= 0 and c.shape[1] * np.log2(max(base, 2)) < 62:
        keys = c @ (np.int64(base) ** np.arange(c.shape[1], dtype=np.int64))
        _, first, mult = np.unique(keys, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")  # in order of first appearance
        return c[first[order]], mult[order].astype(np.int64)
    rows, first, mult = np.unique(c, axis=0, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    return rows[order], mult[order].astype(np.int64)


def _weights(multiplicity: npt.ArrayLike | None, n_rows: int) -> np.ndarray | None:
    """The row weights of a patterns matrix (None: one unit a row)."""
    if multiplicity is None:
        return None
    w = np.asarray(multiplicity, dtype=np.float64)
    if w.shape != (n_rows,) or (w < 0).any():
        raise ValueError("multiplicity must hold one non-negative number per row of counts")
    return w


def weighted_mean(values: np.ndarray, weights: np.ndarray | None, axis: int = 0) -> Any:
    """``values.mean(axis)``, or the mean weighted by ``weights`` (rows standing for several units)."""
    if weights is None:
        return values.mean(axis=axis)
    shaped = weights if values.ndim == 1 else weights[:, None]
    return (values * shaped).sum(axis=axis) / weights.sum()


def check_counts(counts: npt.ArrayLike) -> np.ndarray:
    """Return a units × values count matrix as float64 after checking it.

    >>> check_counts([[1, -1]])
    Traceback (most recent call last):
    ...
    ValueError: counts must be non-negative
    """
    arr = np.asarray(counts, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"counts must be 2-D (units × values), got {arr.ndim}-D")
    if not np.isfinite(arr).all():
        raise ValueError("counts must be finite")
    if (arr < 0).any():
        raise ValueError("counts must be non-negative")
    return arr
