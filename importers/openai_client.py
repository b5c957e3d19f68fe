"""The OpenAI adapter: the real ``openai`` client, the request cache, bounded concurrency, Batch API.

Works with OpenAI and with any server behind the same API (vLLM, Ollama, llama.cpp, LiteLLM).

* :class:`Api` wraps one ``AsyncOpenAI`` client. The client does the retries and the exponential
  backoff on 429, 5xx, connection errors and timeouts (``max_retries``); whatever still fails is
  mapped to one :mod:`brun_label.errors` exception with one clear line (:func:`map_error`). The API
  key is read from an environment variable and registered as a secret, so it is redacted from
  every message; it never reaches the cache or the output.
* :func:`run_requests` answers a list of :class:`Slot` (one wanted answer each) with at most
  ``concurrency`` requests in flight, reading and writing the :class:`RequestCache` so that an
  interrupted run resumes without repeating a paid request.
* :func:`run_batch` does the same through the Batch API (upload, create, poll, collect) for runs
  where one machine's request loop is the bottleneck; submitted batch ids are cached too.
* :data:`PRICES_PER_1M` and :func:`estimate_cost` give the estimated cost of a run.

Examples
--------
>>> price_for("gpt-4o-mini-2024-07-18")
(0.15, 0.6)
>>> round(estimate_cost(1_000_000, 500_000, (0.15, 0.6)), 4), estimate_cost(10, 10, None)
(0.45, None)
>>> a = Answer.from_completion({"model": "m", "choices": [{"message": {"content": "Hi"},
...     "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 1}})
>>> a.content, a.prompt_tokens, Answer.from_json(a.to_json()) == a
('Hi', 5, True)
>>> display_url("https://user:pw@api.example.com/v1?x=1")
'https://api.example.com/v1'
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai

from brun_label.errors import (
    AuthenticationError,
    BackendConnectionError,
    BrunLabelError,
    InputError,
    NotFoundError,
    ServerError,
)
from brun_label.importers.request_cache import RequestCache, request_key
from brun_label.secrets import redact, register_secret

DEFAULT_BASE_URL = "https://api.openai.com/v1"
CHAT_PATH = "/chat/completions"
#: The Batch API takes at most this many requests per batch.
BATCH_MAX_REQUESTS = 50_000
_TERMINAL = ("completed", "failed", "expired", "cancelled")

#: Estimated prices in USD per 1M tokens (input, output), from OpenAI's public price list of
#: 2025. An estimate only: prices change, cached-input discounts are ignored, and local servers
#: cost nothing here. Override with ``--price-in/--price-out``. Model names match by prefix
#: (``gpt-4o-mini-2024-07-18`` uses ``gpt-4o-mini``), longest prefix first.
PRICES_PER_1M: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5": (1.25, 10.00),
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "gpt-3.5-turbo": (0.50, 1.50),
}
#: The Batch API bills half the synchronous price.
BATCH_DISCOUNT = 0.5


def price_for(model: str, price_in: float | None = None,
              price_out: float | None = None) -> tuple[float, float] | None:
    """Return ``(input, output)`` USD per 1M tokens for ``model`` (overrides win), or None if unknown."""
    known = None
    for name in sorted(PRICES_PER_1M, key=len, reverse=True):
        if model == name or model.startswith(name + "-"):
            known = PRICES_PER_1M[name]
            break
    if price_in is None and price_out is None:
        return known
    return (price_in if price_in is not None else (known[0] if known else 0.0),
            price_out if price_out is not None else (known[1] if known else 0.0))


def estimate_cost(prompt_tokens: int, completion_tokens: int, prices: tuple[float, float] | None,
                  *, batch: bool = False) -> float | None:
    """Return the estimated USD cost of these tokens (None when the price is unknown)."""
    if prices is None:
        return None
    cost = (prompt_tokens * prices[0] + completion_tokens * prices[1]) / 1_000_000
    return cost * BATCH_DISCOUNT if batch else cost


def display_url(url: str) -> str:
    """Return ``url`` without credentials or query, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


