"""The dataset card: who annotated (people, simulated, judges), the pairing strategy, safe text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from brun_label.errors import InputError
from brun_label.exporters.card import render_card
from brun_label.exporters.dpo import ExportOptions, export_dpo
from brun_label.exporters.pairs import Pairing
from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from tests.exporters.helpers import item_rows, sample, table

RUBRIC = load_rubric("de-escalation")


def dataset(annotators: list[str]) -> tuple[list[Any], Any]:
    """Three scenarios, each with a clear good reply, two bad ones and a judge row."""
    rows: list[dict[str, Any]] = []
    samples = []
    for i in range(3):
        item = f"s{i}"
        samples.append(sample(item, ["g", "b1", "b2"], category="hr | <b>grievance</b>"))
        rows += item_rows(item, {"g": [0, 0, 0], "b1": [2, 2, 2], "b2": [-2, -2, -2]},
                          pref=["g", "g", "tie" if i == 0 else "g"], annotators=annotators)
        rows += item_rows(item, {"g": [0]}, annotators=["judge:gpt-4o`<i>x</i>"])
    return samples, table(rows)


def export(tmp_path: Path, annotators: list[str], **options: Any) -> tuple[dict[str, Any], str]:
    samples, t = dataset(annotators)
    summary = export_dpo(t, samples, RUBRIC, tmp_path / "pairs.jsonl", ExportOptions(min_alpha=None, **options))
    return summary, (tmp_path / "README.md").read_text(encoding="utf-8")


def test_simulated_annotators_are_never_called_human(tmp_path: Path) -> None:
    summary, card = export(tmp_path, ["sim-a", "sim-b", "sim-c"], simulated_annotators=("sim-*",))
    assert summary["annotators"] == {"people": 0, "simulated": 3, "judges": ["judge:gpt-4o`<i>x</i>"],
                                     "unmatched_patterns": []}
    assert "human" not in card.lower()
    assert re.search(r"^# .*: preference pairs from simulated annotators \(not people\)$", card, re.M)
    assert "| simulated annotators (not people) | 3 | yes |" in card and "| people | 0 | yes |" in card
    assert "- simulated-annotators" in card.split("---")[1]


def test_people_only_is_human_verified_and_mixed_says_both(tmp_path: Path) -> None:
    _, card = export(tmp_path, ["ana", "ben", "cy"])
    assert re.search(r"^# .*: human-verified preference pairs$", card, re.M)
    assert "- human-annotated" in card.split("---")[1]
    assert "Every counted annotator is a person" not in card  # a judge is there: it is named instead
    _, mixed = export(tmp_path, ["ana", "ben", "sim-c"], simulated_annotators=("sim-c",))
    assert "from people and simulated annotators (not people)" in mixed
    assert "human" not in mixed.lower()


def test_judges_are_named_as_judges_that_never_vote_and_input_text_is_inert(tmp_path: Path) -> None:
    _, card = export(tmp_path, ["ana", "ben", "cy"])
    assert "| judges (`judge:` rows) | 1 | never |" in card
    assert "Judges (``judge:gpt-4o`<i>x</i>``)" in card  # a code span: no HTML, no Markdown
    assert "<b>" not in card.replace("`hr \\| <b>grievance</b>`", "")
    assert "| `hr \\| <b>grievance</b>` | 4 |" in card  # the | cannot split the table row


def test_the_card_states_the_pairing_strategy_and_its_default(tmp_path: Path) -> None:
    summary, card = export(tmp_path, ["ana", "ben", "cy"])
    # The tie in s0 joins no known replies (its voter judged only g good), so it counts against both
    # pairs of s0 (1 of 3 votes > 0.2); s1 and s2 give two pairs each.
    assert summary["pairs"] == 4 and summary["pairing"]["strategy"] == "all"
    assert "`all` (the default): every clear good x bad pair of a scenario, no cap per scenario." in card
    assert "2 scenario(s) gave more than one pair" in card
    summary, card = export(tmp_path, ["ana", "ben", "cy"], pairing=Pairing("best-worst"))
    assert summary["pairs"] == 2 and summary["pairing"]["dropped"] == 2
    assert "`best-worst`: one pair per scenario" in card
    assert "| clear pairs left out by the pairing strategy | 2 |" in card
    summary, card = export(tmp_path, ["ana", "ben", "cy"], pairing=Pairing(max_per_prompt=1))
    assert summary["pairs"] == 2 and "at most 1 per scenario, the clearest first." in card


def test_unmatched_patterns_are_reported_and_blank_ones_refused(tmp_path: Path) -> None:
    summary, _ = export(tmp_path, ["ana", "ben", "cy"], simulated_annotators=("bot-*",))
    assert summary["annotators"]["people"] == 3 and summary["annotators"]["unmatched_patterns"] == ["bot-*"]
    with pytest.raises(InputError, match="--simulated-annotators"):
        export(tmp_path, ["ana", "ben", "cy"], simulated_annotators=(" ",))


def test_a_summary_without_annotator_kinds_claims_nothing() -> None:
    summary = {
        "format": "trl", "rubric": {"name": "r", "version": "1", "title": "R"},
        "gates": {"min_annotators": 3, "min_share": 0.8, "max_flag_share": 0.0, "min_alpha": None},
        "items": {"exported": 1, "excluded": {}}, "examples": {"train": 1}, "files": {},
    }
    card = render_card(summary)
    assert "human" not in card.lower() and "kinds not recorded" in card


def test_the_card_and_the_provenance_say_who_wrote_the_replies(tmp_path: Path) -> None:
    _, t = dataset(["ana", "ben", "cy"])
    samples = []
    for i in range(3):
        cands = [{"id": "g", "text": f"Hand-written good reply {i}.", "source": "hand-written",
                  "judge": {"tone_zone": 0, "liability_flags": []}, "judge_source": "hand-written",
                  "judge_model": "hand-written"},
                 {"id": "b1", "text": f"Drafted reply {i}.", "source": "model", "model": "m-<1>"},
                 {"id": "b2", "text": f"Unattributed reply {i}."}]
        samples.append(sample_from_dict({"id": f"s{i}", "prompt": "Refund!", "candidates": cands}))
    summary = export_dpo(t, samples, RUBRIC, tmp_path / "pairs.jsonl", ExportOptions(min_alpha=None))
    # s0 gives no pair (its tie counts against both), so the replies of s1 and s2 are exported.
    assert summary["sources"]["replies"] == {"model": 2, "hand-written": 2, "not_recorded": 2, "models": ["m-<1>"]}
    assert summary["sources"]["judge_scores"] == {"model": 0, "hand-written": 2, "not_recorded": 0, "judges": []}
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert ("- Replies in the exported examples: 2 by a model (`m-<1>`); 2 hand-written examples "
            "(no model wrote them); 2 whose source the sample file does not record.") in card
    assert "- Judge scores of these samples: 2 hand-written examples (no model wrote them)." in card
    import json

    prov = [json.loads(line) for line in (tmp_path / "pairs.jsonl.provenance.jsonl").read_text().splitlines()]
    got = {(p["rejected_id"], p["chosen_source"], p["chosen_model"], p["rejected_source"], p["rejected_model"])
           for p in prov}
    assert got == {("b1", "hand-written", None, "model", "m-<1>"), ("b2", "hand-written", None, None, None)}


def test_judge_rows_are_never_called_llm_and_an_absent_alpha_gate_is_said_plainly(tmp_path: Path) -> None:
    _, card = export(tmp_path, ["ana", "ben", "cy"])
    assert "LLM" not in card.split("## Load and train")[0]  # a judge: row may be hand-written scores
    assert "- **Agreement**: no α gate for this export." in card


def test_the_command_takes_the_pairing_and_the_simulated_annotators(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from brun_label.cli import cli
    from brun_label.exporters.tables import write_annotations

    samples, t = dataset(["sim-a", "sim-b", "ana"])
    ann, sp = tmp_path / "ann.parquet", tmp_path / "samples.jsonl"
    write_annotations(t, ann)
    sp.write_text("".join(json.dumps(s.to_dict()) + "\n" for s in samples), encoding="utf-8")
    res = CliRunner().invoke(cli, ["export", "dpo", str(ann), "--samples", str(sp), "-o", str(tmp_path / "p.jsonl"),
                                   "--rubric", "de-escalation", "--min-alpha", "-1", "--pairs", "best-worst",
                                   "--simulated-annotators", "sim-*", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["pairing"] == {"strategy": "best-worst", "max_per_prompt": None, "eligible": 4, "dropped": 2,
                                  "prompts_with_several": 0}
    assert (summary["annotators"]["people"], summary["annotators"]["simulated"]) == (1, 2)
    assert "from people and simulated annotators (not people)" in (tmp_path / "README.md").read_text()
    bad = CliRunner().invoke(cli, ["export", "dpo", str(ann), "--samples", str(sp), "-o", str(tmp_path / "q.jsonl"),
                                   "--rubric", "de-escalation", "--max-pairs-per-prompt", "0"])
    assert bad.exit_code == 2 and not (tmp_path / "q.jsonl").exists()
