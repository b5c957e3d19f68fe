"""Read the long annotation table from ``.jsonl``, ``.csv`` or ``.parquet``.

Values are typed by their question's kind in the rubric, never by their look
(:mod:`brun_label.table`): JSONL keeps JSON's own types; CSV and Parquet text cells are decoded by
the rubric (``int`` for scales and ratings, a list for flags, the text itself otherwise). The
rubric is the one given, else the one the table's ``rubric`` column records (when it is a shipped
pack of that fingerprint). A CSV or Parquet table whose values only a rubric can read (``"02"``:
a number or a candidate id?) without one is refused in one line.

Parquet columns are read straight from Arrow: text columns stay Arrow-backed ``str`` columns and
the value column is decoded once per distinct (question, text) pair, so a million rows cost about
as much as ``pandas.read_parquet`` itself.

Examples
--------
>>> import tempfile, os
>>> from brun_label.rubrics import load_rubric
>>> p = os.path.join(tempfile.mkdtemp(), "a.csv")
>>> _ = open(p, "w").write('item_id,candidate_id,question,annotator,value\\ns1,c1,tone_zone,ann1,-1\\n'
...                        's1,c1,liability_flags,ann1,"[""admits_fault""]"\\ns1,,preference,ann1,01\\n')
>>> t = read_annotations(p, load_rubric("de-escalation"))
>>> t["value"].tolist(), t["candidate_id"].tolist()
([-1, ['admits_fault'], '01'], ['c1', 'c1', ''])
>>> read_annotations(p)
Traceback (most recent call last):
...
brun_label.errors.InputError: ...a.csv:2: value: '-1' could be a number or a label: the rubric decides (pass --rubric)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brun_label.errors import InputError
from brun_label.rubric import Rubric
from brun_label.table import (
    TableError,
    decode_codes,
    decode_column,
    normalize_table,
    recorded_rubric,
)

TABLE_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | Path) -> str:
    """Return ``jsonl``, ``csv`` or ``parquet`` for an annotation-table path (by extension)."""
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise InputError(
            f"unknown extension {suffix or '(none)'!r}: use .jsonl, .csv or .parquet", path=str(path)
        )
    return TABLE_FORMATS[suffix]


def _read_jsonl(p: Path) -> tuple[pd.DataFrame, np.ndarray]:
    rows = []
    lines = []
    with open(p, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"not valid UTF-8 JSON ({exc.__class__.__name__})", path=str(p), line=lineno,
                                 field="(line)") from None
            if not isinstance(obj, dict):
                raise InputError("each line must be a JSON object", path=str(p), line=lineno, field="(line)")
            rows.append(obj)
            lines.append(lineno)
    df = pd.DataFrame(rows)
    if "value" in df.columns:
        # JSON's own types: a JSON string stays a string, whatever it looks like.
        df["value"] = pd.Series([r.get("value") for r in rows], dtype=object)
    return df, np.asarray(lines, dtype=np.int64)


def _read_csv(p: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read CSV ({str(exc).splitlines()[0]})", path=str(p)) from None


def _read_parquet(p: Path) -> tuple[pd.DataFrame, Any, Any]:
    """Return the table without its value column (Arrow-backed), the value and question columns (Arrow)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # The value and question columns are only ever used as dictionary codes (a few distinct
        # texts over a million rows): read them straight as dictionaries, not as strings to encode.
        text = [f.name for f in pq.read_schema(p) if f.name in ("value", "question") and _is_text(f.type)]
        arrow = pq.read_table(p, read_dictionary=text)
    except Exception as exc:  # pyarrow raises several unrelated types for bad files
        raise InputError(f"cannot read Parquet ({str(exc).splitlines()[0]})", path=str(p)) from None
    value = arrow.column("value") if "value" in arrow.column_names else None
    question = arrow.column("question") if "question" in arrow.column_names else None
    rest = arrow.drop_columns(["value"]) if value is not None else arrow
    casts = []
    for f in rest.schema:
        if pa.types.is_dictionary(f.type):
            casts.append(pa.field(f.name, f.type.value_type))
        else:
            casts.append(f)
    # keep the schema's pandas metadata: it is what restores nullable dtypes such as Int64
    rest = rest.cast(pa.schema(casts, metadata=rest.schema.metadata)) if casts != list(rest.schema) else rest
    return rest.to_pandas(), value, question


def _is_text(typ: Any) -> bool:
    """Whether an Arrow type is a string type."""
    import pyarrow as pa

    return bool(pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ))