# -- configuration and errors ------------------------------------------------------------------
@dataclass(frozen=True)
class ApiConfig:
    """Where and how to call the API.

    ``base_url`` None means ``$OPENAI_BASE_URL`` or OpenAI itself; the key is read from the
    environment variable ``api_key_env`` (never passed on the command line, so it stays out of
    shell history and process lists).
    """

    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    max_retries: int = 5
    timeout: float = 120.0

    def resolved_base_url(self) -> str:
        """Return the base URL that will be used."""
        return (self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


def _server_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    message = None
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            message = inner.get("message")
        elif isinstance(inner, str):
            message = inner
    text = str(message) if message else exc.message
    text = " ".join(redact(text).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _error_code(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("code") is not None:
            return str(inner.get("code"))
    return None


def map_error(exc: openai.OpenAIError, config: ApiConfig, model: str | None = None) -> BrunLabelError:
    """Map an ``openai`` exception (after the client's own retries) to one clear brun-label error."""
    where = display_url(config.resolved_base_url())
    retries = f"after {config.max_retries} retries"
    resume = "finished requests are cached: re-run to resume"
    if isinstance(exc, openai.APITimeoutError):
        return BackendConnectionError(
            f"{where} did not answer within {config.timeout:g}s ({retries}); raise --timeout or "
            f"lower --concurrency ({resume})")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        reason = redact(str(cause).splitlines()[0]) if str(cause) else cause.__class__.__name__
        return BackendConnectionError(
            f"cannot reach {where} ({reason}) {retries}; check --base-url and that the server is running")
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return AuthenticationError(
            f"{where} rejected the API key from ${config.api_key_env} "
            f"({exc.status_code}: {_server_detail(exc)})")
    if isinstance(exc, openai.NotFoundError):
        return NotFoundError(
            f"model {model!r} not found at {where} (404: {_server_detail(exc)}); check --model "
            "and --base-url")
    if isinstance(exc, openai.RateLimitError):
        if _error_code(exc) == "insufficient_quota":
            return ServerError(f"{where}: the account behind ${config.api_key_env} is out of quota "
                               f"(429: {_server_detail(exc)})")
        return ServerError(
            f"still rate-limited by {where} {retries} (429: {_server_detail(exc)}); lower "
            f"--concurrency or try later ({resume})")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return ServerError(
                f"{where} failed with {exc.status_code} {retries}: {_server_detail(exc)} ({resume})")
        return ServerError(f"{where} refused the request ({exc.status_code}: {_server_detail(exc)})")
    return ServerError(f"OpenAI client error: {redact(str(exc)).splitlines()[0] if str(exc) else exc!r}")


# -- answers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """The part of a chat completion brun-label keeps (and caches).

    ``draw`` (not cached) tells which redraw of its slot gave this answer (0: the first).
    """

    content: str
    finish_reason: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    draw: int = 0
    #: ``(token, logprob)`` of each answer token, when the request asked for ``logprobs`` and the
    #: endpoint returned them (``None`` otherwise).
    logprobs: tuple[tuple[str, float], ...] | None = None

    @classmethod
    def from_completion(cls, obj: Any) -> Answer:
        """Read a chat completion (JSON form); :class:`ServerError` when it is not one."""
        try:
            choice = obj["choices"][0]
            message = choice.get("message") or {}
            content = message.get("content")
            finish = choice.get("finish_reason")
            if content is None and message.get("refusal"):
                content, finish = "", "refusal"
            usage = obj.get("usage") or {}
            return cls(
                content=str(content or ""),
                finish_reason=None if finish is None else str(finish),
                model=None if obj.get("model") is None else str(obj.get("model")),
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                logprobs=_token_logprobs(choice.get("logprobs")),
            )
        except (KeyError, IndexError, TypeError, AttributeError, ValueError):
            raise ServerError("the server's answer is not a chat completion (no choices[0].message)") from None

    def to_json(self) -> dict[str, Any]:
        """Return the cached form."""
        out: dict[str, Any] = {"content": self.content, "finish_reason": self.finish_reason, "model": self.model,
                               "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}
        if self.logprobs is not None:
            out["logprobs"] = [list(t) for t in self.logprobs]
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Answer:
        """Inverse of :meth:`to_json`."""
        return cls(content=str(obj.get("content") or ""), finish_reason=obj.get("finish_reason"),
                   model=obj.get("model"), prompt_tokens=int(obj.get("prompt_tokens") or 0),
                   completion_tokens=int(obj.get("completion_tokens") or 0),
                   logprobs=_token_logprobs({"content": [{"token": t, "logprob": lp} for t, lp in obj["logprobs"]]})
                   if obj.get("logprobs") is not None else None)


def _token_logprobs(raw: Any) -> tuple[tuple[str, float], ...] | None:
    """Read ``choices[0].logprobs`` (``{"content": [{"token", "logprob"}…]}``); None when absent or malformed."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("content"), list):
        return None
    out = []
    for t in raw["content"]:
        if not isinstance(t, Mapping) or not isinstance(t.get("token"), str) or not isinstance(t.get("logprob"), int | float):
            return None
        out.append((t["token"], float(t["logprob"])))
    return tuple(out)


class Api:
    """One ``AsyncOpenAI`` client with brun-label's error mapping (use ``async with``).

    The client is made on first use, so a run answered wholly from the cache needs no key.
    """

    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self.base_url = config.resolved_base_url()
        self._client: openai.AsyncOpenAI | None = None

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The ``AsyncOpenAI`` client (made on first use)."""
        if self._client is None:
            key = os.environ.get(self.config.api_key_env) or None
            register_secret(key)
            if key is None:
                if urlsplit(self.base_url).hostname == "api.openai.com":
                    raise InputError(f"no API key: set ${self.config.api_key_env} (or name another "
                                     "variable with --api-key-env)", field="--api-key-env")
                key = "no-key"  # vLLM, Ollama and llama.cpp accept any key unless started with one
            self._client = openai.AsyncOpenAI(api_key=key, base_url=self.base_url,
                                              max_retries=self.config.max_retries,
                                              timeout=self.config.timeout)
        return self._client

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()

    async def chat(self, body: Mapping[str, Any]) -> Answer:
        """Send one chat completion request; return its :class:`Answer`."""
        try:
            # The client's documented escape hatch for a plain JSON body: it keeps the client's
            # auth, retries and backoff but skips the typed-params transform and the pydantic
            # parse (~1 ms of CPU per request, a fifth of the budget at 32 requests in flight).
            raw = await self.client.post(CHAT_PATH, cast_to=object, body=dict(body))
        except openai.OpenAIError as exc:
            raise map_error(exc, self.config, str(body.get("model"))) from None
        return Answer.from_completion(raw)

    async def upload_batch(self, data: bytes, filename: str) -> str:
        """Upload a Batch API input file; return its id."""
        try:
            f = await self.client.files.create(file=(filename, data, "application/jsonl"), purpose="batch")
        except openai.OpenAIError as exc:
            raise map_error(exc, self.config) from None
        return str(f.id)

    async def create_batch(self, file_id: str, metadata: dict[str, str]) -> str:
        """Create a chat-completions batch over an uploaded file; return the batch id."""
        try:
            b = await self.client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions",
                                                 completion_window="24h", metadata=metadata)
        except openai.OpenAIError as exc:
            raise map_error(exc, self.config) from None
        return str(b.id)

    async def retrieve_batch(self, batch_id: str) -> Any:
        """Return the Batch object."""
        try:
            return await self.client.batches.retrieve(batch_id)
        except openai.OpenAIError as exc:
            raise map_error(exc, self.config) from None

    async def file_text(self, file_id: str) -> str:
        """Return the text of a file (a batch's output or error file)."""
        try:
            content = await self.client.files.content(file_id)
        except openai.OpenAIError as exc:
            raise map_error(exc, self.config) from None
        return str(content.text)


# -- running many requests ---------------------------------------------------------------------
@dataclass(frozen=True)
class Slot:
    """One answer a caller wants: a request ``body`` and which ``variant`` of it.

    ``id`` is the caller's handle for the answer. Identical bodies with different ``variant`` get
    independent answers (and cache entries). A redraw after an invalid answer moves the ``seed``
    (when the body has one) so that a seeded server answers differently.
    """

    id: Any
    body: Mapping[str, Any]
    variant: int = 0

    def body_for(self, draw: int) -> dict[str, Any]:
        """Return the request body of redraw number ``draw`` (0: the original)."""
        body = dict(self.body)
        if draw and isinstance(body.get("seed"), int):
            body["seed"] = body["seed"] + 1000 * draw
        return body

    def key(self, draw: int = 0) -> str:
        """Return the cache key of redraw ``draw``."""
        return request_key(self.body_for(draw), variant=self.variant, draw=draw)


#: ``validate(slot_id, answer)`` returns a problem (str) or None when the answer is usable.
Validator = Callable[[Any, Answer], "str | None"]


@dataclass
class RunStats:
    """What a run did: requests, cache hits, tokens, cost."""

    model: str
    slots: int = 0
    sent: int = 0
    cached: int = 0
    redraws: int = 0
    invalid: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    batch: bool = False
    batch_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    elapsed: float = 0.0

    def add(self, answer: Answer, *, cached: bool) -> None:
        """Count one answer, read from the cache or paid for in this run."""
        if cached:
            self.cached += 1
            self.cached_prompt_tokens += answer.prompt_tokens
            self.cached_completion_tokens += answer.completion_tokens
        else:
            self.sent += 1
            self.prompt_tokens += answer.prompt_tokens
            self.completion_tokens += answer.completion_tokens

    def note(self, problem: str) -> None:
        """Keep the first few problems for the summary."""
        if len(self.problems) < 5:
            self.problems.append(problem)

    def summary(self, prices: tuple[float, float] | None) -> dict[str, Any]:
        """Return the JSON summary (cost of this run and of the whole job, as estimates)."""
        total_in = self.prompt_tokens + self.cached_prompt_tokens
        total_out = self.completion_tokens + self.cached_completion_tokens
        cost = estimate_cost(self.prompt_tokens, self.completion_tokens, prices, batch=self.batch)
        job = estimate_cost(total_in, total_out, prices, batch=self.batch)
        return {
            "model": self.model,
            "requests": {"wanted": self.slots, "sent": self.sent, "cached": self.cached,
                         "redraws": self.redraws, "invalid": self.invalid},
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "tokens_with_cached": {"prompt": total_in, "completion": total_out},
            "cost_usd": None if cost is None else round(cost, 6),
            "job_cost_usd": None if job is None else round(job, 6),
            "prices_per_1m": None if prices is None else {"input": prices[0], "output": prices[1]},
            "batch": self.batch,
            "batch_ids": list(self.batch_ids),
            "problems": list(self.problems),
            "elapsed_s": round(self.elapsed, 3),
        }


def _check(validate: Validator | None, slot: Slot, answer: Answer, stats: RunStats) -> str | None:
    problem = validate(slot.id, answer) if validate is not None else None
    if problem is not None:
        stats.note(problem)
    return problem


async def _fetch(api: Api, key: str, body: Mapping[str, Any], cache: RequestCache, stats: RunStats,
                 inflight: dict[str, asyncio.Future[Answer]]) -> Answer:
    """Return the answer of one request: cached, already in flight in this run, or sent now."""
    cached = cache.get(key)
    if cached is not None:
        answer = Answer.from_json(cached)
        stats.add(answer, cached=True)
        return answer
    pending = inflight.get(key)
    if pending is not None:  # the very same request is on its way: wait for it, pay once
        answer = await asyncio.shield(pending)
        stats.add(answer, cached=True)
        return answer
    future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
    inflight[key] = future
    try:
        answer = await api.chat(body)
        cache.put(key, answer.to_json())  # committed now: a kill after this loses nothing
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # retrieved: no "never retrieved" warning when nobody waits
        raise
    finally:
        inflight.pop(key, None)
    future.set_result(answer)
    stats.add(answer, cached=False)
    return answer


async def _resolve(api: Api, slot: Slot, cache: RequestCache, validate: Validator | None,
                   max_redraws: int, stats: RunStats,
                   inflight: dict[str, asyncio.Future[Answer]]) -> Answer | None:
    for draw in range(max_redraws + 1):
        if draw:
            stats.redraws += 1
        answer = await _fetch(api, slot.key(draw), slot.body_for(draw), cache, stats, inflight)
        if _check(validate, slot, answer, stats) is None:
            return replace(answer, draw=draw)
    stats.invalid += 1
    return None


async def run_requests(
    api: Api,
    slots: Sequence[Slot],
    cache: RequestCache,
    *,
    stats: RunStats,
    concurrency: int = 16,
    validate: Validator | None = None,
    max_redraws: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[Any, Answer | None]:
    """Answer every slot (from the cache or the API) with at most ``concurrency`` requests in flight.

    Returns ``{slot.id: answer}``; None for a slot whose answers stayed invalid after
    ``max_redraws`` redraws. The first error that the client's retries could not fix cancels the
    rest of the run and is raised (answers already received stay cached). ``on_progress(done,
    total)`` is called after each slot.
    """
    if concurrency < 1:
        raise InputError("must be at least 1", field="--concurrency")
    started = time.perf_counter()
    stats.slots += len(slots)
    results: dict[Any, Answer | None] = {}
    queue = iter(slots)
    inflight: dict[str, asyncio.Future[Answer]] = {}

    async def worker() -> None:
        for slot in queue:
            results[slot.id] = await _resolve(api, slot, cache, validate, max_redraws, stats, inflight)
            if on_progress is not None:
                on_progress(len(results), len(slots))

    tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(slots)))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        stats.elapsed += time.perf_counter() - started
    return results


# -- the Batch API -----------------------------------------------------------------------------
async def _collect_batch(api: Api, batch: Any, cache: RequestCache, stats: RunStats,
                         fresh: set[str]) -> list[str]:
    """Cache every answer of a finished batch (keys added to ``fresh``); return failed requests."""
    failures: list[str] = []
    if batch.output_file_id:
        for line in (await api.file_text(batch.output_file_id)).splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            response = rec.get("response") or {}
            if response.get("status_code") == 200 and rec.get("custom_id"):
                answer = Answer.from_completion(response.get("body"))
                cache.put(str(rec["custom_id"]), answer.to_json())
                fresh.add(str(rec["custom_id"]))
                stats.add(answer, cached=False)
            else:
                failures.append(_batch_line_error(rec))
    if batch.error_file_id:
        for line in (await api.file_text(batch.error_file_id)).splitlines():
            if line.strip():
                failures.append(_batch_line_error(json.loads(line)))
    if batch.status == "failed":
        errors = getattr(getattr(batch, "errors", None), "data", None) or []
        msgs = "; ".join(redact(str(getattr(e, "message", e))) for e in errors[:3]) or "no reason given"
        failures.append(f"batch {batch.id} failed: {msgs}")
    elif batch.status in ("expired", "cancelled"):
        failures.append(f"batch {batch.id} {batch.status} before every request was answered")
    return failures


def _batch_line_error(rec: Mapping[str, Any]) -> str:
    response = rec.get("response") or {}
    body = response.get("body") or {}
    error = rec.get("error") or (body.get("error") if isinstance(body, Mapping) else None) or {}
    message = error.get("message") if isinstance(error, Mapping) else str(error)
    status = response.get("status_code")
    return redact(f"request {str(rec.get('custom_id'))[:12]}: {status or 'error'}: {message}")


async def run_batch(
    api: Api,
    slots: Sequence[Slot],
    cache: RequestCache,
    *,
    stats: RunStats,
    validate: Validator | None = None,
    max_redraws: int = 2,
    poll_interval: float = 30.0,
    max_per_batch: int = BATCH_MAX_REQUESTS,
    on_status: Callable[[str], None] | None = None,
) -> dict[Any, Answer | None]:
    """Answer every slot through the Batch API: upload, create, poll, collect into the cache.

    Answers already cached are not submitted; a batch submitted by an interrupted run is polled
    again rather than submitted twice. Invalid answers are redrawn in a follow-up batch. Raises
    :class:`ServerError` when requests of a batch failed (the others stay cached: re-run to
    resubmit only the failed ones).
    """
    started = time.perf_counter()
    stats.slots += len(slots)
    stats.batch = True
    results: dict[Any, Answer | None] = {}
    draws: dict[Any, int] = {slot.id: 0 for slot in slots}
    fresh: set[str] = set()  # keys answered by this run's batches (counted as sent, not cached)
    pending = list(slots)
    try:
        while pending:
            to_send: list[tuple[Slot, str, dict[str, Any]]] = []
            for slot in pending:
                draw = draws[slot.id]
                while True:
                    key = slot.key(draw)
                    cached = cache.get(key)
                    if cached is None:
                        to_send.append((slot, key, slot.body_for(draw)))
                        break
                    answer = Answer.from_json(cached)
                    if key not in fresh:
                        stats.add(answer, cached=True)
                    if _check(validate, slot, answer, stats) is None:
                        results[slot.id] = replace(answer, draw=draw)
                        break
                    if draw >= max_redraws:
                        results[slot.id] = None
                        stats.invalid += 1
                        break
                    draw += 1
                    stats.redraws += 1
                draws[slot.id] = draw
            if not to_send:
                break
            failures = await _submit_and_wait(api, to_send, cache, stats, fresh, poll_interval,
                                              max_per_batch, on_status)
            if failures:
                raise ServerError(
                    f"{len(failures)} batch request(s) failed (first: {failures[0]}); the answers "
                    "that came back are cached: re-run to resubmit only the rest")
            pending = [slot for slot, _, _ in to_send]  # validated next round, from the cache
    finally:
        stats.elapsed += time.perf_counter() - started
    return results


async def _submit_and_wait(
    api: Api,
    to_send: Sequence[tuple[Slot, str, dict[str, Any]]],
    cache: RequestCache,
    stats: RunStats,
    fresh: set[str],
    poll_interval: float,
    max_per_batch: int,
    on_status: Callable[[str], None] | None,
) -> list[str]:
    jobs: list[tuple[str, str]] = []
    for start in range(0, len(to_send), max_per_batch):
        chunk = to_send[start:start + max_per_batch]
        job = hashlib.sha256("\n".join(sorted(key for _, key, _ in chunk)).encode()).hexdigest()
        batch_id = cache.batch_for(job)
        if batch_id is None:
            lines = "".join(
                json.dumps({"custom_id": key, "method": "POST", "url": "/v1/chat/completions",
                            "body": body}, ensure_ascii=False, separators=(",", ":")) + "\n"
                for _, key, body in chunk)
            file_id = await api.upload_batch(lines.encode("utf-8"), f"brun-label-{job[:12]}.jsonl")
            batch_id = await api.create_batch(file_id, {"brun_label_job": job[:32]})
            cache.set_batch(job, batch_id)
            if on_status is not None:
                on_status(f"submitted batch {batch_id} ({len(chunk)} requests)")
        elif on_status is not None:
            on_status(f"resuming batch {batch_id} submitted by an earlier run")
        if batch_id not in stats.batch_ids:
            stats.batch_ids.append(batch_id)
        jobs.append((job, batch_id))
    failures: list[str] = []
    waiting = list(jobs)
    while waiting:
        still: list[tuple[str, str]] = []
        for job, batch_id in waiting:
            batch = await api.retrieve_batch(batch_id)
            if batch.status in _TERMINAL:
                failures += await _collect_batch(api, batch, cache, stats, fresh)
                cache.drop_batch(job)
                if on_status is not None:
                    on_status(f"batch {batch_id} {batch.status}")
            else:
                counts = getattr(batch, "request_counts", None)
                done = f" {counts.completed}/{counts.total}" if counts and counts.total else ""
                if on_status is not None:
                    on_status(f"batch {batch_id} {batch.status}{done}")
                still.append((job, batch_id))
        waiting = still
        if waiting:
            await asyncio.sleep(poll_interval)
    return failures


__all__ = [
    "BATCH_MAX_REQUESTS",
    "PRICES_PER_1M",
    "Answer",
    "Api",
    "ApiConfig",
    "RunStats",
    "Slot",
    "estimate_cost",
    "map_error",
    "price_for",
    "run_batch",
    "run_requests",
]
