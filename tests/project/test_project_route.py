"""``route``'s decision from a pulled table: gold items anchor the weighted consensus, never routed."""

from __future__ import annotations

import pandas as pd

from brun_label.project import project_from_dict
from brun_label.project_push import ProjectSamples
from brun_label.project_route import RoutingState, gold_anchors, plan
from brun_label.rubrics import load_rubric
from brun_label.table import make_table
from tests.exporters.helpers import item_rows, sample

RUBRIC = load_rubric("de-escalation")


def _pushed(n_items: int, n_gold: int) -> ProjectSamples:
    originals = [sample(f"s{i}", ["a", "b"]) for i in range(n_items)] + [sample(f"g{i}", ["a", "b"]) for i in range(n_gold)]
    answers = pd.DataFrame([{"item_id": f"g{i}", "candidate_id": c, "question": q, "value": v}
                            for i in range(n_gold)
                            for c, q, v in [("a", "tone_zone", 0), ("a", "liability_flags", []), ("b", "tone_zone", -2)]])
    return ProjectSamples(samples=originals, keys=None, gold_ids=[f"g{i}" for i in range(n_gold)],
                          gold_answers=answers, originals=originals)


def test_gold_shows_who_is_reliable_so_a_small_project_stops_at_two() -> None:
    p = project_from_dict({"samples": "s.jsonl", "rubric": "de-escalation", "overlap": 2, "max_overlap": 4,
                           "pseudonym_salt": "x", "gold": "g.jsonl",
                           "platforms": {"label-studio": {"project": "P"}}})
    rows = [r for i in range(8) for r in item_rows(f"s{i}", {"a": [0, 0], "b": [-2, -2]}, pref=["a", "a"],
                                                  annotators=["Ana", "Bo"])]
    gold = [r for i in range(10) for r in item_rows(f"g{i}", {"a": [0, 0], "b": [-2, -2]}, pref=["a", "a"],
                                                   annotators=["Ana", "Bo"])]
    state = RoutingState()
    without, _ = plan(p, RUBRIC, make_table(rows), _pushed(8, 0), state)
    assert len(without.extend) == 8  # eight items are too few to trust two people yet
    with_gold, _ = plan(p, RUBRIC, make_table(rows + gold), _pushed(8, 10), state)
    assert with_gold.extend == [] and len(with_gold.clear) == 8  # both right on every gold item
    anchors = gold_anchors(make_table(rows + gold), _pushed(8, 10), RUBRIC, excluded={"Bo"})
    assert anchors is not None and set(anchors.rows["annotator"]) == {"Ana"}
    assert set(anchors.rows["item_id"]) == {f"g{i}" for i in range(10)} and len(anchors.known) == 20
    assert gold_anchors(make_table(rows), _pushed(8, 0), RUBRIC) is None
