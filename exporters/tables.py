"""Write the long annotation table to ``.jsonl``, ``.csv`` or ``.parquet``, atomically.

Examples
--------
>>> import tempfile, os
>>> from brun_label.table import make_table
>>> from brun_label.importers.annotations import read_annotations
>>> t = make_table([{"item_id": "s1", "candidate_id": "c1", "question": "liability_flags",
...                  "annotator": "ann1", "value": ["admits_fault"]}])
>>> d = tempfile.mkdtemp()
>>> for ext in ("jsonl", "csv", "parquet"):
...     write_annotations(t, os.path.join(d, "a." + ext))
...     assert read_annotations(os.path.join(d, "a." + ext))["value"].tolist() == [["admits_fault"]]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from brun_label.atomic import atomic_path
from brun_label.importers.annotations import table_format
from brun_label.table import encode_value


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and value != value:
        return None
    return value


def write_annotations(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` to ``path`` (format by extension); the file appears only when complete."""
    kind = table_format(path)
    with atomic_path(path) as tmp:
        if kind == "jsonl":
            with open(tmp, "w", encoding="utf-8") as fh:
                for rec in df.to_dict(orient="records"):
                    fh.write(json.dumps({k: _jsonable(v) for k, v in rec.items()}, ensure_ascii=False) + "\n")
        else:
            out = df.copy()
            out["value"] = out["value"].map(encode_value)
            for col in out.columns:
                if out[col].dtype == object:
                    out[col] = out[col].map(lambda v: None if v is None else str(v) if not isinstance(v, str) else v)
            if kind == "csv":
                out.to_csv(tmp, index=False)
            else:
                out.to_parquet(tmp, index=False)
