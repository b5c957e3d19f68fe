"""Push records whether annotators saw the judge's answers; pull carries it on the judge rows
(``judge_shown``), through the table files, to the dataset card's line. Real servers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PullOptions, PushOptions
from brun_label.backends.label_studio import LabelStudioBackend
from brun_label.exporters.card import judge_shown_line
from brun_label.exporters.dpo import judge_shown_summary
from brun_label.exporters.tables import write_annotations
from brun_label.importers.annotations import read_annotations
from brun_label.model import JUDGE_PREFIX, sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import unique_name

pytestmark = pytest.mark.server

RUBRIC = load_rubric("de-escalation")


def _samples(prefix: str) -> list[Any]:
    return [sample_from_dict({
        "id": f"{prefix}{i}", "prompt": f"Customer message {i}", "judge_model": "judge-x",
        "judge": {"preference": "tie"},
        "candidates": [{"id": f"{prefix}{i}-a", "text": "Calm", "judge": {"tone_zone": 0, "liability_flags": []}},
                       {"id": f"{prefix}{i}-b", "text": "Cold"}],
    }) for i in range(2)]


def _judge_values(table: Any) -> set[Any]:
    return set(table.loc[table["annotator"].str.startswith(JUDGE_PREFIX), "judge_shown"])


def test_argilla_records_the_mode_per_record(argilla_env: ServerInfo, tmp_path: Path) -> None:
    name = unique_name("judge-shown")
    backend = ArgillaBackend()
    backend.push(_samples("h"), RUBRIC, PushOptions(target=name))
    table = backend.pull(RUBRIC, PullOptions(target=name)).table
    assert _judge_values(table) == {"no"}
    assert set(table.loc[~table["annotator"].str.startswith(JUDGE_PREFIX), "judge_shown"].dropna()) == set()
    result = backend.push(_samples("h") + _samples("v"), RUBRIC, PushOptions(target=name, show_judge=True))
    assert any("the dataset card will say" in note for note in result.notes)
    table = backend.pull(RUBRIC, PullOptions(target=name)).table
    assert _judge_values(table) == {"no", "yes"}
    assert judge_shown_summary(table) == "mixed"
    for suffix in ("jsonl", "csv", "parquet"):  # the files keep it, so export's card can say it
        path = tmp_path / f"t.{suffix}"
        write_annotations(table, path)
        assert judge_shown_summary(read_annotations(path, RUBRIC)) == "mixed", suffix


def test_label_studio_records_the_project_setting(label_studio_env: ServerInfo, ls_project_title: str) -> None:
    backend = LabelStudioBackend()
    backend.push(_samples("l"), RUBRIC, PushOptions(target=ls_project_title, show_judge=True))
    table = backend.pull(RUBRIC, PullOptions(target=ls_project_title)).table
    assert judge_shown_summary(table) == "yes"
    assert judge_shown_line(judge_shown_summary(table)).startswith("Judge suggestions were shown to annotators: yes")
    backend.push(_samples("l"), RUBRIC, PushOptions(target=ls_project_title))
    assert judge_shown_summary(backend.pull(RUBRIC, PullOptions(target=ls_project_title)).table) == "no"
