"""Drafting throughput against a server with 200 ms latency: >= 80% of the ideal (issue 7).

The server is the project's fake OpenAI server (``tests/fake_openai_server.py``) in its own
process, answering every chat completion after exactly 200 ms, like a remote endpoint that is
never the bottleneck. We draft 500 candidates (125 scenarios x 4) with ``--concurrency 32`` through
the real path: :func:`brun_label.importers.draft.draft_file` (the real ``openai`` client, the
SQLite request cache written per answer, output written atomically).

Baseline, same run: the ideal throughput, ``concurrency / latency`` (32 / 0.2 s = 160 requests/s,
i.e. 500 candidates in 3.125 s with zero client overhead). Target: ours >= 0.8 x ideal. A second
line checks that re-running the finished job sends no request at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Result

REPO = Path(__file__).resolve().parents[1]
LATENCY = 0.2
CONCURRENCY = 32
_KEY_ENV = "BRUN_LABEL_BENCH_OPENAI_KEY"


def _start_server() -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_openai_server", "--latency", str(LATENCY)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError("the fake OpenAI server did not start")
    return proc, url


def run(quick: bool) -> list[Result]:
    """Draft ``n`` candidates at concurrency 32 against a 200 ms server; compare with the ideal."""
    from brun_label.importers.draft import DraftOptions, draft_file
    from brun_label.importers.openai_client import ApiConfig
    from tests.fake_openai_server import DEFAULT_API_KEY

    # Same size in quick runs: the target is defined at 500 candidates, the run takes ~4 s, and
    # with fewer waves of requests the fixed start-up cost would dominate the ratio.
    n_scenarios = 125
    candidates = 4
    n = n_scenarios * candidates
    proc, url = _start_server()
    old_key = os.environ.get(_KEY_ENV)
    os.environ[_KEY_ENV] = DEFAULT_API_KEY
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scen = Path(tmp) / "scenarios.jsonl"
            with open(scen, "w", encoding="utf-8") as fh:
                for i in range(n_scenarios):
                    fh.write(json.dumps({"id": f"b{i}", "category": "complaint",
                                         "prompt": f"Order {i} arrived broken. Refund me today."}) + "\n")
            out = Path(tmp) / "samples.jsonl"
            kwargs = dict(rubric="de-escalation", options=DraftOptions(candidates=candidates, seed=1),
                          api_config=ApiConfig(base_url=url, api_key_env=_KEY_ENV),
                          cache_dir=Path(tmp) / "cache", concurrency=CONCURRENCY)
            t0 = time.perf_counter()
            first = draft_file(scen, out, **kwargs)
            elapsed = time.perf_counter() - t0
            if first["requests"]["sent"] != n or first["candidates"] != n:
                raise RuntimeError(f"expected {n} requests and candidates, got {first['requests']}")
            again = draft_file(scen, out, **kwargs)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if old_key is None:
            os.environ.pop(_KEY_ENV, None)
        else:
            os.environ[_KEY_ENV] = old_key
    ideal = CONCURRENCY / LATENCY
    return [
        Result(name=f"draft {n} candidates, 200 ms server, concurrency {CONCURRENCY}",
               ours=n / elapsed, baseline=ideal, unit="req/s", target=0.8, higher_is_better=True,
               note=f"{elapsed:.2f} s vs ideal {n * LATENCY / CONCURRENCY:.2f} s"),
        Result(name="draft re-run of a finished job: requests sent",
               ours=float(again["requests"]["sent"]), baseline=float(n), unit="req", target=0.0,
               note=f"{again['requests']['cached']} answered from the cache"),
    ]
