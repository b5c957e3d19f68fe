"""What a Label Studio pull says, against a real Label Studio 1.23.2: only what was said.

A person who rates only one candidate gets rows for that one; the judge's explicit "no flags"
comes back as ``[]``; every row carries the rubric identity, the slot it was shown in and the order
shown (read from the server's task, not from the code under test); a rubric other than the one
push recorded is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from brun_label.backends.base import PullOptions, PushOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.cli import cli
from brun_label.errors import InputError
from brun_label.exporters.tables import write_annotations
from brun_label.importers.annotations import read_annotations
from brun_label.model import Sample, sample_from_dict
from brun_label.rubrics import load_rubric, rubric_source
from tests.fixtures.label_studio import choices

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")


def _samples() -> list[Sample]:
    return [sample_from_dict({
        "id": f"pos-{i}", "category": "complaint", "prompt": f"Complaint {i}: where is my parcel?",
        "judge_model": "gpt-judge", "judge": {"preference": f"pos-{i}-a"}, "judge_order": [f"pos-{i}-b", f"pos-{i}-a"],
        "candidates": [
            {"id": f"pos-{i}-a", "text": f"I understand, here is what I will do ({i}).",
             "judge": {"tone_zone": 0, "liability_flags": []}},
            {"id": f"pos-{i}-b", "text": f"We are so sorry, it is all our fault ({i}).",
             "judge": {"tone_zone": -2, "liability_flags": ["admits_fault"]}},
        ]}) for i in range(2)]


def _backend(info: Any) -> LabelStudioBackend:
    return LabelStudioBackend(url=info.url, api_key=info.api_key)


def _letter(order: list[str], cid: str) -> str:
    return "ab"[order.index(cid)]


def test_a_pull_holds_only_rated_candidates_the_judges_empty_flags_and_the_shown_positions(
        label_studio_server, label_studio_admin, ls_project_title, tmp_path):
    samples = _samples()
    backend = _backend(label_studio_server)
    backend.push(samples, RUBRIC, PushOptions(target=ls_project_title))
    task = label_studio_admin.task_of(ls_project_title, "pos-0")
    order = task["data"]["brun_order"]  # what the server shows, as stored on its task
    assert task["data"]["brun_rubric"] == RUBRIC.identity and task["data"]["brun_judge_order"] == ["pos-0-b", "pos-0-a"]
    # ann rates only candidate a of sample 0 (tone zone, no flag ticked) and gives a preference.
    slot = _letter(order, "pos-0-a")
    label_studio_admin.annotate(task["id"], [choices(f"tone_zone_{slot}", f"candidate_{slot}", "1"),
                                             choices("preference", "prompt", slot)], "only-a@example.org")

    table = backend.pull(None, PullOptions(target=ls_project_title)).table
    mine = table[table["annotator"] == "only-a@example.org"]
    assert sorted(zip(mine["candidate_id"], mine["question"], map(json.dumps, mine["value"]), strict=True)) == [
        ("", "preference", '"pos-0-a"'), ("pos-0-a", "liability_flags", "[]"), ("pos-0-a", "tone_zone", "1")]
    assert set(mine["position"]) == {order.index("pos-0-a")}
    texts = {c.id: c.text for c in samples[0].candidates}
    for row in table[(table["item_id"] == "pos-0") & table["position"].notna()].itertuples():
        if not row.annotator.startswith("judge:"):  # the slot's text on the server is the row's candidate
            cid = row.candidate_id or row.value
            assert task["data"][f"candidate_{'ab'[row.position]}"] == texts[cid]
    assert set(mine["shown_order"]) == {json.dumps(order)} and set(table["rubric"]) == {RUBRIC.identity}

    judge = table[(table["annotator"] == "judge:gpt-judge") & (table["item_id"] == "pos-0")]
    got = {(r.candidate_id, r.question): (r.value, r.position, r.shown_order) for r in judge.itertuples()}
    shown = json.dumps(["pos-0-b", "pos-0-a"])
    assert got == {("pos-0-a", "tone_zone"): (0, 1, shown), ("pos-0-a", "liability_flags"): ([], 1, shown),
                   ("pos-0-b", "tone_zone"): (-2, 0, shown), ("pos-0-b", "liability_flags"): (["admits_fault"], 0, shown),
                   ("", "preference"): ("pos-0-a", 1, shown)}
    assert table[table["item_id"] == "pos-1"]["annotator"].unique().tolist() == ["judge:gpt-judge"]

    # The columns survive every table format agreement and export read.
    def columns(t: Any) -> list[tuple[Any, ...]]:
        return sorted((r.item_id, r.candidate_id, r.question, r.annotator, json.dumps(r.value), r.rubric,
                       None if pd.isna(r.position) else int(r.position), r.shown_order) for r in t.itertuples())

    for ext in ("jsonl", "csv", "parquet"):
        path = tmp_path / f"pulled.{ext}"
        write_annotations(table, path)
        assert columns(read_annotations(path)) == columns(table), ext


def _renamed_copy(tmp_path: Path) -> Path:
    """A user file that reuses the pack's name but changes one guideline (another fingerprint)."""
    raw = yaml.safe_load(rubric_source("de-escalation"))
    raw["guidelines"] = "Our own guidelines, same questions."
    path = tmp_path / "de-escalation.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert load_rubric(str(path)).identity != RUBRIC.identity
    return path


