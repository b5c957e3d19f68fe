"""A request-keyed on-disk cache of API answers, so that no paid request is ever sent twice.

Adapter (one SQLite file). The key of a request is a SHA-256 of the canonical JSON of everything
that changes the answer: the endpoint, the whole request body (model, messages, temperature,
seed, max_tokens, response_format…), the ``variant`` (which of several independent answers to the
very same request a slot wants) and the ``draw`` (a redraw after an answer failed validation).
The API key, the base URL and the time are *not* part of the key.

Every answer is committed on its own as soon as it arrives (SQLite in WAL mode), so a run killed
at any point loses at most the requests that were in flight; the next run finds the rest and
sends only what is missing. Pending Batch API jobs are recorded too, so an interrupted ``--batch``
run goes back to polling its batch instead of submitting (and paying for) a new one.

Why SQLite rather than one file per entry: a single file, atomic transactions without an fsync
per entry, safe for two processes sharing a cache (WAL + busy timeout), and O(1) lookups with
hundreds of thousands of entries.

Examples
--------
>>> key = request_key({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
>>> key == request_key({"messages": [{"role": "user", "content": "hi"}], "model": "m"})
True
>>> key == request_key({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, variant=1)
False
>>> with RequestCache(None) as cache:      # None: in memory (--no-cache)
...     cache.put(key, {"content": "hello"})
...     cache.get(key), len(cache), cache.get("missing")
({'content': 'hello'}, 1, None)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from brun_label.errors import InputError

#: File name of the cache inside ``--cache-dir``.
CACHE_FILE = "requests.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS batches (job TEXT PRIMARY KEY, batch_id TEXT NOT NULL, created REAL NOT NULL);
"""


def request_key(
    body: Mapping[str, Any], *, variant: int = 0, draw: int = 0, endpoint: str = "/v1/chat/completions"
) -> str:
    """Return the cache key of one request (64 hex digits, usable as a Batch API ``custom_id``)."""
    payload = {"endpoint": endpoint, "body": body, "variant": variant, "draw": draw}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RequestCache:
    """Answers keyed by :func:`request_key`, in ``<cache_dir>/requests.sqlite3`` (``None``: memory)."""

    def __init__(self, cache_dir: str | Path | None) -> None:
        self.path: Path | None = None if cache_dir is None else Path(cache_dir) / CACHE_FILE
        target = ":memory:"
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise InputError(f"cannot create the cache directory ({exc.strerror})",
                                 path=str(self.path.parent), field="--cache-dir") from None
            target = str(self.path)
        try:
            self._db = sqlite3.connect(target, timeout=30.0, isolation_level=None)
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                # NORMAL: a commit survives the process being killed (not a power cut), and costs
                # no fsync per answer.
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"not a brun-label request cache ({exc}); delete it or pass another "
                             "--cache-dir", path=target, field="--cache-dir") from None

    # -- answers -------------------------------------------------------------------------------
    def get(self, key: str) -> dict[str, Any] | None:
        """Return the cached answer of ``key``, or None."""
        row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return ``{key: answer}`` for the keys that are cached."""
        out: dict[str, dict[str, Any]] = {}
        chunk: list[str] = []

        def flush() -> None:
            marks = ",".join("?" * len(chunk))
            for key, answer in self._db.execute(
                f"SELECT key, answer FROM answers WHERE key IN ({marks})", chunk
            ):
                out[key] = json.loads(answer)
            chunk.clear()

        for key in keys:
            chunk.append(key)
            if len(chunk) >= 500:
                flush()
        if chunk:
            flush()
        return out

    def put(self, key: str, answer: Mapping[str, Any]) -> None:
        """Store (and commit) one answer."""
        self._db.execute(
            "INSERT OR REPLACE INTO answers (key, answer, created) VALUES (?, ?, ?)",
            (key, json.dumps(answer, ensure_ascii=False, separators=(",", ":")), time.time()),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        return self._db.execute("SELECT 1 FROM answers WHERE key = ?", (key,)).fetchone() is not None

    # -- pending batch jobs ----------------------------------------------------------------
    def batch_for(self, job: str) -> str | None:
        """Return the Batch API id submitted for ``job`` (a digest of its request keys), if any."""
        row = self._db.execute("SELECT batch_id FROM batches WHERE job = ?", (job,)).fetchone()
        return None if row is None else str(row[0])

    def set_batch(self, job: str, batch_id: str) -> None:
        """Remember that ``job`` was submitted as ``batch_id``."""
        self._db.execute("INSERT OR REPLACE INTO batches (job, batch_id, created) VALUES (?, ?, ?)",
                         (job, batch_id, time.time()))

    def drop_batch(self, job: str) -> None:
        """Forget ``job`` (collected, failed or expired)."""
        self._db.execute("DELETE FROM batches WHERE job = ?", (job,))

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
