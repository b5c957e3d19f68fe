"""A local OpenAI-compatible HTTP server for tests, benchmarks and the demo (no network, no key).

It speaks just enough of the OpenAI API for the real ``openai`` client:

* ``POST /v1/chat/completions``: a reply built from a template (the persona and arc named in the
  system message, a digest of the request), or, with ``response_format`` ``json_schema``, a JSON
  document that fits the schema (chosen deterministically from the request digest);
* ``GET /v1/models`` and ``GET /v1/models/{id}``;
* the Batch API subset: ``POST /v1/files`` (multipart upload), ``GET /v1/files/{id}[/content]``,
  ``POST /v1/batches`` and ``GET /v1/batches/{id}`` (a batch completes after ``batch_polls``
  retrievals).

``logprobs: true`` in a chat request gets ``choices[0].logprobs.content`` (token, logprob), as
OpenAI returns it; ``logprobs_supported=False`` answers ``logprobs: null`` like an endpoint that
has none.

**Judge mode** (``position_bias`` set): a request that asks the rubric judge's schema (replies
``Reply A:``, ``Reply B:``… in the user message) gets answers with a known truth, so measures can
be checked against it. Each reply's true answers depend on its text only (:func:`truth_value`,
:func:`truth_best`), never on its slot. Per answer the judge has an accuracy ``c`` drawn from the
reply text in ``judge_accuracy`` (:func:`truth_accuracy`): it gives the truth with probability
``c`` (else another option), and states the log-probability ``overconfidence · log c`` (so the
raw confidence is too high and calibration has something to fix). The preference is the first
reply, whatever it is, with probability ``position_bias`` (drawn per request, so a request with
the candidates reversed draws again); otherwise the best reply with probability ``c``. With
``judge_accuracy=(1, 1)`` and two replies, the share of reversed pairs whose two verdicts both
pick the first slot is exactly ``position_bias`` in expectation.

Test knobs: ``latency`` per chat request, :meth:`FakeOpenAIServer.fail_next` (N answers of 429 or
500 before success), :meth:`FakeOpenAIServer.slow_next` (N answers slower than the client's
timeout), a bad-key check (401 that echoes the key it got, as a careless server might), an
unknown-model 404, and thread-safe request counters.

Examples
--------
>>> import json, urllib.request
>>> with FakeOpenAIServer() as server:
...     req = urllib.request.Request(server.base_url + "/models",
...                                  headers={"Authorization": f"Bearer {server.api_key}"})
...     names = [m["id"] for m in json.load(urllib.request.urlopen(req))["data"]]
...     n = server.count("GET /v1/models")
>>> names, n
(['gpt-4o-mini', 'fake-model'], 1)

Run it by hand (the first line printed is the base URL)::

    python -m tests.fake_openai_server --latency 0.2 --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.parser
import email.policy
import hashlib
import itertools
import json
import math
import re
import socket
import sys
import threading
import time
from collections import Counter
from typing import Any

#: The key the server accepts unless told otherwise.
DEFAULT_API_KEY = "sk-fake-0123456789abcdef"
DEFAULT_MODELS = ("gpt-4o-mini", "fake-model")
DEFAULT_TEMPLATE = (
    "{persona} ({arc}) reply {tag}: I read your message about \"{snippet}\". "
    "Here is what happens next."
)
_PERSONA = re.compile(r"Persona:\s*([A-Za-z0-9_\-]+)")
_REPLY = re.compile(r"(?:^|\n\n)Reply ([A-Z]+):\n(.*?)(?=\n\nReply [A-Z]+:\n|\Z)", re.S)
_ARC = re.compile(r"Arc:\s*([A-Za-z0-9_\-]+)")


def _digest(value: Any) -> bytes:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).digest()


def _pick(seed: bytes, path: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(seed + path.encode("utf-8")).digest()[:4], "big") % n


def schema_instance(schema: dict[str, Any], seed: bytes = b"", *, root: dict[str, Any] | None = None,
                    path: str = "$") -> Any:
    """Return a value that fits a JSON schema (the subset structured outputs use), chosen by ``seed``.

    >>> s = {"type": "object", "properties": {"tone": {"type": "integer", "enum": [-1, 0, 1]},
    ...      "flags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}}}
    >>> v = schema_instance(s, b"x")
    >>> v["tone"] in (-1, 0, 1), set(v["flags"]) <= {"a", "b"}
    (True, True)
    """
    root = root if root is not None else schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return schema_instance(root.get("$defs", {})[name], seed, root=root, path=path)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = schema[key]
            return schema_instance(options[_pick(seed, path, len(options))], seed, root=root, path=path)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][_pick(seed, path, len(schema["enum"]))]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: schema_instance(v, seed, root=root, path=f"{path}.{k}") for k, v in props.items()}
    if kind == "array":
        items = schema.get("items", {})
        lo, hi = schema.get("minItems", 0), schema.get("maxItems", 2)
        if "enum" in items:
            choices = [v for i, v in enumerate(items["enum"]) if _pick(seed, f"{path}[{i}]", 4) == 0]
            while len(choices) < lo:
                choices.append(items["enum"][len(choices)])
            return choices[: max(hi, lo)] if "maxItems" in schema else choices
        n = lo + _pick(seed, path, max(hi - lo, 0) + 1)
        return [schema_instance(items, seed, root=root, path=f"{path}[{i}]") for i in range(n)]
    if kind == "integer":
        lo, hi = schema.get("minimum", 0), schema.get("maximum", 10)
        return lo + _pick(seed, path, hi - lo + 1)
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return bool(_pick(seed, path, 2))
    if kind == "null":
        return None
    return f"text {seed.hex()[:6]}"


def _unit(seed: bytes, path: str) -> float:
    """A uniform number in [0, 1) from ``seed`` and ``path``."""
    return int.from_bytes(hashlib.sha256(seed + path.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64


def _text_seed(text: str) -> bytes:
    return hashlib.sha256(text.strip().encode("utf-8")).digest()


def truth_value(text: str, question: str, schema: dict[str, Any]) -> Any:
    """The true answer to ``question`` for a reply (its text only): what a careful human says."""
    return schema_instance(schema, _text_seed(text) + question.encode("utf-8"), path=f"$.{question}")


def truth_best(texts: list[str]) -> int:
    """Index of the truly best reply among ``texts`` (whatever order they are shown in)."""
    return min(range(len(texts)), key=lambda i: _text_seed(texts[i]))


def truth_accuracy(text: str, question: str, lo: float, hi: float) -> float:
    """The judge's accuracy on ``question`` for this reply, in ``[lo, hi]``."""
    return lo + (hi - lo) * _unit(_text_seed(text), "accuracy:" + question)


def _other(schema: dict[str, Any], value: Any, seed: bytes, path: str) -> Any:
    """A wrong answer: another option of an enum, or a flags list with one flag toggled."""
    if "enum" in schema:
        options = [v for v in schema["enum"] if v != value]
        return options[_pick(seed, path + ":wrong", len(options))] if options else value
    if schema.get("type") == "array" and "enum" in schema.get("items", {}):
        flag = schema["items"]["enum"][_pick(seed, path + ":wrong", len(schema["items"]["enum"]))]
        return sorted(set(value) ^ {flag})
    return value


def _tokens(value: Any, logprob_of: dict[tuple[str, ...], float], path: tuple[str, ...] = ()) -> list[tuple[str, float]]:
    """JSON text of ``value`` cut into tokens; each leaf's tokens add up to ``logprob_of[path]``."""
    if isinstance(value, dict):
        out: list[tuple[str, float]] = [("{", 0.0)]
        for i, (k, v) in enumerate(value.items()):
            out.append(((", " if i else "") + json.dumps(k) + ": ", 0.0))
            out += _tokens(v, logprob_of, (*path, k))
        return [*out, ("}", 0.0)]
    text = json.dumps(value)
    lp = logprob_of.get(path, -0.01)
    return [(text[:1], lp), (text[1:], 0.0)] if len(text) > 1 else [(text, lp)]


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeOpenAIServer:
    """An OpenAI-compatible server on 127.0.0.1 in a background thread (see the module doc).

    Parameters
    ----------
    api_key
        The only key accepted (``None`` accepts any request, as a local vLLM does).
    models
        Model names that exist; any other gets a 404 ``model_not_found``.
    latency
        Seconds each chat completion takes.
    reply_template
        ``str.format`` template of the reply text, with ``{persona}``, ``{arc}``, ``{model}``,
        ``{snippet}`` (start of the last user message) and ``{tag}`` (a request digest).
    batch_polls
        How many ``GET /v1/batches/{id}`` a batch stays ``in_progress`` before it completes.
    retry_after_ms
        ``retry-after-ms`` header sent with injected 429/500 answers (the client honours it, so
        tests stay fast).
    force_content
        When set, every chat answer has exactly this content (to test answers that do not fit).
    position_bias
        Judge mode (see the module doc): the rate at which the judge prefers the first reply.
    judge_accuracy
        Range of the judge's per-answer accuracy in judge mode.
    overconfidence
        Judge mode: the stated log-probability is this times the log of the accuracy.
    logprobs_supported
        Whether ``logprobs: true`` gets token log-probabilities (else ``logprobs: null``).
    """

    def __init__(
        self,
        *,
        api_key: str | None = DEFAULT_API_KEY,
        models: tuple[str, ...] = DEFAULT_MODELS,
        latency: float = 0.0,
        reply_template: str = DEFAULT_TEMPLATE,
        batch_polls: int = 1,
        retry_after_ms: int = 10,
        force_content: str | None = None,
        position_bias: float | None = None,
        judge_accuracy: tuple[float, float] = (0.55, 0.99),
        overconfidence: float = 0.4,
        logprobs_supported: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.models = tuple(models)
        self.latency = latency
        self.reply_template = reply_template
        self.batch_polls = batch_polls
        self.retry_after_ms = retry_after_ms
        self.force_content = force_content
        self.position_bias = position_bias
        self.judge_accuracy = judge_accuracy
        self.overconfidence = overconfidence
        self.logprobs_supported = logprobs_supported
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._failures: list[int] = []
        self._slow: list[float] = []
        self._files: dict[str, dict[str, Any]] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.chat_bodies: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        # One asyncio loop in one thread: latency is an asyncio.sleep, so hundreds of slow
        # requests in flight cost no threads and the server adds well under a millisecond each.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(1024)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """The URL to give the client (``http://127.0.0.1:PORT/v1``)."""
        host, port = self._sock.getsockname()[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        """Serve in a daemon thread."""
        if self._thread is None:
            ready = threading.Event()
            self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True,
                                            name="fake-openai")
            self._thread.start()
            ready.wait(10)
        return self

    def _serve(self, ready: threading.Event) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            asyncio.start_server(self._connection, sock=self._sock, backlog=1024))
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._thread = None
        self._sock.close()

    def serve_forever(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        self.start()
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        self.stop()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                method, target, headers, body = request
                status, answer, extra = await self.handle(method, target, headers, body)
                writer.write(_encode_response(status, answer, extra))
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away (a timeout test) or sent garbage
        finally:
            writer.close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- knobs and counters ----------------------------------------------------------------
    def fail_next(self, n: int, status: int = 429) -> None:
        """Answer the next ``n`` chat requests with ``status`` (429 or 5xx) before succeeding."""
        with self._lock:
            self._failures.extend([status] * n)

    def slow_next(self, n: int, seconds: float) -> None:
        """Make the next ``n`` chat requests take ``seconds`` more (to trigger client timeouts)."""
        with self._lock:
            self._slow.extend([seconds] * n)

    def count(self, key: str | None = None) -> int:
        """Requests received: all, or those of one ``"METHOD /path"`` (ids replaced by ``{id}``).

        ``"batch /v1/chat/completions"`` counts the chat requests run inside batches.
        """
        with self._lock:
            return sum(self._counts.values()) if key is None else self._counts[key]

    @property
    def chat_count(self) -> int:
        """Chat completion requests received (including the ones answered with an error)."""
        return self.count("POST /v1/chat/completions")

    def reset_counts(self) -> None:
        """Zero the counters."""
        with self._lock:
            self._counts.clear()
            self.chat_bodies.clear()
            self.max_in_flight = 0

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _take(self, queue: list[Any]) -> Any:
        with self._lock:
            return queue.pop(0) if queue else None

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-{next(self._ids):06d}"

    # -- the API -----------------------------------------------------------------------------
    def complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one chat completion request body: ``(status, JSON answer)``."""
        model = body.get("model")
        if model not in self.models:
            return 404, _error(f"The model `{model}` does not exist or you do not have access to it.",
                               "invalid_request_error", "model_not_found")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return 400, _error("'messages' must be a non-empty array", "invalid_request_error", None)
        system = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
        users = [str(m.get("content", "")) for m in messages if m.get("role") == "user"]
        seed = _digest(body)
        fmt = body.get("response_format") or {}
        tokens: list[tuple[str, float]] | None = None
        replies = _REPLY.findall(users[-1]) if users else []
        if self.force_content is not None:
            content = self.force_content
        elif fmt.get("type") == "json_schema" and self.position_bias is not None and replies:
            schema = fmt.get("json_schema", {}).get("schema", {})
            answer, logprob_of = self._judge_answer(schema, replies, seed)
            tokens = _tokens(answer, logprob_of)
            content = "".join(t for t, _ in tokens)
        elif fmt.get("type") == "json_schema":
            schema = fmt.get("json_schema", {}).get("schema", {})
            content = json.dumps(schema_instance(schema, seed))
        elif fmt.get("type") == "json_object":
            content = "{}"
        else:
            persona = _PERSONA.search(system)
            arc = _ARC.search(system)
            snippet = " ".join((users[-1] if users else "").split()[:8])
            content = self.reply_template.format(
                persona=persona.group(1) if persona else "Assistant",
                arc=arc.group(1) if arc else "plain",
                model=model, snippet=snippet, tag=seed.hex()[:8],
            )
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        finish = "stop"
        if isinstance(max_tokens, int) and len(content.split()) > max_tokens and fmt.get("type") != "json_schema":
            content = " ".join(content.split()[:max_tokens])
            finish = "length"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) + 3 for m in messages)
        completion_tokens = len(content.split())
        logprobs = None
        if body.get("logprobs") and self.logprobs_supported:
            if tokens is None:
                tokens = [(content[i:i + 4], -0.01) for i in range(0, len(content), 4)]
            logprobs = {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode("utf-8")),
                                     "top_logprobs": []} for t, lp in tokens], "refusal": None}
        return 200, {
            "id": "chatcmpl-" + seed.hex()[:12],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "finish_reason": finish, "logprobs": logprobs,
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    def _judge_answer(self, schema: dict[str, Any], replies: list[tuple[str, str]],
                      seed: bytes) -> tuple[dict[str, Any], dict[tuple[str, ...], float]]:
        """A judge answer with a known truth (see the module doc) and each value's log-probability."""
        lo, hi = self.judge_accuracy
        letters = [letter for letter, _ in replies]
        texts = [text for _, text in replies]
        answer: dict[str, Any] = {}
        logprob_of: dict[tuple[str, ...], float] = {}

        def decide(truth: Any, sub: dict[str, Any], acc: float, path: tuple[str, ...]) -> Any:
            logprob_of[path] = self.overconfidence * math.log(max(acc, 1e-9))
            ok = _unit(seed, ".".join(path)) < acc
            return truth if ok else _other(sub, truth, seed, ".".join(path))

        for key, sub in schema.get("properties", {}).items():
            if key == "candidates":
                per = {}
                for letter, text in replies:
                    cand_schema = sub["properties"][letter]
                    per[letter] = {q: decide(truth_value(text, q, qs), qs, truth_accuracy(text, q, lo, hi),
                                             ("candidates", letter, q))
                                   for q, qs in cand_schema.get("properties", {}).items()}
                answer[key] = per
            elif set(sub.get("enum", [])) >= {x.lower() for x in letters}:
                best = letters[truth_best(texts)].lower()
                acc = truth_accuracy("".join(sorted(texts)), key, lo, hi)
                if _unit(seed, "position_bias") < float(self.position_bias or 0.0):
                    logprob_of[(key,)] = self.overconfidence * math.log(max(acc, 1e-9))
                    answer[key] = letters[0].lower()
                else:
                    wrong = {**sub, "enum": [x.lower() for x in letters]}
                    answer[key] = decide(best, wrong, acc, (key,))
            else:
                answer[key] = decide(truth_value("".join(sorted(texts)), key, sub),
                                     sub, truth_accuracy("".join(sorted(texts)), key, lo, hi), (key,))
        return answer, logprob_of

    def _file_object(self, file_id: str) -> dict[str, Any]:
        f = self._files[file_id]
        return {"id": file_id, "object": "file", "bytes": len(f["data"]), "created_at": f["created_at"],
                "filename": f["filename"], "purpose": f["purpose"], "status": "processed"}

    def _store_file(self, data: bytes, filename: str, purpose: str) -> str:
        file_id = self._new_id("file")
        with self._lock:
            self._files[file_id] = {"data": data, "filename": filename, "purpose": purpose,
                                    "created_at": int(time.time())}
        return file_id

    def _run_batch(self, batch: dict[str, Any]) -> None:
        data = self._files[batch["input_file_id"]]["data"].decode("utf-8")
        out, err = [], []
        for line in data.splitlines():
            if not line.strip():
                continue
            req = json.loads(line)
            self._count("batch " + req.get("url", ""))
            status, answer = self.complete(req.get("body", {}))
            rid = self._new_id("req")
            if status == 200:
                out.append({"id": self._new_id("batch_req"), "custom_id": req.get("custom_id"),
                            "response": {"status_code": 200, "request_id": rid, "body": answer},
                            "error": None})
            else:
                err.append({"id": self._new_id("batch_req"), "custom_id": req.get("custom_id"),
                            "response": {"status_code": status, "request_id": rid, "body": answer},
                            "error": None})
        batch["request_counts"] = {"total": len(out) + len(err), "completed": len(out), "failed": len(err)}
        if out:
            blob = "".join(json.dumps(r) + "\n" for r in out).encode("utf-8")
            batch["output_file_id"] = self._store_file(blob, "batch_output.jsonl", "batch_output")
        if err:
            blob = "".join(json.dumps(r) + "\n" for r in err).encode("utf-8")
            batch["error_file_id"] = self._store_file(blob, "batch_errors.jsonl", "batch_output")
        batch["status"] = "completed"
        batch["completed_at"] = int(time.time())

    async def handle(self, method: str, path: str, headers: dict[str, str],
                     body: bytes) -> tuple[int, Any, dict[str, str]]:
        """Route one request (``headers`` with lower-case names).

        Returns ``(status, JSON answer or raw bytes, extra headers)``.
        """
        path = path.split("?", 1)[0]
        key = re.sub(r"/(file|batch)-\d+", r"/{id}", path)
        key = re.sub(r"^/v1/models/.+$", "/v1/models/{id}", key)
        self._count(f"{method} {key}")
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            got = (headers.get("authorization") or "").removeprefix("Bearer ")
            return 401, _error(f"Incorrect API key provided: {got}.", "invalid_request_error",
                               "invalid_api_key"), {}
        if method == "POST" and path == "/v1/chat/completions":
            return await self._chat(body)
        if method == "GET" and path == "/v1/models":
            return 200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]}, {}
        if method == "GET" and path.startswith("/v1/models/"):
            name = path[len("/v1/models/"):]
            if name not in self.models:
                return 404, _error(f"The model `{name}` does not exist.", "invalid_request_error",
                                   "model_not_found"), {}
            return 200, {"id": name, "object": "model", "created": 0, "owned_by": "fake"}, {}
        if method == "POST" and path == "/v1/files":
            return self._upload(headers, body)
        m = re.fullmatch(r"/v1/files/(file-\d+)(/content)?", path)
        if method == "GET" and m:
            if m.group(1) not in self._files:
                return 404, _error("No such File object", "invalid_request_error", None), {}
            if m.group(2):
                return 200, self._files[m.group(1)]["data"], {}
            return 200, self._file_object(m.group(1)), {}
        if method == "POST" and path == "/v1/batches":
            return self._create_batch(body)
        m = re.fullmatch(r"/v1/batches/(batch-\d+)", path)
        if method == "GET" and m:
            with self._lock:
                batch = self._batches.get(m.group(1))
            if batch is None:
                return 404, _error("No such Batch object", "invalid_request_error", None), {}
            batch["_polls"] += 1
            if batch["status"] != "completed" and batch["_polls"] >= self.batch_polls:
                self._run_batch(batch)
            elif batch["status"] == "validating":
                batch["status"] = "in_progress"
                batch["in_progress_at"] = int(time.time())
            return 200, {k: v for k, v in batch.items() if not k.startswith("_")}, {}
        return 404, _error(f"Unknown route {method} {path}", "invalid_request_error", None), {}

    async def _chat(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            try:
                request = json.loads(body)
            except json.JSONDecodeError:
                return 400, _error("We could not parse the JSON body of your request.",
                                   "invalid_request_error", None), {}
            with self._lock:
                self.chat_bodies.append(request)
            delay = self.latency + (self._take(self._slow) or 0.0)
            if delay:
                await asyncio.sleep(delay)
            failure = self._take(self._failures)
            if failure is not None:
                hdrs = {"retry-after-ms": str(self.retry_after_ms)}
                if failure == 429:
                    return 429, _error("Rate limit reached for requests", "requests", "rate_limit_exceeded"), hdrs
                return failure, _error("The server had an error while processing your request.",
                                       "server_error", None), hdrs
            status, answer = self.complete(request)
            return status, answer, {}
        finally:
            with self._lock:
                self.in_flight -= 1

    def _upload(self, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        raw = f"Content-Type: {headers.get('content-type')}\r\n\r\n".encode() + body
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        fields: dict[str, Any] = {}
        filename = "upload.jsonl"
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            filename = part.get_filename() or filename
            fields[str(name)] = payload
        if "file" not in fields or "purpose" not in fields:
            return 400, _error("file and purpose are required", "invalid_request_error", None), {}
        file_id = self._store_file(fields["file"], filename, fields["purpose"].decode("utf-8"))
        return 200, self._file_object(file_id), {}

    def _create_batch(self, body: bytes) -> tuple[int, Any, dict[str, str]]:
        req = json.loads(body)
        if req.get("input_file_id") not in self._files:
            return 400, _error("input_file_id does not exist", "invalid_request_error", None), {}
        batch_id = self._new_id("batch")
        batch = {
            "id": batch_id, "object": "batch", "endpoint": req.get("endpoint"), "errors": None,
            "input_file_id": req["input_file_id"], "completion_window": req.get("completion_window"),
            "status": "validating", "output_file_id": None, "error_file_id": None,
            "created_at": int(time.time()), "in_progress_at": None, "completed_at": None,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": req.get("metadata"), "_polls": 0,
        }
        with self._lock:
            self._batches[batch_id] = batch
        return 200, {k: v for k, v in batch.items() if not k.startswith("_")}, {}


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable"}


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        key, _, value = raw.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    else:
        body = await reader.readexactly(int(headers.get("content-length") or 0))
    return method, target, headers, body


def _encode_response(status: int, answer: Any, extra: dict[str, str]) -> bytes:
    if isinstance(answer, bytes):
        data, ctype = answer, "application/octet-stream"
    else:
        data, ctype = json.dumps(answer).encode("utf-8"), "application/json"
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", f"Content-Type: {ctype}",
            f"Content-Length: {len(data)}", "Connection: keep-alive"]
    head += [f"{k}: {v}" for k, v in extra.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data


def main(argv: list[str] | None = None) -> None:
    """Run the server until interrupted; print the base URL as the first line of stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="Accepted key ('' accepts any).")
    parser.add_argument("--model", action="append", help="A model that exists (repeatable).")
    parser.add_argument("--batch-polls", type=int, default=1)
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(latency=args.latency, port=args.port, api_key=args.api_key or None,
                              models=tuple(args.model or DEFAULT_MODELS), batch_polls=args.batch_polls)
    print(server.base_url, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
