"""Atomic writers for exported datasets: JSON Lines, Parquet, and ``datasets`` folders on disk.

Adapter (writes files). Every writer goes through :mod:`brun_label.atomic` (or, for a folder, a
temporary sibling folder renamed into place), so an interrupted export leaves the previous output
or none, never half a file.

Examples
--------
>>> import tempfile, os, json
>>> d = tempfile.mkdtemp()
>>> write_jsonl(os.path.join(d, "p.jsonl"), [{"prompt": "p", "chosen": "c", "rejected": "r"}])
>>> open(os.path.join(d, "p.jsonl")).read()
'{"prompt": "p", "chosen": "c", "rejected": "r"}\\n'
>>> sorted(os.listdir(d))
['p.jsonl']
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from brun_label.atomic import atomic_path


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()  # numpy scalar -> Python
    return value


def jsonable(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``record`` with NaN as None and NumPy scalars as Python numbers.

    >>> import numpy as np
    >>> jsonable({"a": np.int64(3), "b": float("nan"), "c": "x"})
    {'a': 3, 'b': None, 'c': 'x'}
    """
    return {k: _clean(v) for k, v in record.items()}


def write_jsonl(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write one JSON object per line (UTF-8, no ASCII escaping), atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(jsonable(rec), ensure_ascii=False) + "\n")


def write_parquet(path: str | Path, records: list[dict[str, Any]], columns: list[str]) -> None:
    """Write the records as one Parquet table with these columns, atomically.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x.parquet")
    >>> write_parquet(p, [{"a": 1, "b": None}], ["a", "b"])
    >>> pd.read_parquet(p).to_dict(orient="records")
    [{'a': 1, 'b': None}]
    """
    df = pd.DataFrame.from_records([jsonable(r) for r in records], columns=columns)
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


@contextlib.contextmanager
def _atomic_dir(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_hf(
    path: str | Path,
    splits: Mapping[str, list[dict[str, Any]]],
    columns: list[str],
    extra_files: Mapping[str, str] | None = None,
) -> None:
    """Save the splits as a ``datasets.DatasetDict`` folder (``save_to_disk``), atomically.

    ``extra_files`` (name -> text) are written inside the folder too (the dataset card).
    """
    import datasets  # heavy: imported only for this format

    target = Path(path)
    if target.exists() and not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a folder")
    dd = datasets.DatasetDict({
        name: datasets.Dataset.from_pandas(
            pd.DataFrame.from_records([jsonable(r) for r in rows], columns=columns), preserve_index=False
        )
        for name, rows in splits.items()
    })
    with _atomic_dir(target) as tmp:
        dd.save_to_disk(str(tmp))
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
