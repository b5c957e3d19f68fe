"""Check every answer of an annotation table against its rubric (the servers do not).

Pure core (pandas, no I/O); ``pull``, ``agreement`` and ``export`` call the same
:func:`check_answers`, so an answer is used or not the same way everywhere. An answer is invalid
(and not used) when

* its question is not in the rubric, or is asked per candidate but the row names none (or per
  item but the row names one);
* its value has the wrong type for the question's kind (a scale or rating needs an integer, a
  flags answer a list of labels, a choice, preference or text a string);
* its value is not an option (scale, choice), outside ``min..max`` (rating), names a flag the
  question does not have (flags), or, for a preference, is neither ``tie``, ``both_bad`` nor a
  candidate of the item.

The candidates of an item are the ones ``candidates`` gives (the samples file), else the item's
``shown_order`` (the candidate ids in the order shown, a JSON array), else the candidate ids of the
item's per-candidate rows. Blank values are not answers and are not checked.

Each distinct value is checked once per question (a million rows hold a few thousand), so the
check is a few array operations per question.

Examples
--------
>>> from brun_label.rubrics import load_rubric
>>> from brun_label.table import make_table
>>> t = make_table([
...     {"item_id": "s1", "candidate_id": "02", "question": "tone_zone", "annotator": "ann1", "value": 0},
...     {"item_id": "s1", "candidate_id": "10", "question": "tone_zone", "annotator": "ann1", "value": 5},
...     {"item_id": "s1", "question": "preference", "annotator": "ann1", "value": "02"},
...     {"item_id": "s1", "question": "preference", "annotator": "ann2", "value": "2"}])
>>> kept, problems = check_answers(t, load_rubric("de-escalation"))
>>> kept.index.tolist()
[0, 2]
>>> for p in problems:
...     print(p.row, p.field + ":", p.message)
1 value: tone_zone: 5 is not an option (-2, -1, 0, 1, 2)
3 value: preference: '2' is not tie, both_bad or a candidate of item s1 (02, 10)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from brun_label.rubric import BOTH_BAD, TIE, Question, Rubric
from brun_label.table import TableCodes, table_codes, text_positions

#: How many invalid answers a command prints before "... and N more".
MAX_SHOWN = 20


@dataclass(frozen=True)
class InvalidAnswer:
    """One answer that is not used: its 0-based ``row`` in the table, the ``field`` and why."""

    row: int
    field: str
    message: str


def _type_problem(kind: str, v: Any) -> str | None:
    if kind in ("scale", "rating"):
        ok = isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_)
        return None if ok else f"needs an integer, got {_shown(v)}"
    if kind == "flags":
        if isinstance(v, list | tuple | np.ndarray) and all(isinstance(f, str) for f in v):
            return None
        return f"needs a list of flags, got {_shown(v)}"
    return None if isinstance(v, str) else f"needs a string, got {_shown(v)}"


def _shown(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    name = "list" if isinstance(v, list | tuple | np.ndarray) else type(v).__name__
    return f"{name} {json.dumps(v.tolist() if isinstance(v, np.ndarray) else v, default=str)}"


def _value_problem(q: Question, v: Any) -> str | None:
    """Why ``v`` is not an answer to ``q`` (preferences: only the type is checked here)."""
    why = _type_problem(q.type, v)
    if why is not None:
        return why
    if q.type in ("scale", "choice"):
        values = q.values()
        if v not in values:
            return f"{v!r} is not an option ({', '.join(map(str, values))})"
    elif q.type == "rating":
        assert q.min is not None and q.max is not None
        if not q.min <= int(v) <= q.max:
            return f"{v} is outside {q.min}..{q.max}"
    elif q.type == "flags":
        flags = {str(o.value) for o in q.options}
        unknown = [f for f in v if f not in flags]
        if unknown:
            return f"{unknown[0]!r} is not one of its flags ({', '.join(sorted(flags))})"
    return None


def item_candidates(
    table: pd.DataFrame, candidates: Mapping[str, Sequence[str]] | None = None
) -> dict[str, list[str]]:
    """The candidates of every item of ``table``: from ``candidates``, else ``shown_order``, else the rows.

    >>> from brun_label.table import make_table
    >>> t = make_table([{"item_id": "s1", "candidate_id": "b", "question": "q", "annotator": "x", "value": 1},
    ...                 {"item_id": "s2", "question": "p", "annotator": "x", "value": "a",
    ...                  "shown_order": '["c", "a"]'}])
    >>> sorted(item_candidates(t).items()), item_candidates(t, {"s1": ["a", "b"]})["s1"]
    ([('s1', ['b']), ('s2', ['a', 'c'])], ['a', 'b'])
    """
    result: dict[str, list[str]] = {str(i): [str(c) for c in cs] for i, cs in (candidates or {}).items()}
    shown: dict[str, set[str]] = {}
    if "shown_order" in table.columns:
        orders = table[["item_id", "shown_order"]].dropna().drop_duplicates()
        for item, text in zip(orders["item_id"].tolist(), orders["shown_order"].tolist(), strict=True):
            if item in result:
                continue
            try:
                ids = json.loads(text)
            except (TypeError, ValueError):
                continue
            if isinstance(ids, list):
                shown.setdefault(item, set()).update(str(c) for c in ids)
    result.update({k: sorted(v) for k, v in shown.items()})
    from_rows: dict[str, set[str]] = {}
    with_cand = table.loc[table["candidate_id"] != "", ["item_id", "candidate_id"]].drop_duplicates()
    for item, cid in zip(with_cand["item_id"].tolist(), with_cand["candidate_id"].tolist(), strict=True):
        if item not in result:
            from_rows.setdefault(item, set()).add(cid)
    result.update({k: sorted(v) for k, v in from_rows.items()})
    return result


def check_answers(
    table: pd.DataFrame,
    rubric: Rubric,
    candidates: Mapping[str, Sequence[str]] | None = None,
) -> tuple[pd.DataFrame, list[InvalidAnswer]]:
    """Return ``(the rows whose answers are valid, the invalid ones)`` (see the module docstring).

    ``table`` is a normalised annotation table (:func:`brun_label.table.normalize_table`); the kept
    rows keep their index. Rows without a value are kept (they are not answers). ``candidates``
    maps item ids to their candidate ids (the samples file).
    """
    n = len(table)
    bad_row: list[np.ndarray] = []
    bad_field: list[str] = []
    bad_msg: list[np.ndarray] = []
    if n == 0:
        return table, []
    codes_of = table_codes(table)  # shared with the agreement's split_questions on the same table
    v_codes, v_uniques = codes_of.value, codes_of.uniques
    q_codes, q_names = codes_of.question, codes_of.questions
    has_cand = codes_of.cand != codes_of.no_candidate
    by_name = {q.name: q for q in rubric.questions}

    def report(rows: np.ndarray, field: str, messages: np.ndarray | str) -> None:
        if rows.size:
            bad_row.append(rows)
            bad_field.extend([field] * rows.size)
            bad_msg.append(np.full(rows.size, messages, dtype=object) if isinstance(messages, str) else messages)

    for qc, name in enumerate(q_names.tolist()):
        rows = np.flatnonzero((q_codes == qc) & (v_codes >= 0))
        if not rows.size:
            continue
        q = by_name.get(name)
        if q is None:
            report(rows, "question", f"{name!r} is not a question of rubric {rubric.name}")
            continue
        wrong_scope = has_cand[rows] if q.scope == "item" else ~has_cand[rows]
        report(rows[wrong_scope], "candidate_id",
               f"{name} is asked once per item: the row must not name a candidate" if q.scope == "item"
               else f"{name} is asked per candidate: the row names none")
        rows = rows[~wrong_scope]
        if not rows.size:
            continue
        codes = v_codes[rows]
        used = np.flatnonzero(np.bincount(codes, minlength=len(v_uniques)))  # the distinct values, sorted
        why = np.full(len(v_uniques), None, dtype=object)
        is_bad = np.zeros(len(v_uniques), dtype=bool)
        special: list[int] = []  # tie and both_bad: a preference that names no candidate
        for c in used.tolist():
            v = v_uniques[c]
            if q.type in ("preference", "text") and type(v) is str:
                if v in (TIE, BOTH_BAD):
                    special.append(c)
                continue  # the common case, thousands of distinct candidate ids: nothing to check here
            why[c] = _value_problem(q, v)
            is_bad[c] = why[c] is not None
        bad = is_bad[codes]
        report(rows[bad], "value", np.array([f"{name}: {m}" for m in why[codes[bad]]], dtype=object))
        if q.type == "preference":
            rows = rows[~bad & ~np.isin(codes, special)]
            if rows.size:
                _check_named(table, rows, codes_of, candidates, name, report)
    if not bad_row:
        return table, []
    all_rows = np.concatenate(bad_row)
    all_msgs = np.concatenate(bad_msg)
    order = np.argsort(all_rows, kind="stable")
    problems = [InvalidAnswer(int(all_rows[i]), bad_field[i], str(all_msgs[i])) for i in order.tolist()]
    keep = np.ones(n, dtype=bool)
    keep[all_rows] = False
    return table.loc[keep], problems


def _check_named(
    table: pd.DataFrame,
    rows: np.ndarray,
    coded: TableCodes,
    candidates: Mapping[str, Sequence[str]] | None,
    name: str,
    report: Any,
) -> None:
    """Report the preference rows (``rows``, valid strings) that name no candidate of their item.

    ``coded`` is the table's :func:`~brun_label.table.table_codes`: each distinct answer is looked
    up among the candidate ids once, not once per row.
    """
    item_codes = coded.item
    covered = np.zeros(len(coded.items), dtype=bool)
    # The allowed (item, candidate) pairs: the samples', else shown_order's, else the rows'.
    pair_items: list[np.ndarray] = []
    pair_cands: list[Any] = []
    if candidates:
        keys = list(map(str, candidates))
        pos = text_positions(coded.items, keys)
        lists = [list(map(str, candidates[k])) for k in candidates]
        pair_items.append(np.repeat(pos, [len(c) for c in lists]))
        pair_cands.append([c for cs in lists for c in cs])
        covered[pos[pos >= 0]] = True
    if "shown_order" in table.columns:
        so_raw, so_texts = pd.factorize(table["shown_order"], use_na_sentinel=True)
        so_codes: np.ndarray = np.asarray(so_raw, dtype=np.int64)
        has = (so_codes >= 0) & ~covered[item_codes]
        uniq = np.unique(item_codes[has] * (len(so_texts) + 1) + so_codes[has])
        si: list[int] = []
        sc: list[str] = []
        texts = list(so_texts)
        for key in uniq.tolist():
            ic, tc = divmod(key, len(so_texts) + 1)
            try:
                ids = json.loads(texts[tc])
            except (TypeError, ValueError):
                continue
            if isinstance(ids, list):
                si.extend([ic] * len(ids))
                sc.extend(str(c) for c in ids)
        pair_items.append(np.asarray(si, dtype=np.int64))
        pair_cands.append(sc)
        covered[np.asarray(si, dtype=np.int64)] = True
    cand_names = coded.cands
    extra = pd.unique(np.asarray([c for part in pair_cands for c in part], dtype=object))
    names = np.concatenate([np.asarray(cand_names, dtype=object),
                            extra[text_positions(cand_names, extra) < 0]]) if len(extra) else cand_names
    width = len(names) + 1
    # The rows' pairs are the table's (item, candidate) units, sorted: found by binary search.
    units = np.flatnonzero((coded.unit_cand != coded.no_candidate) & ~covered[coded.unit_item])
    from_rows = coded.unit_item[units] * width + coded.unit_cand[units]
    allowed = []
    for it, cs in zip(pair_items, pair_cands, strict=True):
        cc = text_positions(names, list(cs))
        ok = it >= 0
        allowed.append(it[ok] * width + cc[ok])
    v_codes, v_uniques = coded.value, coded.uniques
    codes = v_codes[rows]
    used = np.flatnonzero(np.bincount(codes, minlength=len(v_uniques)))
    found = coded.value_candidates()[used].copy()  # among the table's candidate ids
    if len(names) > len(cand_names) and (found < 0).any():  # the ids only the samples or shown_order give
        missing = np.flatnonzero(found < 0)
        at = text_positions(names[len(cand_names):], [v_uniques[c] for c in used[missing].tolist()])
        found[missing] = np.where(at >= 0, at + len(cand_names), -1)
    cand_of = np.full(len(v_uniques), -1, dtype=np.int64)
    cand_of[used] = found
    v_cand = cand_of[codes]
    query = item_codes[rows] * width + v_cand
    at = np.minimum(np.searchsorted(from_rows, query), max(len(from_rows) - 1, 0))
    named = np.zeros(len(rows), dtype=bool) if not len(from_rows) else from_rows[at] == query
    if allowed:
        named |= np.asarray(pd.Index(query).isin(np.concatenate(allowed)), dtype=bool)  # hashed, not sorted
    named &= v_cand >= 0
    miss = np.flatnonzero(~named)
    if not miss.size:
        return
    vals = [v_uniques[c] for c in codes[miss].tolist()]
    items = table["item_id"].iloc[rows[miss]].to_numpy(dtype=object)
    bad_items = sorted({str(i) for i in items.tolist()})
    cands_of = item_candidates(table[table["item_id"].isin(bad_items).to_numpy(dtype=bool)], candidates)
    msgs = np.array([
        f"{name}: {value!r} is not tie, both_bad or a candidate of item {item} "
        f"({', '.join(cands_of.get(str(item), [])) or 'none known'})"
        for value, item in zip(vals, items.tolist(), strict=True)
    ], dtype=object)
    report(rows[miss], "value", msgs)


def format_invalid(
    problems: Sequence[InvalidAnswer], source: str, lines: Iterable[int] | np.ndarray | None = None,
    *, limit: int = MAX_SHOWN,
) -> list[str]:
    """The stderr lines for invalid answers: ``invalid answer (not used): <file>:<line>: <field>: <why>``.

    ``lines`` maps a row to its line in ``source`` (default: row + 1). At most ``limit`` lines,
    then ``... and N more``.

    >>> format_invalid([InvalidAnswer(0, "value", "tone_zone: 5 is not an option"),
    ...                 InvalidAnswer(4, "value", "x"), InvalidAnswer(5, "value", "y")], "a.csv", [2, 3, 4, 5, 6, 7],
    ...                limit=2)
    ['invalid answer (not used): a.csv:2: value: tone_zone: 5 is not an option', 'invalid answer (not used): a.csv:6: value: x', '... and 1 more']
    """
    line_of = np.asarray(list(lines) if lines is not None and not isinstance(lines, np.ndarray) else lines) \
        if lines is not None else None
    out = []
    for p in problems[:limit]:
        line = int(line_of[p.row]) if line_of is not None else p.row + 1
        out.append(f"invalid answer (not used): {source}:{line}: {p.field}: {p.message}")
    if len(problems) > limit:
        out.append(f"... and {len(problems) - limit} more")
    return out