def _parquet_codes(col: Any) -> tuple[np.ndarray, list[Any]] | None:
    """Dictionary codes (-1: null) and words of an Arrow text column; None when it is not text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if hasattr(col, "combine_chunks") else col
    typ = col.type
    if pa.types.is_dictionary(typ):
        enc = col
    elif _is_text(typ):
        enc = pc.dictionary_encode(col)
    else:
        return None
    if not _is_text(enc.type.value_type):
        return None
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return codes, enc.dictionary.to_pylist()


def read_annotations(path: str | Path, rubric: Rubric | None = None) -> pd.DataFrame:
    """Read and check an annotation table; errors name the file, line and column.

    ``rubric`` decodes CSV and Parquet text values (default: the rubric the table's ``rubric``
    column records, when it can be resolved without ``--rubric``). The rows keep the file's order.
    """
    return read_table(path, rubric)[0]


def read_table(
    path: str | Path,
    rubric: Rubric | None = None,
    *,
    resolve: Callable[[str | None], Rubric | None] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`read_annotations`, plus the line of each row in the file (for messages).

    ``resolve`` (instead of ``rubric``) is called with the rubric identity the table records (or
    None) and returns the rubric to read with: what the commands do with ``--rubric``.
    """
    p = Path(path)
    kind = table_format(p)
    if not p.is_file():
        raise InputError("no such file", path=str(p))
    texts: np.ndarray | None = None
    coded: tuple[tuple[np.ndarray, list[Any]], tuple[np.ndarray, list[Any]]] | None = None
    if kind == "jsonl":
        df, lines = _read_jsonl(p)
    elif kind == "csv":
        df = _read_csv(p)
        lines = np.arange(2, len(df) + 2, dtype=np.int64)
        if "value" in df.columns:
            texts = df["value"].astype(object).where(df["value"].notna(), None).to_numpy()
    else:
        df, arrow_value, arrow_question = _read_parquet(p)
        lines = np.arange(1, len(df) + 1, dtype=np.int64)
        if arrow_value is not None:
            value_codes = _parquet_codes(arrow_value)
            question_codes = _parquet_codes(arrow_question) if arrow_question is not None else None
            if value_codes is not None and question_codes is not None:
                coded = (question_codes, value_codes)
            elif value_codes is not None:
                words = np.asarray([*value_codes[1], None], dtype=object)
                texts = words[value_codes[0]]
            else:
                df["value"] = pd.Series(arrow_value.to_pylist(), dtype=object, index=df.index)
    if df.empty:
        raise InputError("annotation table is empty", path=str(p))
    if resolve is not None:
        try:
            identity = recorded_rubric(df)
        except TableError as exc:
            raise InputError(exc.message, path=str(p), field=exc.field) from None
        rubric = resolve(identity)
    elif rubric is None and (texts is not None or coded is not None):
        rubric = _recorded(df)
    if texts is not None or coded is not None:
        if "question" not in df.columns:
            raise InputError("required column is missing", path=str(p), field="question")
        if coded is not None:
            (q_codes, q_names), (t_codes, t_words) = coded
            values, problem = decode_codes(q_codes, q_names, t_codes, t_words, rubric)
        else:
            assert texts is not None
            values, problem = decode_column(df["question"].astype(object).to_numpy(), texts, rubric)
        if problem is not None:
            row, ambiguous = problem
            question = df["question"].iloc[row]
            recorded = None if rubric is not None else _recorded_identity(df)
            hint = "" if recorded is None else f" (the table records rubric {recorded})"
            why = (f"question {question!r} is not in rubric {rubric.name}, and " if rubric is not None else "")
            raise InputError(why + str(ambiguous) + hint, path=str(p), line=int(lines[row]), field="value")
        df["value"] = pd.Series(values, dtype=object, index=df.index, copy=False)  # keeps the decoder's codes
    try:
        table = normalize_table(df)
    except TableError as exc:
        line = None if exc.row is None else int(lines[exc.row])
        raise InputError(exc.message, path=str(p), line=line, field=exc.field) from None
    return table, lines


def _recorded_identity(df: pd.DataFrame) -> str | None:
    try:
        return recorded_rubric(df)
    except TableError:
        return None


def _recorded(df: pd.DataFrame) -> Rubric | None:
    """The rubric the table records, when it resolves without ``--rubric`` (else None)."""
    identity = _recorded_identity(df)
    if identity is None:
        return None
    from brun_label.rubrics import resolve_rubric

    try:
        return resolve_rubric(identity, None)
    except InputError:
        return None


def load_checked(
    path: str | Path,
    rubric_flag: str | None,
    *,
    candidates: Mapping[str, Sequence[str]] | None = None,
    strict: bool = False,
    require_rubric: bool = False,
    warn: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, Rubric | None]:
    """Read a table for ``agreement`` and ``export``: resolve its rubric, drop and report invalid answers.

    The rubric is :func:`brun_label.rubrics.resolve_rubric` of the one the table records and
    ``--rubric`` (``rubric_flag``); with neither, None (JSONL keeps its types; an ambiguous CSV or
    Parquet table is refused) unless ``require_rubric``. Every answer is checked against it
    (:func:`brun_label.answers.check_answers`, with the samples' ``candidates``): each invalid one
    is reported through ``warn`` (``invalid answer (not used): <file>:<line>: <field>: <why>``,
    at most 20, then ``... and N more``) and left out; with ``strict`` they are reported and an
    :class:`InputError` (exit 2) is raised instead.
    """
    from brun_label.answers import check_answers, format_invalid
    from brun_label.rubrics import resolve_rubric

    chosen: list[Rubric | None] = []

    def resolve(identity: str | None) -> Rubric | None:
        rubric = None
        if identity is not None or rubric_flag is not None or require_rubric:
            rubric = resolve_rubric(identity, rubric_flag, where=str(path))
        chosen.append(rubric)
        return rubric

    table, lines = read_table(path, resolve=resolve)
    rubric = chosen[0]
    if rubric is None:
        return table, None
    kept, problems = check_answers(table, rubric, candidates)
    if problems:
        for line in format_invalid(problems, str(path), lines):
            (warn or _stderr)(line)
        if strict:
            raise InputError(f"{len(problems)} invalid answer(s) (--strict: nothing used)", path=str(path))
    return kept.reset_index(drop=True), rubric


def _stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr)
