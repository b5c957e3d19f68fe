"""Run a job of LLM requests from an input file to a JSONL output (shared by ``draft`` and ``judge``).

``draft`` and ``judge`` differ in what they ask and how they read the answers; everything around
that is the same and lives here:

* :func:`answer_slots` answers a list of :class:`~brun_label.importers.openai_client.Slot` with
  one :class:`~brun_label.importers.openai_client.Api` client, either with bounded concurrency
  (:func:`~brun_label.importers.openai_client.run_requests`) or through the Batch API
  (:func:`~brun_label.importers.openai_client.run_batch`), reading and writing the request cache,
  and returns the answers with the run's :class:`~brun_label.importers.openai_client.RunStats`.
  It reads and writes the cache through the view for the endpoint's base URL
  (:meth:`~brun_label.importers.request_cache.RequestCache.for_endpoint`): the same body sent to
  another server is another request.
* :func:`run_job` opens the request cache (beside the output unless told otherwise), runs the
  job, writes the samples atomically and returns the JSON summary (usage, estimated cost, the
  command's own fields, then the cache folder).
* :class:`RunSettings` / :class:`JobSettings` name the keyword arguments both commands take, so
  ``draft_file``/``judge_file`` (and their async halves) declare them once.

Examples
--------
>>> check_output_path("out.jsonl")
>>> check_output_path("out.csv")
Traceback (most recent call last):
...
brun_label.errors.InputError: out.csv: -o: output is written as JSONL: use a .jsonl file name
>>> default_cache_dir("/data/run/samples.jsonl").as_posix()
'/data/run/.brun-label/cache'
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

from brun_label.atomic import atomic_path
from brun_label.errors import InputError
from brun_label.importers.openai_client import (
    Answer,
    Api,
    ApiConfig,
    RunStats,
    Slot,
    Validator,
    price_for,
    run_batch,
    run_requests,
)
from brun_label.importers.request_cache import RequestCache
from brun_label.model import Sample

_OUTPUT_SUFFIXES = (".jsonl", ".ndjson", ".json")


class RunSettings(TypedDict, total=False):
    """How to send a job's requests (every key optional; defaults as in :func:`answer_slots`)."""

    concurrency: int
    batch: bool
    poll_interval: float
    max_redraws: int
    on_progress: Callable[[int, int], None] | None
    on_status: Callable[[str], None] | None


class JobSettings(RunSettings, total=False):
    """:class:`RunSettings` plus where the cache lives and the price overrides (see :func:`run_job`)."""

    cache_dir: str | Path | None
    use_cache: bool
    price_in: float | None
    price_out: float | None


_JOB_ONLY = ("cache_dir", "use_cache", "price_in", "price_out")


@dataclass
class JobResult:
    """What a job returns: the samples to write and what the run cost (commands add their notes)."""

    samples: list[Sample]
    stats: RunStats


R = TypeVar("R", bound=JobResult)


def default_cache_dir(output: str | Path) -> Path:
    """Return the default cache folder: ``.brun-label/cache`` beside the output file.

    Beside the output rather than in the working directory, so that re-running the same job from
    anywhere finds the answers it already paid for.
    """
    return Path(output).resolve().parent / ".brun-label" / "cache"


def check_output_path(output: str | Path) -> None:
    """Refuse an output path that is not a JSONL file name."""
    if Path(output).suffix.lower() not in _OUTPUT_SUFFIXES:
        raise InputError("output is written as JSONL: use a .jsonl file name", path=str(output), field="-o")


def write_samples(path: str | Path, samples: Sequence[Sample]) -> None:
    """Write samples as JSONL, atomically (a reader sees the old file or the whole new one)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for s in samples:
            fh.write(json.dumps(s.to_dict(), ensure_ascii=False) + "\n")


async def answer_slots(
    slots: Sequence[Slot],
    model: str,
    api_config: ApiConfig,
    cache: RequestCache,
    validate: Validator | None,
    *,
    concurrency: int = 16,
    batch: bool = False,
    poll_interval: float = 30.0,
    max_redraws: int = 2,
    on_progress: Callable[[int, int], None] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> tuple[dict[Any, Answer | None], RunStats]:
    """Answer every slot (cache first) with requests or the Batch API; return answers and stats.

    ``on_progress`` is called by the request loop, ``on_status`` by the Batch API loop; an answer
    ``validate`` rejects is redrawn up to ``max_redraws`` times, then given as None. Answers are
    cached per endpoint (``api_config``'s resolved base URL), never per API key.

    >>> answers, stats = asyncio.run(answer_slots([], "m", ApiConfig(), RequestCache(None), None))
    >>> answers, stats.summary(None)["requests"]
    ({}, {'wanted': 0, 'sent': 0, 'cached': 0, 'redraws': 0, 'invalid': 0})
    """
    stats = RunStats(model=model)
    cache = cache.for_endpoint(api_config.resolved_base_url())
    async with Api(api_config) as api:
        if batch:
            answers = await run_batch(api, slots, cache, stats=stats, validate=validate,
                                      max_redraws=max_redraws, poll_interval=poll_interval,
                                      on_status=on_status)
        else:
            answers = await run_requests(api, slots, cache, stats=stats, concurrency=concurrency,
                                         validate=validate, max_redraws=max_redraws,
                                         on_progress=on_progress)
    return answers, stats


def run_job(
    output: str | Path,
    model: str,
    job: Callable[[RequestCache, RunSettings], Coroutine[Any, Any, R]],
    details: Callable[[R], dict[str, Any]],
    **settings: Unpack[JobSettings],
) -> dict[str, Any]:
    """Run ``job(cache, run_settings)`` under the request cache, write its samples, return the summary.

    The cache folder is ``cache_dir``, or :func:`default_cache_dir` of ``output``; none when
    ``use_cache`` is false. The summary is :meth:`RunStats.summary` at ``model``'s price (or the
    ``price_in``/``price_out`` overrides), then ``details(result)``, then ``"cache"``.
    """
    use_cache = settings.get("use_cache", True)
    folder = (settings.get("cache_dir") or default_cache_dir(output)) if use_cache else None
    run: RunSettings = {k: v for k, v in settings.items() if k not in _JOB_ONLY}  # type: ignore[assignment]
    with RequestCache(folder) as cache:
        result = asyncio.run(job(cache, run))
    write_samples(output, result.samples)
    summary = result.stats.summary(price_for(model, settings.get("price_in"), settings.get("price_out")))
    summary.update(details(result))
    summary["cache"] = None if folder is None else str(Path(folder))
    return summary


__all__ = [
    "JobResult",
    "JobSettings",
    "RunSettings",
    "answer_slots",
    "check_output_path",
    "default_cache_dir",
    "run_job",
    "write_samples",
]
