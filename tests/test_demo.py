"""End to end: the demo's whole loop against real Label Studio and Argilla servers (issue 8).

Push to both platforms, simulated annotators answering through each platform's API (split across
the two), pull both into one table, agreement, report and the consensus DPO export; then the same
again, which must add nothing and rewrite identical files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from brun_label.data import sample_path
from brun_label.demo import DATASET, PLATFORM_OF, PROJECT, run_demo
from brun_label.importers.annotations import read_annotations
from brun_label.importers.samples import read_samples
from brun_label.servers.base import ServerInfo

pytestmark = pytest.mark.server

# In-zone personas (Warm_Collaborator is not in the persona pack: simulated annotators follow the
# judge for it, which sometimes flags it, so it can be either side of a pair).
IN_ZONE = {"Diplomatic_Firmness", "Warm_Collaborator"}


def _digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.*"))}


def test_demo_whole_loop_twice(tmp_path: Path, label_studio_server: ServerInfo, argilla_server: ServerInfo) -> None:
    servers = {"label-studio": label_studio_server, "argilla": argilla_server}
    out = tmp_path / "demo"
    logs: list[str] = []
    first = run_demo(out, servers=servers, log=logs.append)

    assert {k: v["n_added"] for k, v in first.pushed.items()} == {"label-studio": 24, "argilla": 24}
    assert first.submitted == {name: 24 for name in PLATFORM_OF}

    table = read_annotations(out / "annotations.parquet")
    humans = table[~table["annotator"].str.startswith("judge:")]
    assert set(humans["annotator"]) == set(PLATFORM_OF)
    assert {(a, p) for a, p in zip(humans["annotator"], humans["platform"], strict=True)} == set(PLATFORM_OF.items())
    per_unit = humans.groupby(["item_id", "candidate_id", "question"])["annotator"].nunique()
    assert (per_unit == 3).all(), "every unit has its three annotators, across both platforms"
    assert set(table.loc[table["annotator"].str.startswith("judge:"), "platform"]) == {"label-studio"}

    summary = json.loads((out / "agreement.json").read_text())
    for q in ("tone_zone", "liability_flags", "preference"):
        assert summary["questions"][q]["n_annotators"] == 3
        assert 0.667 <= summary["questions"][q]["krippendorff_alpha"] <= 1
    flagged = {a for a, v in summary["annotators"].items() if v["flagged"]}
    assert "sim-careless-cy" in flagged and "sim-careful-ana" not in flagged
    report = (out / "agreement-report.html").read_text()
    assert "<svg" in report and "sim-careless-cy" in report and "http" not in report.split("<body", 1)[1].split("brun-label", 1)[0]

    samples = {s.id: s for s in read_samples(sample_path("de-escalation"))}
    text_persona = {c.text: c.persona for s in samples.values() for c in s.candidates}
    pairs = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    assert pairs and first.export is not None and first.export["pairs"] == len(pairs)
    for pair in pairs:
        assert set(pair) == {"prompt", "chosen", "rejected"}
        assert text_persona[pair["chosen"]] in IN_ZONE
        assert text_persona[pair["rejected"]] != "Diplomatic_Firmness"
    card = (out / "README.md").read_text()
    assert card.count("DPOTrainer") >= 1
    assert "preference pairs from simulated annotators (not people)" in card and "human" not in card.lower()

    before = _digests(out)
    second = run_demo(out, servers=servers, log=logs.append)
    assert {k: v["n_added"] for k, v in second.pushed.items()} == {"label-studio": 0, "argilla": 0}
    assert second.submitted == {name: 0 for name in PLATFORM_OF}
    assert _digests(out) == before
    assert PROJECT and DATASET
