"""Argilla workspaces: push creates a missing one (owner key); pull finds a dataset in any workspace."""

from __future__ import annotations

import pytest

from brun_label.backends.argilla import ArgillaBackend
from brun_label.backends.base import PullOptions, PushOptions
from brun_label.errors import InputError, NotFoundError
from brun_label.model import sample_from_dict
from brun_label.rubrics import load_rubric
from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import ArgillaAPI, unique_name

pytestmark = pytest.mark.server

SAMPLES = [sample_from_dict({"id": f"w{i}", "prompt": f"Scenario {i}", "candidates": [
    {"id": f"w{i}-a", "text": "A"}, {"id": f"w{i}-b", "text": "B"}]}) for i in range(3)]


def test_push_creates_a_missing_workspace_and_pull_finds_the_dataset_anywhere(argilla_server: ServerInfo,
                                                                              argilla_api: ArgillaAPI):
    backend = ArgillaBackend(url=argilla_server.url, api_key=argilla_server.api_key)
    rubric = load_rubric("de-escalation")
    ws, name = unique_name("ws"), unique_name("ds")
    dry = backend.push(SAMPLES, rubric, PushOptions(target=name, workspace=ws, dry_run=True))
    assert dry.dry_run and any("would create workspace" in n for n in dry.notes)
    with pytest.raises(NotFoundError):
        backend._workspace(ws)  # the dry run created nothing
    result = backend.push(SAMPLES, rubric, PushOptions(target=name, workspace=ws))
    assert result.n_added == 3 and any(f"created workspace {ws!r}" in n for n in result.notes)
    assert argilla_api.workspace_id(ws)
    # no --workspace: found by name wherever it is
    pulled = backend.pull(None, PullOptions(target=name))
    assert pulled.n_items == 3
    # the same name in a second workspace: ambiguous without --workspace, fine with it
    ws2 = unique_name("ws")
    backend.push(SAMPLES[:1], rubric, PushOptions(target=name, workspace=ws2))
    with pytest.raises(InputError) as exc:
        backend.pull(None, PullOptions(target=name))
    assert ws in str(exc.value) and ws2 in str(exc.value) and "--workspace" in str(exc.value)
    assert backend.pull(None, PullOptions(target=name, workspace=ws2)).n_items == 1
    with pytest.raises(NotFoundError, match="any workspace"):
        backend.pull(None, PullOptions(target=unique_name("missing")))