def test_a_pack_named_user_file_is_never_swapped_for_the_pack(label_studio_server, label_studio_env, ls_project_title,
                                                              tmp_path):
    own = _renamed_copy(tmp_path)
    backend = _backend(label_studio_server)
    backend.push(_samples()[:1], RUBRIC, PushOptions(target=ls_project_title))
    with pytest.raises(InputError, match=r"pushed with rubric de-escalation@.*but --rubric de-escalation is"):
        backend.pull(load_rubric(str(own)), PullOptions(target=ls_project_title))
    out = tmp_path / "ann.jsonl"
    refused = CliRunner().invoke(cli, ["pull", "--from", "label-studio", "--project", ls_project_title,
                                       "--rubric", str(own), "-o", str(out)])
    assert refused.exit_code == 2 and not out.exists(), refused.output
    assert "Traceback" not in refused.output

    # Pushed with the user's file: a pull without --rubric must not read it with the pack.
    title = ls_project_title[:40] + " own"
    backend.push(_samples()[:1], load_rubric(str(own)), PushOptions(target=title))
    with pytest.raises(InputError, match="shipped pack de-escalation is now"):
        backend.pull(None, PullOptions(target=title))
    assert backend.pull(load_rubric(str(own)), PullOptions(target=title)).table["rubric"].unique().tolist() == [
        load_rubric(str(own)).identity]


def test_a_project_that_recorded_only_the_name_is_read_with_the_pack_and_a_note(
        label_studio_server, label_studio_admin, ls_project_title):
    backend = _backend(label_studio_server)
    backend.push(_samples()[:1], RUBRIC, PushOptions(target=ls_project_title))
    task = label_studio_admin.task_of(ls_project_title, "pos-0")
    data = {**task["data"], "brun_rubric": "de-escalation"}  # what pushes before identities stored
    label_studio_admin._json("PATCH", f"/api/tasks/{task['id']}/", json={"data": data})
    result = backend.pull(None, PullOptions(target=ls_project_title, include_judge=False))
    assert result.notes == [f"Label Studio project {ls_project_title!r} records only the rubric name de-escalation "
                            "(pushed by an older brun-label): read with that pack, unverified"]
    assert result.table.empty or set(result.table["rubric"]) == {RUBRIC.identity}


def test_strict_pull_of_an_invalid_answer_exits_2_and_writes_nothing(label_studio_env, label_studio_admin,
                                                                     ls_project_title, tmp_path):
    _backend(label_studio_env).push(_samples()[:1], RUBRIC, PushOptions(target=ls_project_title))
    task = label_studio_admin.task_of(ls_project_title, "pos-0")
    label_studio_admin.annotate(task["id"], [choices("tone_zone_a", "candidate_a", "7"),
                                             choices("preference", "prompt", "a")], "bad@example.org")
    out = tmp_path / "ann.parquet"
    args = ["pull", "--from", "label-studio", "--project", ls_project_title, "-o", str(out)]
    strict = CliRunner().invoke(cli, [*args, "--strict"])
    assert strict.exit_code == 2 and not out.exists(), strict.output
    assert "invalid answer (not used):" in strict.stderr and "tone_zone_a" in strict.stderr
    lenient = CliRunner().invoke(cli, args)
    assert lenient.exit_code == 0 and out.exists(), lenient.output
    assert "1 invalid answer(s)" in lenient.stdout


def test_a_push_under_another_rubric_says_so_and_pull_then_needs_rubric(label_studio_server, ls_project_title,
                                                                        tmp_path):
    own = load_rubric(str(_renamed_copy(tmp_path)))  # same questions; the config shows the guidelines
    backend = _backend(label_studio_server)
    samples = _samples()
    assert not any("already holds" in n for n in backend.push(samples[:1], RUBRIC,
                                                              PushOptions(target=ls_project_title)).notes)
    again = backend.push(samples, own, PushOptions(target=ls_project_title, update_config=True))
    assert again.n_added == 1 and any(f"already holds items pushed with rubric {RUBRIC.identity}" in n
                                      for n in again.notes), again.notes
    with pytest.raises(InputError, match="records 2 different rubrics"):
        backend.pull(None, PullOptions(target=ls_project_title))
    result = backend.pull(own, PullOptions(target=ls_project_title))
    assert "records 2 rubrics" in result.notes[0] and set(result.table["rubric"]) == {own.identity}
