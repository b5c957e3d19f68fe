"""Read samples from JSONL, CSV and Parquet files, streaming, with located errors.

Every problem is reported as an :class:`~brun_label.errors.InputError` naming the file, the line
(JSONL, CSV) or row (Parquet) and the field. Memory stays bounded whatever the file size: records
are parsed one at a time and only an 8-byte digest of each id is kept to find duplicates.

Examples
--------
>>> import tempfile, os, json
>>> d = tempfile.mkdtemp(); p = os.path.join(d, "s.jsonl")
>>> rows = [{"id": "x", "prompt": "hi", "candidates": [{"text": "a"}, {"text": "b"}]},
...         {"id": "x", "prompt": "hi", "candidates": [{"text": "a"}]}]
>>> _ = open(p, "w").write("\\n".join(json.dumps(r) for r in rows) + "\\n{oops\\n")
>>> report = validate_samples(p)
>>> report.n_valid, [e.render().replace(p, "s.jsonl") for e in report.problems]
(1, ['s.jsonl:2: candidates: needs at least 2 candidates, got 1', 's.jsonl:3: (line): not valid JSON: Expecting property name enclosed in double quotes (column 2)'])
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from brun_label.errors import InputError, ValidationFailed
from brun_label.model import Sample, SampleError, sample_from_dict
from brun_label.rubric import Rubric
from brun_label.sample_rubric import sample_problems

FORMATS = ("jsonl", "csv", "parquet")
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_JSON_COLUMNS = ("prompt", "metadata", "candidates", "judge")


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """Return the sample file format, from ``fmt`` or the file extension.

    >>> detect_format("a/b.ndjson"), detect_format("x.data", "csv")
    ('jsonl', 'csv')
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})", field="--format")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise InputError(
            f"cannot tell the format from the extension {suffix or '(none)'!r}; pass --format "
            f"({', '.join(FORMATS)})",
            path=str(path),
        )
    return _EXTENSIONS[suffix]


def _open_checked(path: Path) -> Any:
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the caller's generator
    except FileNotFoundError:
        raise InputError("no such file", path=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a file", path=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot open ({exc.strerror})", path=str(path)) from None
    head = fh.read(8192)
    fh.seek(0)
    if not head.strip():
        fh.close()
        raise InputError("file is empty: no samples", path=str(path))
    if b"\x00" in head:
        fh.close()
        raise InputError("file is binary, not text (NUL bytes in the first 8 KiB)", path=str(path))
    return fh


