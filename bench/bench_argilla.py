"""Argilla push speed: ``brun-label push`` vs the SDK's own ``dataset.records.log``, side by side.

Both write the same 1,000 records (fields, metadata, judge suggestions) into fresh, empty
datasets with the same settings on the same local argilla-server (SQLite + the SQL engine),
alternating, best of a few rounds. Ours is the whole ``ArgillaBackend.push`` call (workspace and
dataset lookup, config check, listing the ids already there, building and sending the records);
the SDK's is ``dataset.records.log`` on ``rg.Record`` objects built beforehand. The issue asks
for at least 0.9x the SDK's records/s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Result


def _samples(n: int) -> list[Any]:
    from brun_label.model import sample_from_dict

    out = []
    for i in range(n):
        out.append(sample_from_dict({
            "id": f"s{i:05d}", "category": ["billing", "hr", "pr"][i % 3], "judge_model": "judge-x",
            "prompt": f"Customer {i}: your update deleted my invoices and I want a refund NOW. " * 3,
            "judge": {"preference": f"s{i}-a"},
            "candidates": [
                {"id": f"s{i}-a", "text": f"I understand how disruptive this is ({i}). Here is what I can do. " * 4,
                 "judge": {"tone_zone": 0}},
                {"id": f"s{i}-b", "text": f"We are so sorry, it is entirely our fault ({i}). " * 4,
                 "judge": {"tone_zone": -2, "liability_flags": ["admits_fault"]}},
            ]}))
    return out


def run(quick: bool) -> list[Result]:
    import argilla as rg

    from brun_label.backends.argilla import ArgillaBackend
    from brun_label.backends.argilla_records import record_for_sample
    from brun_label.backends.base import PushOptions
    from brun_label.layout import candidate_order
    from brun_label.render_argilla import render_argilla
    from brun_label.rubrics import load_rubric
    from brun_label.servers.argilla import WORKSPACE, ArgillaServer

    n = 300 if quick else 1000
    rounds = 2 if quick else 3
    rubric = load_rubric("de-escalation")
    samples = _samples(n)
    settings = render_argilla(rubric, n_candidates=2)
    with tempfile.TemporaryDirectory(prefix="bench-argilla-") as tmp:
        server = ArgillaServer(Path(tmp))
        info = server.start(port=0)
        try:
            client = rg.Argilla(api_url=info.url, api_key=info.api_key)
            backend = ArgillaBackend(url=info.url, api_key=info.api_key)

            def sdk_round(k: int) -> float:
                ds = rg.Dataset(name=f"sdk-{k}", workspace=WORKSPACE, settings=rg.Settings._from_dict(settings),
                                client=client).create()
                qids = {q.name: str(q._model.id) for q in ds.settings.questions}
                names = {v: k for k, v in qids.items()}
                records = []
                for s in samples:
                    item, _ = record_for_sample(s, rubric, candidate_order(s), 2, qids)
                    records.append(rg.Record(
                        id=item["external_id"], fields=item["fields"], metadata=item["metadata"],
                        suggestions=[rg.Suggestion(question_name=names[x["question_id"]], value=x["value"],
                                                   agent=x["agent"], type="model")
                                     for x in item.get("suggestions", [])]))
                t0 = time.perf_counter()
                ds.records.log(records)
                return time.perf_counter() - t0

            def our_round(k: int) -> float:
                name = f"ours-{k}"
                backend.push([], rubric, PushOptions(target=name))  # an empty dataset, like the SDK's
                t0 = time.perf_counter()
                result = backend.push(samples, rubric, PushOptions(target=name))
                elapsed = time.perf_counter() - t0
                assert result.n_added == n, result
                return elapsed

            ours, sdk = [], []
            for k in range(rounds):
                if k % 2:
                    ours.append(our_round(k))
                    sdk.append(sdk_round(k))
                else:
                    sdk.append(sdk_round(k))
                    ours.append(our_round(k))
            t_repush = time.perf_counter()
            again = backend.push(samples, rubric, PushOptions(target="ours-0"))
            repush = time.perf_counter() - t_repush
            assert again.n_added == 0
        finally:
            server.stop()
    return [
        Result(
            name=f"argilla push {n} records (records/s)",
            ours=n / min(ours),
            baseline=n / min(sdk),
            unit="rec/s",
            target=0.9,
            higher_is_better=True,
            note=f"re-push of the same {n}: {repush:.2f} s, adds 0",
        )
    ]


if __name__ == "__main__":  # pragma: no cover
    for r in run(quick=False):
        print(r, f"ratio={r.ratio:.3f}", "passed" if r.passed else "FAILED")
