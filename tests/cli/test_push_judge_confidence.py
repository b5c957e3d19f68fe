"""``push --min-judge-confidence`` against a real Label Studio: only trusted judge answers are sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from brun_label.backends.base import PullOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.cli import cli
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo

pytestmark = pytest.mark.server


def _sample(i: int) -> dict[str, Any]:
    """s0: every answer confident and consistent; s1: the preference changed with the order reversed."""
    return {
        "id": f"s{i}", "prompt": f"Customer message {i}", "judge_model": "judge-x",
        "judge": {"preference": f"s{i}-a"}, "judge_order": [f"s{i}-b", f"s{i}-a"],
        "judge_confidence": {"preference": {"logprob": -0.1, "consistent": i == 0, "calibrated": 0.95}},
        "candidates": [
            {"id": f"s{i}-a", "text": "Calm and clear", "judge_model": "judge-x",
             "judge": {"tone_zone": 0, "liability_flags": []},
             "judge_confidence": {"tone_zone": {"logprob": -0.05, "consistent": True, "calibrated": 0.9},
                                  "liability_flags": {"logprob": -2.0, "consistent": True, "calibrated": 0.4}}},
            {"id": f"s{i}-b", "text": "Cold and curt", "judge_model": "judge-x", "judge": {"tone_zone": 2},
             "judge_confidence": {"tone_zone": {"logprob": -0.7, "consistent": True, "calibrated": None}}},
        ],
    }


def _judge_rows(title: str) -> set[tuple[str, str, str]]:
    table = LabelStudioBackend().pull(load_rubric("de-escalation"), PullOptions(target=title)).table
    judge = table[table["annotator"].str.startswith("judge:")]
    return set(zip(judge["item_id"], judge["candidate_id"], judge["question"], strict=True))


@pytest.mark.parametrize("threshold", [None, "0.8"])
def test_unconfident_and_inconsistent_answers_are_not_sent(
    label_studio_env: ServerInfo, ls_project_title: str, tmp_path: Path, threshold: str | None
) -> None:
    path = tmp_path / "judged.jsonl"
    path.write_text("".join(json.dumps(_sample(i)) + "\n" for i in range(2)), encoding="utf-8")
    args = ["push", str(path), "--to", "label-studio", "--project", ls_project_title, "--rubric", "de-escalation"]
    if threshold:
        args += ["--min-judge-confidence", threshold]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    rows = _judge_rows(ls_project_title)
    assert ("s0", "", "preference") in rows and ("s1", "", "preference") not in rows  # inconsistent: never sent
    if threshold is None:
        assert "1 judge answer(s) not sent: inconsistent with the candidates reversed\n" in res.stderr
        assert {("s0", "s0-a", "liability_flags"), ("s0", "s0-b", "tone_zone")} <= rows
    else:
        assert "5 judge answer(s) not sent" in res.stderr and "calibrated confidence below 0.8" in res.stderr
        assert rows == {("s0", "", "preference"), ("s0", "s0-a", "tone_zone"), ("s1", "s1-a", "tone_zone")}
    # the samples file keeps every answer
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[1])["judge"] == {"preference": "s1-a"}