def _iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    with _open_checked(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as exc:
                yield lineno, InputError(
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "re-save the file as UTF-8",
                    path=str(path), line=lineno, field="(line)",
                )
                continue
            try:
                yield lineno, json.loads(text)
            except json.JSONDecodeError as exc:
                yield lineno, InputError(
                    f"not valid JSON: {exc.msg} (column {exc.colno})",
                    path=str(path), line=lineno, field="(line)",
                )


def _decode_json_cells(row: dict[str, Any], path: Path, line: int) -> dict[str, Any] | InputError:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            return InputError("row has more cells than the header", path=str(path), line=line, field="(row)")
        if value is None or value == "":
            continue
        if key in _JSON_COLUMNS and isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                return InputError(f"not valid JSON: {exc.msg} (column {exc.colno})", path=str(path), line=line, field=key)
        out[key] = value
    # Wide form: candidate_1_text, candidate_1_persona, ... as an alternative to a JSON column.
    wide: dict[int, dict[str, Any]] = {}
    for key in list(out):
        parts = key.split("_", 2)
        if len(parts) == 3 and parts[0] == "candidate" and parts[1].isdigit():
            wide.setdefault(int(parts[1]), {})[parts[2]] = out.pop(key)
    if wide:
        if "candidates" in out:
            return InputError("give candidates either as a JSON column or as candidate_N_* columns, not both", path=str(path), line=line, field="candidates")
        out["candidates"] = [wide[k] for k in sorted(wide)]
    return out


def _iter_csv(path: Path) -> Iterator[tuple[int, Any]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with _open_checked(path) as raw_fh:
        text_fh = io.TextIOWrapper(raw_fh, encoding="utf-8-sig", newline="")
        reader = csv.DictReader(text_fh)
        start = 2
        try:
            for row in reader:
                yield start, _decode_json_cells(row, path, start)
                start = reader.line_num + 1
        except UnicodeDecodeError as exc:
            yield start, InputError(
                f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); re-save the file as UTF-8",
                path=str(path), line=start, field="(line)",
            )
        except csv.Error as exc:
            yield start, InputError(f"malformed CSV: {exc}", path=str(path), line=start, field="(row)")


def _iter_parquet(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        raise InputError("no such file", path=str(path))
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a Parquet file ({str(exc).splitlines()[0]})", path=str(path)) from None
    if pf.metadata.num_rows == 0:
        raise InputError("file is empty: no samples", path=str(path))
    row = 0
    for batch in pf.iter_batches(batch_size=2048):
        for rec in batch.to_pylist():
            row += 1
            yield row, _decode_json_cells({k: v for k, v in rec.items()}, path, row)


def iter_records(path: str | Path, fmt: str | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_or_row, record)`` where a record is a dict, or an :class:`InputError`."""
    p = Path(path)
    kind = detect_format(p, fmt)
    if kind == "jsonl":
        return _iter_jsonl(p)
    if kind == "csv":
        return _iter_csv(p)
    return _iter_parquet(p)


@dataclass
class ValidationReport:
    """What :func:`validate_samples` found."""

    path: str
    n_valid: int = 0
    n_records: int = 0
    problems: list[InputError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has at least one sample and no problem."""
        return not self.problems and self.n_valid > 0


def iter_samples(
    path: str | Path, fmt: str | None = None, *, report: ValidationReport | None = None
) -> Iterator[tuple[int, Sample | InputError]]:
    """Yield ``(line, sample)`` for each record, or ``(line, problem)`` for each bad one.

    Duplicate sample ids are problems too (reported at the second occurrence).
    """
    seen: dict[bytes, int] = {}
    for line, rec in iter_records(path, fmt):
        if report is not None:
            report.n_records += 1
        if isinstance(rec, InputError):
            yield line, rec
            continue
        try:
            sample = sample_from_dict(rec)
        except SampleError as exc:
            yield line, InputError(exc.message, path=str(path), line=line, field=exc.field)
            continue
        key = hashlib.blake2b(sample.id.encode("utf-8"), digest_size=8).digest()
        if key in seen:
            yield line, InputError(
                f"duplicate sample id {sample.id!r} (first on line {seen[key]})",
                path=str(path), line=line, field="id",
            )
            continue
        seen[key] = line
        yield line, sample


def validate_samples(path: str | Path, fmt: str | None = None, *, max_problems: int | None = None,
                     rubric: Rubric | None = None) -> ValidationReport:
    """Check a whole sample file and return every problem found (up to ``max_problems``).

    With a ``rubric``, each sample's judge answers and candidate count are checked against it too.
    """
    report = ValidationReport(path=str(path))
    try:
        for line, item in iter_samples(path, fmt, report=report):
            problems = [item] if isinstance(item, InputError) else [
                InputError(message, path=str(path), line=line, field=where)
                for where, message in (sample_problems(item, rubric) if rubric is not None else [])
            ]
            if problems:
                report.problems.extend(problems)
                if max_problems is not None and len(report.problems) >= max_problems:
                    del report.problems[max_problems:]
                    break
            else:
                report.n_valid += 1
    except InputError as exc:
        report.problems.append(exc)
    return report


def read_samples(path: str | Path, fmt: str | None = None, *, rubric: Rubric | None = None) -> list[Sample]:
    """Read every sample, raising :class:`ValidationFailed` listing all problems if any.

    With a ``rubric``, samples whose judge answers or candidate count do not fit it are problems too.
    """
    samples: list[Sample] = []
    problems: list[InputError] = []
    for line, item in iter_samples(path, fmt):
        if isinstance(item, InputError):
            problems.append(item)
            continue
        misfits = sample_problems(item, rubric) if rubric is not None else []
        problems.extend(InputError(m, path=str(path), line=line, field=f) for f, m in misfits)
        if not misfits:
            samples.append(item)
    if problems:
        raise ValidationFailed(problems)
    if not samples:
        raise InputError("file has no samples", path=str(path))
    return samples
