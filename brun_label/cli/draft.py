"""``brun-label draft``: draft contrasting candidates for scenarios with an LLM.

Also holds the API options and the summary shared with ``brun-label judge``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from brun_label.cli.output import Progress, echo_json, info

_FORMATS = ("jsonl", "csv", "parquet")


def api_options(temperature: float, model_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the options every LLM command shares (model, endpoint, concurrency, cache, cost)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--model", default="gpt-4o-mini", show_default=True, help=model_help),
            click.option("--base-url", metavar="URL",
                         help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 for vLLM "
                              "(default: $OPENAI_BASE_URL, else OpenAI)."),
            click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True, metavar="NAME",
                         help="Environment variable holding the API key (the key itself is never "
                              "an option, and is never printed)."),
            click.option("--concurrency", type=click.IntRange(min=1), default=16, show_default=True,
                         help="Requests in flight at once."),
            click.option("--temperature", type=click.FloatRange(0, 2), default=temperature,
                         show_default=True),
            click.option("--seed", type=int, default=None, help="Sampling seed sent with each request."),
            click.option("--max-tokens", type=click.IntRange(min=1), default=None,
                         help="Cap on tokens per answer (not sent when unset)."),
            click.option("--max-retries", type=click.IntRange(min=0), default=5, show_default=True,
                         help="Client retries (with exponential backoff) on 429, 5xx and timeouts."),
            click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True,
                         help="Seconds per request."),
            click.option("--cache-dir", type=click.Path(file_okay=False, path_type=str),
                         help="Request cache folder (default: .brun-label/cache beside the output)."),
            click.option("--no-cache", is_flag=True,
                         help="Do not read or write the request cache (every request is paid again)."),
            click.option("--batch", is_flag=True,
                         help="Use OpenAI's Batch API (submit, poll, collect; half price, up to 24h)."),
            click.option("--poll-interval", type=click.FloatRange(min=0.0), default=30.0,
                         show_default=True, help="Seconds between Batch API status checks."),
            click.option("--price-in", type=click.FloatRange(min=0), default=None, metavar="USD",
                         help="Input price per 1M tokens for the cost estimate (default: built-in table)."),
            click.option("--price-out", type=click.FloatRange(min=0), default=None, metavar="USD",
                         help="Output price per 1M tokens for the cost estimate."),
            click.option("--format", "fmt", type=click.Choice(_FORMATS),
                         help="Input file format (default: by extension)."),
            click.option("--json", "as_json", is_flag=True, help="Print the run summary as one JSON object."),
        ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


class LazyProgress:
    """A progress bar on stderr that learns its total on the first update."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Progress | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = Progress(total, self.label)
        self.bar.update(done - self.bar.done)

    def close(self) -> None:
        """Finish the bar."""
        if self.bar is not None:
            self.bar.close()


def _money(value: float | None) -> str:
    return "unknown (no price for this model; pass --price-in/--price-out)" if value is None else f"${value:,.4f}"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """Return the human-readable run summary."""
    req = summary["requests"]
    tokens = summary["tokens"]
    lines = []
    if summary["command"] == "draft":
        lines.append(f"drafted {summary['candidates']} candidates for {summary['samples']} of "
                     f"{summary['scenarios']} scenarios -> {summary['output']}")
    else:
        lines.append(f"judged {summary['judged']} of {summary['samples']} samples with "
                     f"{summary['model']} -> {summary['output']}")
    lines.append(f"requests: {req['sent']} sent, {req['cached']} from the cache, {req['redraws']} "
                 f"redraws, {req['invalid']} invalid")
    prices = summary.get("prices_per_1m")
    basis = (f" ({summary['model']} at ${prices['input']:g}/${prices['output']:g} per 1M tokens"
             f"{', batch price' if summary['batch'] else ''}; an estimate)" if prices else "")
    lines.append(f"tokens: {tokens['prompt']:,} prompt + {tokens['completion']:,} completion; "
                 f"estimated cost {_money(summary['cost_usd'])}{basis}")
    if summary["requests"]["cached"]:
        lines.append(f"whole job incl. cached answers: {_money(summary['job_cost_usd'])}")
    if summary["batch_ids"]:
        lines.append("batches: " + ", ".join(summary["batch_ids"]))
    return lines


def report(summary: dict[str, Any], as_json: bool, problems: list[str]) -> None:
    """Print the summary (stdout) and the left-out items (stderr)."""
    for p in problems[:20]:
        info(f"Warning: {p}")
    if len(problems) > 20:
        info(f"Warning: ... and {len(problems) - 20} more")
    if as_json:
        echo_json(summary)
    else:
        for line in summary_lines(summary):
            click.echo(line)


@click.command()
@click.argument("scenarios", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Samples file to write (JSONL, written atomically at the end).")
@click.option("--rubric", required=True, help="Rubric pack name or rubric file (its personas file sits beside it).")
@click.option("--candidates", type=click.IntRange(min=2), default=4, show_default=True,
              help="Candidates per scenario.")
@click.option("--personas", default=None, metavar="A,B,...",
              help="Draft with these personas (cycled) instead of the contrast choice.")
@click.option("--personas-file", type=click.Path(dir_okay=False, path_type=str),
              help="Persona/arc templates (default: <rubric>.personas.yaml).")
@api_options(temperature=0.9, model_help="Model that drafts the candidates.")
def draft(scenarios: str, output: str, rubric: str, candidates: int, personas: str | None,
          personas_file: str | None, model: str, base_url: str | None, api_key_env: str,
          concurrency: int, temperature: float, seed: int | None, max_tokens: int | None,
          max_retries: int, timeout: float, cache_dir: str | None, no_cache: bool, batch: bool,
          poll_interval: float, price_in: float | None, price_out: float | None, fmt: str | None,
          as_json: bool) -> None:
    """Draft contrasting candidate replies for each scenario with an LLM.

    Each scenario (a sample without candidates) gets CANDIDATES replies drafted under different
    personas and emotional arcs from the rubric's persona pack: the in-zone persona and the most
    out-of-zone ones, so annotators see them side by side. Every answer is cached as it arrives:
    an interrupted run resumes without repeating a paid request, and a re-run costs nothing.
    The summary gives token usage and an estimated cost.

    \b
    Example:
      export OPENAI_API_KEY=...
      brun-label draft scenarios.jsonl -o samples.jsonl --rubric de-escalation --candidates 4
      brun-label draft scenarios.jsonl -o samples.jsonl --rubric de-escalation \\
          --model llama3.1 --base-url http://localhost:11434/v1 --concurrency 8
    """
    from brun_label.importers.draft import DraftOptions, draft_file
    from brun_label.importers.openai_client import ApiConfig

    names = tuple(n.strip() for n in personas.split(",") if n.strip()) if personas else ()
    bar = LazyProgress("drafting")
    try:
        summary = draft_file(
            scenarios, output, rubric=rubric,
            options=DraftOptions(model=model, candidates=candidates, temperature=temperature,
                                 seed=seed, max_tokens=max_tokens, personas=names),
            api_config=ApiConfig(base_url=base_url, api_key_env=api_key_env,
                                 max_retries=max_retries, timeout=timeout),
            cache_dir=cache_dir, use_cache=not no_cache, concurrency=concurrency, batch=batch,
            poll_interval=poll_interval, fmt=fmt, personas_file=personas_file,
            price_in=price_in, price_out=price_out, on_progress=bar, on_status=info)
    finally:
        bar.close()
    report(summary, as_json, summary["dropped"])
