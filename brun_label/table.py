"""The long annotation table: one row per (item, candidate, question, annotator).

Pure core (pandas, no I/O). Columns are :data:`~brun_label.model.ANNOTATION_COLUMNS`;
``candidate_id`` is empty (``""``) for questions asked about the whole item. In memory ``value``
holds native values (``int`` for scales and ratings, ``str`` for choices and candidate ids, a
sorted ``list`` of ``str`` for flags). Text files (CSV, Parquet) store it as text with
:func:`encode_value`, read back with :func:`decode_value`.

Examples
--------
>>> encode_value(-2), encode_value(["b", "a"]), encode_value("in_zone"), encode_value([])
('-2', '["a", "b"]', 'in_zone', '[]')
>>> decode_value('-2'), decode_value('["a", "b"]'), decode_value('tie'), decode_value('1.5')
(-2, ['a', 'b'], 'tie', 1.5)
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from brun_label.model import ANNOTATION_COLUMNS, STATUSES


def encode_value(value: Any) -> str | None:
    """Encode a native value as text (lists as sorted JSON arrays; None stays None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, list | tuple | set | frozenset):
        return json.dumps(sorted(str(v) for v in value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def decode_value(text: Any) -> Any:
    """Decode text written by :func:`encode_value` (numbers become int/float, arrays lists)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    if not isinstance(text, str):
        if hasattr(text, "tolist"):
            return text.tolist()
        return text
    s = text.strip()
    if s.startswith("["):
        try:
            out = json.loads(s)
            if isinstance(out, list):
                return out
        except json.JSONDecodeError:
            pass
        return text
    try:
        return int(s)
    except ValueError:
        pass
    try:
        f = float(s)
        if math.isfinite(f):
            return f
    except ValueError:
        pass
    return text


def empty_table() -> pd.DataFrame:
    """Return an empty annotation table with the standard columns."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in ANNOTATION_COLUMNS})


def make_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Build an annotation table from row dicts, filling missing optional columns.

    >>> t = make_table([{"item_id": "s1", "question": "preference", "annotator": "ann1",
    ...                  "value": "c-1"}])
    >>> list(t.columns) == list(ANNOTATION_COLUMNS), t.loc[0, "candidate_id"], t.loc[0, "status"]
    (True, '', 'submitted')
    """
    if not rows:
        return empty_table()
    df = pd.DataFrame(rows)
    return normalize_table(df)


class TableError(ValueError):
    """The annotation table is missing columns or has bad values; ``field`` names the column."""

    def __init__(self, field: str, message: str, row: int | None = None) -> None:
        self.field = field
        self.row = row
        self.message = message
        super().__init__(f"{field}: {message}")


def normalize_table(df: pd.DataFrame) -> pd.DataFrame:
    """Check required columns, fill optional ones, and order columns (extra columns are kept last)."""
    missing = [c for c in ("item_id", "question", "annotator", "value") if c not in df.columns]
    if missing:
        raise TableError(missing[0], "required column is missing")
    df = df.copy()
    if "candidate_id" not in df.columns:
        df["candidate_id"] = ""
    df["candidate_id"] = df["candidate_id"].astype("object").where(df["candidate_id"].notna(), "")
    df["candidate_id"] = df["candidate_id"].map(str)
    if "status" not in df.columns:
        df["status"] = "submitted"
    df["status"] = df["status"].fillna("submitted")
    bad = ~df["status"].isin(STATUSES)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise TableError("status", f"unknown status {df['status'].iloc[i]!r} (use {', '.join(STATUSES)})", row=i)
    for col in ("platform", "submitted_at"):
        if col not in df.columns:
            df[col] = None
    for col in ("item_id", "question", "annotator"):
        blank = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if blank.any():
            i = int(blank.to_numpy().nonzero()[0][0])
            raise TableError(col, "is empty", row=i)
        df[col] = df[col].map(str)
    extra = [c for c in df.columns if c not in ANNOTATION_COLUMNS]
    return df[list(ANNOTATION_COLUMNS) + extra].reset_index(drop=True)
