"""What an Argilla pull says, against a real argilla-server 2.8.0: only what was said.

The same cases as ``test_label_studio_pull.py``, so both platforms give the same table: a person who
rates only some candidates gets rows for those only; the judge's explicit "no flags" comes back as
``[]``; every row carries the rubric identity, the slot shown and the order shown (read from the
server's record); a rubric other than the one push recorded is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PullOptions, PushOptions
from brun_label.cli import cli
from brun_label.errors import InputError
from brun_label.model import Sample, sample_from_dict
from brun_label.rubric import Rubric, rubric_from_dict
from brun_label.rubrics import load_rubric, rubric_source
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import ArgillaAPI, unique_name

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")


def _optional_zone() -> Rubric:
    """The pack with the tone zone optional: Argilla refuses a submitted response that leaves a
    required question unanswered, so rating only some candidates needs an optional question."""
    raw = yaml.safe_load(rubric_source("de-escalation"))
    raw["name"] = "de-escalation-optional"
    for q in raw["questions"]:
        if q["name"] == "tone_zone":
            q["required"] = False
    return rubric_from_dict(raw)


def _samples(n: int = 2) -> list[Sample]:
    return [sample_from_dict({
        "id": f"pos-{i}", "category": "complaint", "prompt": f"Complaint {i}: where is my parcel?",
        "judge_model": "gpt-judge", "judge": {"preference": f"pos-{i}-a"}, "judge_order": [f"pos-{i}-b", f"pos-{i}-a"],
        "candidates": [
            {"id": f"pos-{i}-a", "text": f"I understand, here is what I will do ({i}).",
             "judge": {"tone_zone": 0, "liability_flags": []}},
            {"id": f"pos-{i}-b", "text": f"We are so sorry, it is all our fault ({i}).",
             "judge": {"tone_zone": -2, "liability_flags": ["admits_fault"]}},
        ]}) for i in range(n)]


def test_a_pull_holds_only_rated_candidates_the_judges_empty_flags_and_the_shown_positions(
        argilla_env: ServerInfo, argilla_api: ArgillaAPI) -> None:
    rubric = _optional_zone()
    name = unique_name("says")
    backend = ArgillaBackend()
    backend.push(_samples(), rubric, PushOptions(target=name))
    dataset = argilla_api.dataset(name)
    assert (dataset.get("metadata") or {}).get("brun_rubric") == rubric.identity
    record = next(r for r in argilla_api.records(dataset["id"]) if r["external_id"] == "pos-0")
    order = record["metadata"]["brun_order"]  # what the server shows, as stored on its record
    assert record["metadata"]["brun_rubric"] == rubric.identity
    # The person rates only candidate a (no flag ticked) and gives a preference.
    slot = "ab"[order.index("pos-0-a")]
    argilla_api.annotator("says-ann").submit(record["id"], {f"tone_zone_{slot}": "1", "preference": slot})

    table = backend.pull(rubric, PullOptions(target=name)).table
    mine = table[table["annotator"] == "says-ann"]
    assert sorted(zip(mine["candidate_id"], mine["question"], map(json.dumps, mine["value"]), strict=True)) == [
        ("", "preference", '"pos-0-a"'), ("pos-0-a", "liability_flags", "[]"), ("pos-0-a", "tone_zone", "1")]
    assert set(mine["position"]) == {order.index("pos-0-a")}
    texts = {c.id: c.text for c in _samples()[0].candidates}
    for row in mine.itertuples():  # the slot's text on the server is the row's candidate
        assert record["fields"][f"candidate_{'ab'[row.position]}"] == texts[row.candidate_id or row.value]
    assert set(mine["shown_order"]) == {json.dumps(order)} and set(table["rubric"]) == {rubric.identity}

    judge = table[(table["annotator"] == "judge:gpt-judge") & (table["item_id"] == "pos-0")]
    got = {(r.candidate_id, r.question): (r.value, r.position, r.shown_order) for r in judge.itertuples()}
    shown = json.dumps(["pos-0-b", "pos-0-a"])
    assert got == {("pos-0-a", "tone_zone"): (0, 1, shown), ("pos-0-a", "liability_flags"): ([], 1, shown),
                   ("pos-0-b", "tone_zone"): (-2, 0, shown), ("pos-0-b", "liability_flags"): (["admits_fault"], 0, shown),
                   ("", "preference"): ("pos-0-a", 1, shown)}
    assert table[table["item_id"] == "pos-1"]["annotator"].unique().tolist() == ["judge:gpt-judge"]


def _renamed_copy(tmp_path: Path) -> Path:
    raw = yaml.safe_load(rubric_source("de-escalation"))
    raw["guidelines"] = "Our own guidelines, same questions."
    path = tmp_path / "de-escalation.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert load_rubric(str(path)).identity != RUBRIC.identity
    return path


def test_a_pack_named_user_file_is_never_swapped_for_the_pack(argilla_env: ServerInfo, tmp_path: Path) -> None:
    own = _renamed_copy(tmp_path)
    backend = ArgillaBackend()
    name = unique_name("swap")
    backend.push(_samples(1), RUBRIC, PushOptions(target=name))
    with pytest.raises(InputError, match=r"pushed with rubric de-escalation@.*but --rubric de-escalation is"):
        backend.pull(load_rubric(str(own)), PullOptions(target=name))
    out = tmp_path / "ann.jsonl"
    refused = CliRunner().invoke(cli, ["pull", "--from", "argilla", "--dataset", name, "--rubric", str(own),
                                       "-o", str(out)])
    assert refused.exit_code == 2 and not out.exists(), refused.output

    mine = unique_name("own")
    backend.push(_samples(1), load_rubric(str(own)), PushOptions(target=mine))
    with pytest.raises(InputError, match="shipped pack de-escalation is now"):
        backend.pull(None, PullOptions(target=mine))
    table = backend.pull(load_rubric(str(own)), PullOptions(target=mine)).table
    assert table["rubric"].unique().tolist() == [load_rubric(str(own)).identity]


def test_strict_pull_of_an_invalid_answer_exits_2_and_writes_nothing(
        argilla_env: ServerInfo, argilla_api: ArgillaAPI, tmp_path: Path) -> None:
    name = unique_name("strict")
    ArgillaBackend().push(_samples(1), RUBRIC, PushOptions(target=name))
    record = argilla_api.records(argilla_api.dataset(name)["id"])[0]
    ann = argilla_api.annotator("strict-ann")
    ann.submit(record["id"], {"tone_zone_a": "0", "tone_zone_b": "0", "preference": "b"})
    # The record's order now names one candidate: the preference "b" names none of the sample's.
    meta = {**record["metadata"], "brun_order": record["metadata"]["brun_order"][:1]}
    argilla_api.http.patch(f"/api/v1/records/{record['id']}", json={"metadata": meta}).raise_for_status()
    out = tmp_path / "ann.csv"
    args = ["pull", "--from", "argilla", "--dataset", name, "-o", str(out), "--no-judge"]
    strict = CliRunner().invoke(cli, [*args, "--strict"])
    assert strict.exit_code == 2 and not out.exists(), strict.output
    assert "invalid answer (not used):" in strict.stderr and "preference" in strict.stderr
    lenient = CliRunner().invoke(cli, args)
    assert lenient.exit_code == 0 and out.exists(), lenient.output
    assert "2 invalid answer(s)" in lenient.stdout  # tone_zone_b (now an empty slot) and the preference


def test_a_dataset_that_recorded_only_the_name_is_read_with_the_pack_and_a_note(
        argilla_env: ServerInfo, argilla_api: ArgillaAPI) -> None:
    name = unique_name("legacy")
    ArgillaBackend().push(_samples(1), RUBRIC, PushOptions(target=name))
    record = argilla_api.records(argilla_api.dataset(name)["id"])[0]
    meta = {**record["metadata"], "brun_rubric": "de-escalation"}  # what pushes before identities stored
    argilla_api.http.patch(f"/api/v1/records/{record['id']}", json={"metadata": meta}).raise_for_status()
    result = ArgillaBackend().pull(None, PullOptions(target=name))
    assert result.notes == [f"Argilla dataset {name!r} records only the rubric name de-escalation (pushed by an "
                            "older brun-label): read with that pack, unverified"]
    assert set(result.table["rubric"]) == {RUBRIC.identity} and not result.invalid


def test_a_push_under_another_rubric_says_so_and_pull_then_needs_rubric(argilla_env: ServerInfo,
                                                                        tmp_path: Path) -> None:
    own = load_rubric(str(_renamed_copy(tmp_path)))  # same questions, so the dataset fits it
    name = unique_name("change")
    backend = ArgillaBackend()
    backend.push(_samples(1), RUBRIC, PushOptions(target=name))
    again = backend.push(_samples(2), own, PushOptions(target=name))
    assert again.n_added == 1 and any(f"already holds items pushed with rubric {RUBRIC.identity}" in n
                                      for n in again.notes), again.notes
    with pytest.raises(InputError, match="records 2 different rubrics"):
        backend.pull(None, PullOptions(target=name))
    result = backend.pull(own, PullOptions(target=name))
    assert "records 2 rubrics" in result.notes[0] and set(result.table["rubric"]) == {own.identity}
