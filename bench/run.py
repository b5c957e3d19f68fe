"""Run every benchmark and print one table of ratios against baselines measured in the same run.

Usage: ``python -m bench.run [--quick] [--only NAME ...] [--json]`` (``make bench``).
Each ``bench/bench_*.py`` module exposes ``run(quick: bool) -> list[bench.common.Result]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import traceback

import bench
from bench.common import Result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", nargs="*", default=None, help="module names, e.g. bench_agreement")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n in args.only or n.removeprefix("bench_") in args.only]
    results: list[Result] = []
    failures: list[str] = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            results.extend(importlib.import_module(f"bench.{name}").run(args.quick))
        except Exception as exc:
            traceback.print_exc()
            failures.append(f"{name}: {exc.__class__.__name__}: {exc}")
    cores = os.cpu_count()
    if args.json:
        print(json.dumps({"cores": cores, "quick": args.quick, "failures": failures, "results": [
            {**r.__dict__, "ratio": r.ratio, "passed": r.passed} for r in results]}))
    else:
        print(f"machine: {cores} cores{'  (quick run)' if args.quick else ''}")
        header = f"{'benchmark':<48} {'ours':>12} {'baseline':>12} {'unit':>6} {'ratio':>8} {'target':>8}  ok"
        print(header)
        print("-" * len(header))
        for r in results:
            cmp = ">=" if r.higher_is_better else "<="
            print(f"{r.name:<48} {r.ours:>12.4g} {r.baseline:>12.4g} {r.unit:>6} {r.ratio:>8.3f} "
                  f"{cmp}{r.target:<6g}  {'yes' if r.passed else 'NO'}" + (f"  {r.note}" if r.note else ""))
        for f in failures:
            print(f"FAILED {f}")
    return 1 if failures or not all(r.passed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
