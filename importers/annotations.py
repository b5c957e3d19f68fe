"""Read the long annotation table from ``.jsonl``, ``.csv`` or ``.parquet``.

Examples
--------
>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "a.csv")
>>> _ = open(p, "w").write('item_id,candidate_id,question,annotator,value\\ns1,c1,tone_zone,ann1,-1\\n'
...                        's1,c1,liability_flags,ann1,"[""admits_fault""]"\\n')
>>> t = read_annotations(p)
>>> t["value"].tolist(), t["candidate_id"].tolist()
([-1, ['admits_fault']], ['c1', 'c1'])
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from brun_label.errors import InputError
from brun_label.table import TableError, decode_value, normalize_table

TABLE_FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def table_format(path: str | Path) -> str:
    """Return ``jsonl``, ``csv`` or ``parquet`` for an annotation-table path (by extension)."""
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise InputError(
            f"unknown extension {suffix or '(none)'!r}: use .jsonl, .csv or .parquet", path=str(path)
        )
    return TABLE_FORMATS[suffix]


def read_annotations(path: str | Path) -> pd.DataFrame:
    """Read and check an annotation table; errors name the file, line and column."""
    p = Path(path)
    kind = table_format(p)
    if not p.is_file():
        raise InputError("no such file", path=str(p))
    if kind == "jsonl":
        rows = []
        with open(p, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise InputError(f"not valid UTF-8 JSON ({exc.__class__.__name__})", path=str(p), line=lineno, field="(line)") from None
                if not isinstance(obj, dict):
                    raise InputError("each line must be a JSON object", path=str(p), line=lineno, field="(line)")
                rows.append(obj)
        df = pd.DataFrame(rows)
        first_line = 1
    elif kind == "csv":
        try:
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"cannot read CSV ({str(exc).splitlines()[0]})", path=str(p)) from None
        if "value" in df.columns:
            df["value"] = df["value"].map(decode_value)
        first_line = 2
    else:
        try:
            df = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises several unrelated types for bad files
            raise InputError(f"cannot read Parquet ({str(exc).splitlines()[0]})", path=str(p)) from None
        if "value" in df.columns:
            df["value"] = df["value"].map(decode_value)
        first_line = 1
    if df.empty:
        raise InputError("annotation table is empty", path=str(p))
    try:
        return normalize_table(df)
    except TableError as exc:
        line = None if exc.row is None else exc.row + first_line
        raise InputError(exc.message, path=str(p), line=line, field=exc.field) from None
