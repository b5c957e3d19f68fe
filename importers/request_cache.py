"""A request-keyed on-disk cache of API answers, so that no paid request is ever sent twice.

Adapter (one SQLite file). The key of a request is a SHA-256 of the canonical JSON of everything
that changes the answer: the server it goes to, the API path, the whole request body (model,
messages, temperature, seed, max_tokens, response_format…), the ``variant`` (which of several
independent answers to the very same request a slot wants) and the ``draw`` (a redraw after an
answer failed validation). The server is the base URL in :func:`endpoint_id` form: the same body
sent to another base URL (another provider, another vLLM, another local model under the same
name) is a different request, so a run against one server never reuses another's answers.
:meth:`RequestCache.for_endpoint` gives the view of the cache for one base URL; the request
runner answers every job through it. The API key is never part of the key (nor stored): changing
keys for the same server keeps the cache. Neither is the time.

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
...     here = cache.for_endpoint("http://127.0.0.1:8000/v1")
...     here.put(key, {"content": "local"})
...     here.get(key), cache.for_endpoint("http://127.0.0.1:8000/v1/").get(key)
...     cache.for_endpoint("https://api.openai.com/v1").get(key)
({'content': 'hello'}, 1, None)
({'content': 'local'}, {'content': 'local'})
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
from urllib.parse import urlsplit, urlunsplit

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


def endpoint_id(base_url: str) -> str:
    """Return the server part of a request key: the base URL without credentials, query or fragment.

    Scheme and host are case-insensitive and a trailing ``/`` changes nothing, so they are
    normalised; user names, passwords and query strings are dropped, so a key smuggled into the
    URL never reaches the cache.

    >>> endpoint_id("HTTPS://user:sk-secret@API.example.com:8443/v1/?key=sk-secret")
    'https://api.example.com:8443/v1'
    >>> endpoint_id("http://127.0.0.1:11434/v1") == endpoint_id("http://127.0.0.1:8000/v1")
    False
    """
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "").lower()
    if parts.port is not None:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), "", ""))


class RequestCache:
    """Answers keyed by :func:`request_key`, in ``<cache_dir>/requests.sqlite3`` (``None``: memory).

    A cache opened on a folder holds the answers of every server; :meth:`for_endpoint` is the
    view for one base URL (what a run uses). ``endpoint`` is None for the unscoped cache.
    """

    endpoint: str | None = None
    _owner: bool = True

    def for_endpoint(self, base_url: str) -> RequestCache:
        """Return a view of this cache whose keys are those of requests sent to ``base_url``.

        The view shares the database (closing it closes nothing); its answers and pending
        batches are invisible to views of other base URLs.
        """
        view = object.__new__(RequestCache)
        view.path, view._db = self.path, self._db
        view.endpoint, view._owner = endpoint_id(base_url), False
        return view

    def _key(self, key: str) -> str:
        if self.endpoint is None:
            return key
        return hashlib.sha256(f"{self.endpoint}\n{key}".encode()).hexdigest()

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
        row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (self._key(key),)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def get_many(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Return ``{key: answer}`` for the keys that are cached."""
        out: dict[str, dict[str, Any]] = {}
        chunk: dict[str, str] = {}  # stored key -> the caller's key

        def flush() -> None:
            marks = ",".join("?" * len(chunk))
            for key, answer in self._db.execute(
                f"SELECT key, answer FROM answers WHERE key IN ({marks})", list(chunk)
            ):
                out[chunk[key]] = json.loads(answer)
            chunk.clear()

        for key in keys:
            chunk[self._key(key)] = key
            if len(chunk) >= 500:
                flush()
        if chunk:
            flush()
        return out

    def put(self, key: str, answer: Mapping[str, Any]) -> None:
        """Store (and commit) one answer."""
        self._db.execute(
            "INSERT OR REPLACE INTO answers (key, answer, created) VALUES (?, ?, ?)",
            (self._key(key), json.dumps(answer, ensure_ascii=False, separators=(",", ":")), time.time()),
        )

    def __len__(self) -> int:
        """Return the number of answers stored (of every server, for a view too)."""
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return self._db.execute("SELECT 1 FROM answers WHERE key = ?", (self._key(key),)).fetchone() is not None

    # -- pending batch jobs ----------------------------------------------------------------
    def batch_for(self, job: str) -> str | None:
        """Return the Batch API id submitted for ``job`` (a digest of its request keys), if any."""
        row = self._db.execute("SELECT batch_id FROM batches WHERE job = ?", (self._key(job),)).fetchone()
        return None if row is None else str(row[0])

    def set_batch(self, job: str, batch_id: str) -> None:
        """Remember that ``job`` was submitted as ``batch_id``."""
        self._db.execute("INSERT OR REPLACE INTO batches (job, batch_id, created) VALUES (?, ?, ?)",
                         (self._key(job), batch_id, time.time()))

    def drop_batch(self, job: str) -> None:
        """Forget ``job`` (collected, failed or expired)."""
        self._db.execute("DELETE FROM batches WHERE job = ?", (self._key(job),))

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database (a view from :meth:`for_endpoint` leaves it to its cache)."""
        if self._owner:
            self._db.close()

    def __enter__(self) -> RequestCache:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
