"""``brun-label judge``: an LLM judge answers the rubric's questions for every candidate."""

from __future__ import annotations

from typing import Any

import click

from brun_label.cli.draft import LazyProgress, api_options, report
from brun_label.cli.output import info


@click.command()
@click.argument("samples", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="Judged samples file to write (JSONL, written atomically at the end).")
@click.option("--rubric", required=True, help="Rubric pack name or rubric file.")
@click.option("--swap-check", is_flag=True,
              help="Ask each sample again with the candidates in reverse order; answers that change are "
                   "marked inconsistent and never pushed (twice the requests).")
@click.option("--logprobs/--no-logprobs", default=True, show_default=True,
              help="Ask for token log-probabilities (the judge's own confidence); --no-logprobs for "
                   "endpoints that refuse the parameter.")
@click.option("--calibrate-with", type=click.Path(dir_okay=False, path_type=str), metavar="TABLE",
              help="Annotation table: calibrate the judge's confidence against its clear human consensus "
                   "(cross-validated) and store the calibrated confidence with every answer.")
@click.option("--calibration", "calibration_method", type=click.Choice(["isotonic", "logistic"]),
              default="isotonic", show_default=True, help="Calibration model (scikit-learn).")
@api_options(temperature=0.0, model_help="Model that judges.")
def judge(samples: str, output: str, rubric: str, swap_check: bool, logprobs: bool,
          calibrate_with: str | None, calibration_method: str, model: str,
          base_url: str | None, api_key_env: str, concurrency: int, temperature: float, seed: int | None,
          max_tokens: int | None, max_retries: int, timeout: float, cache_dir: str | None,
          no_cache: bool, batch: bool, poll_interval: float, price_in: float | None,
          price_out: float | None, fmt: str | None, as_json: bool) -> None:
    """Score every candidate on the rubric with an LLM judge (structured JSON output).

    The judge answers each per-candidate question (tone zone, flags, ratings) and the item
    questions (preference) with a JSON schema built from the rubric; answers that do not fit are
    redrawn. Scores are stored in candidate.judge / sample.judge with judge_model: the backends
    push them as predictions, and the agreement engine compares them with humans (annotator
    "judge:<model>"). Answers are cached like drafts: a re-run costs nothing.

    \b
    Example:
      brun-label judge samples.jsonl -o judged.jsonl --rubric de-escalation
      brun-label judge samples.jsonl -o judged.jsonl --rubric de-escalation --model gpt-4o --json
      brun-label judge samples.jsonl -o judged.jsonl --rubric de-escalation --swap-check
      brun-label judge samples.jsonl -o judged.jsonl --rubric de-escalation --calibrate-with ann.parquet
    """
    from brun_label.importers.judge import JudgeOptions, judge_file
    from brun_label.importers.openai_client import ApiConfig

    bar = LazyProgress("judging")
    try:
        summary = judge_file(
            samples, output, rubric=rubric,
            options=JudgeOptions(model=model, temperature=temperature, seed=seed, max_tokens=max_tokens,
                                 logprobs=logprobs, swap_check=swap_check),
            api_config=ApiConfig(base_url=base_url, api_key_env=api_key_env,
                                 max_retries=max_retries, timeout=timeout),
            calibrate_with=calibrate_with, calibration_method=calibration_method,
            cache_dir=cache_dir, use_cache=not no_cache, concurrency=concurrency, batch=batch,
            poll_interval=poll_interval, fmt=fmt, price_in=price_in, price_out=price_out,
            on_progress=bar, on_status=info)
    finally:
        bar.close()
    report(summary, as_json, [f"{sid}: no valid judge answer, left unjudged" for sid in summary["unjudged"]])
    if not as_json:
        for line in swap_lines(summary.get("swap_check")) + calibration_lines(summary.get("calibration")):
            click.echo(line)


def calibration_lines(calibration: dict[str, Any] | None) -> list[str]:
    """Return the text lines of the calibration (per question: status, Brier scores).

    >>> calibration_lines({"questions": {"tone_zone": {"status": "not enough items: 3"}}})
    ["Calibration against the annotators' consensus (cross-validated):", '  tone_zone: not enough items: 3']
    """
    if calibration is None:
        return []
    lines = ["Calibration against the annotators' consensus (cross-validated):"]
    for name, fit in calibration.get("questions", {}).items():
        if fit["status"] != "ok":
            lines.append(f"  {name}: {fit['status']}")
            continue
        raw = "" if fit.get("brier_raw") is None else f", raw {fit['brier_raw']:.3f}"
        lines.append(f"  {name}: {fit['n_items']} units, {fit['n_matches']} matching; Brier {fit['brier_cv']:.3f} "
                     f"(base rate {fit['brier_baseline']:.3f}{raw}) on {fit['feature']}")
    return lines


def swap_lines(swap: dict[str, Any] | None) -> list[str]:
    """Return the text lines of the swap check (share of verdicts kept with the order reversed).

    >>> swap_lines({"preference": {"n": 10, "n_consistent": 7, "consistency": 0.7,
    ...     "consistency_ci95": [0.35, 0.93], "n_first_both": 3, "first_position_rate": 0.3,
    ...     "first_position_rate_ci95": [0.07, 0.65], "n_last_both": 0}})[1]
    '  preference: 7 of 10 consistent (70%, 95% CI 35%-93%); first slot both times 30% (7%-65%), last 0'
    """
    if swap is None:
        return []
    lines = ["Swap check (candidates reversed; inconsistent answers are never pushed):"]
    for name, e in swap.items():
        lo, hi = e["consistency_ci95"]
        line = f"  {name}: {e['n_consistent']} of {e['n']} consistent ({e['consistency']:.0%}, 95% CI {lo:.0%}-{hi:.0%})"
        if "n_first_both" in e:
            flo, fhi = e["first_position_rate_ci95"]
            line += (f"; first slot both times {e['first_position_rate']:.0%} ({flo:.0%}-{fhi:.0%}), "
                     f"last {e['n_last_both']}")
        lines.append(line)
    return lines
