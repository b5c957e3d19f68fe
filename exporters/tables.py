"""Write the long annotation table to ``.jsonl``, ``.csv`` or ``.parquet``, atomically.

JSONL keeps every value's JSON type (a candidate id ``"02"`` is the JSON string ``"02"``). CSV and
Parquet store values as text (:func:`~brun_label.table.encode_value`; flags as JSON arrays), read
back by the rubric (:func:`~brun_label.importers.annotations.read_annotations`). Parquet text
columns are dictionary-encoded.

Examples
--------
>>> import tempfile, os
>>> from brun_label.table import make_table
>>> from brun_label.importers.annotations import read_annotations
>>> from brun_label.rubrics import load_rubric
>>> t = make_table([{"item_id": "s1", "candidate_id": "c1", "question": "liability_flags",
...                  "annotator": "ann1", "value": ["admits_fault"]},
...                 {"item_id": "s1", "question": "preference", "annotator": "ann1", "value": "007"}])
>>> d = tempfile.mkdtemp()
>>> for ext in ("jsonl", "csv", "parquet"):
...     write_annotations(t, os.path.join(d, "a." + ext))
...     back = read_annotations(os.path.join(d, "a." + ext), load_rubric("de-escalation"))
...     assert back["value"].tolist() == [["admits_fault"], "007"], back["value"].tolist()
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from brun_label.atomic import atomic_path
from brun_label.importers.annotations import table_format
from brun_label.table import encode_column


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and value != value:
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _text_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["value"] = pd.Series(encode_column(out["value"].to_numpy(dtype=object)), dtype="str", index=out.index)
    for col in out.columns:
        if out[col].dtype == object:
            arr: np.ndarray = out[col].to_numpy()
            if not all(isinstance(v, str) for v in pd.unique(arr[pd.notna(arr)]).tolist()):
                arr = np.array([None if v is None or (isinstance(v, float) and v != v) else
                                v if isinstance(v, str) else json.dumps(_jsonable(v)) if isinstance(v, list | dict)
                                else str(v) for v in arr], dtype=object)
            out[col] = pd.Series(arr, dtype="str", index=out.index)
    return out


def write_annotations(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` (format by extension); the file appears only when complete."""
    kind = table_format(path)
    with atomic_path(path) as tmp:
        if kind == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                cols = list(df.columns)
                for rec in zip(*(df[c].to_numpy(dtype=object) for c in cols), strict=True):
                    fh.write(json.dumps({k: _jsonable(v) for k, v in zip(cols, rec, strict=True)},
                                        ensure_ascii=False) + "\n")
        elif kind == "csv":
            _text_frame(df).to_csv(tmp, index=False)
        else:
            _text_frame(df).to_parquet(tmp, index=False)
