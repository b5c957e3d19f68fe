"""A rubric has one identity: names that would collide on a platform, reserved names, bounded files."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from brun_label.cli import cli
from brun_label.errors import InputError
from brun_label.rubric import MAX_OPTIONS, RubricError, platform_names, rubric_from_dict
from brun_label.rubrics import load_rubric, pack_names, resolve_rubric

SCALE = {"type": "scale", "options": [0, 1]}


def _rubric(*questions: dict) -> dict:
    return {"name": "mine", "questions": list(questions)}


@pytest.mark.parametrize(
    ("questions", "both"),
    [
        # an item question named like a per-candidate question's slot
        ([{"name": "tone", **SCALE}, {"name": "tone_b", "type": "text"}], ("tone_b", "tone")),
        # two per-candidate questions whose slots meet: tone_a_b is tone_a's slot B and ...
        ([{"name": "tone_a", **SCALE}, {"name": "tone_a_b", "type": "choice", "options": ["x", "y"],
                                        "scope": "item"}], ("tone_a_b", "tone_a")),
        # an item question named like candidate question's first slot, in either order
        ([{"name": "tone_a", "type": "text"}, {"name": "tone", **SCALE}], ("tone", "tone_a")),
    ],
)
def test_slot_collisions_are_refused_naming_both(questions, both):
    with pytest.raises(RubricError) as exc:
        rubric_from_dict(_rubric(*questions))
    for name in both:
        assert repr(name) in exc.value.message


@pytest.mark.parametrize("name", ["prompt", "category", "metadata", "brun_order", "candidate_c"])
def test_reserved_names_are_refused(name):
    with pytest.raises(RubricError, match="reserved"):
        rubric_from_dict(_rubric({"name": name, "type": "text"}))


def test_a_candidate_question_named_candidate_lands_on_the_fields():
    with pytest.raises(RubricError, match="'candidate_a' is reserved"):
        rubric_from_dict(_rubric({"name": "candidate", **SCALE}))


@given(st.lists(st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True), min_size=1, max_size=5, unique=True),
       st.lists(st.booleans(), min_size=5, max_size=5))
def test_accepted_rubrics_have_unique_platform_names(names, per_candidate):
    questions = [{"name": n, **(SCALE if per_candidate[i] else {"type": "text"})} for i, n in enumerate(names)]
    try:
        r = rubric_from_dict(_rubric(*questions))
    except RubricError:
        return
    seen = [n for q in r.questions for n in platform_names(q)]
    assert len(seen) == len(set(seen))


def test_the_shipped_packs_pass():
    for name in pack_names():
        assert load_rubric(name).identity.startswith(name + "@")


BOMB = """name: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
questions: *g
"""


def test_alias_bomb_is_refused_at_once_with_one_short_line(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text(BOMB)
    started = time.process_time()
    result = CliRunner().invoke(cli, ["rubric", "show", str(p)])
    assert time.process_time() - started < 5  # a sanity bound, not a speed target: expansion takes minutes
    assert result.exit_code == 2
    assert "anchors and aliases are not allowed" in result.stderr
    assert len(result.stderr) < 300 and result.stderr.count("\n") == 1


def test_oversized_and_deep_files_are_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("name: big\n# " + "x" * (3 * 1024 * 1024) + "\nquestions: []\n")
    with pytest.raises(InputError, match="capped"):
        load_rubric(str(big))
    deep = tmp_path / "deep.yaml"
    deep.write_text("name: deep\nquestions: " + "[" * 100 + "]" * 100 + "\n")
    with pytest.raises(InputError, match="nested deeper"):
        load_rubric(str(deep))
    deep_json = tmp_path / "deep.json"
    deep_json.write_text('{"name": "deep", "questions": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(InputError, match="nested deeper"):
        load_rubric(str(deep_json))


def test_too_many_options_is_a_clear_message():
    opts = [f"o{i}" for i in range(MAX_OPTIONS + 1)]
    with pytest.raises(RubricError, match="capped"):
        rubric_from_dict(_rubric({"name": "q", "type": "choice", "options": opts}))


def test_huge_bad_values_make_short_messages():
    with pytest.raises(RubricError) as exc:
        rubric_from_dict(_rubric({"name": "q", "type": "choice", "options": ["x" * 100_000, "b"]}))
    assert len(str(exc.value)) < 200


COLLIDING = "name: clash\nquestions:\n  - {name: tone, type: scale, options: [0, 1]}\n  - {name: tone_b, type: text}\n"


def test_collision_refused_at_rubric_show_validate_and_push(tmp_path):
    p = tmp_path / "clash.yaml"
    p.write_text(COLLIDING)
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"id": "s1", "prompt": "hi", "candidates": [{"text": "a"}, {"text": "b"}]}\n')
    runner = CliRunner()
    for args in (["rubric", "show", str(p)],
                 ["validate", str(samples), "--rubric", str(p)],
                 ["push", str(samples), "--to", "label-studio", "--project", "x", "--rubric", str(p),
                  "--url", "http://127.0.0.1:9"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        assert "'tone_b' collides with per-candidate question 'tone'" in result.stderr, args


def test_resolve_rubric_never_swaps_a_user_file_for_the_pack(tmp_path):
    pack = load_rubric("de-escalation")
    mine = tmp_path / "de-escalation.yaml"
    mine.write_text("name: de-escalation\nquestions:\n  - {name: tone_zone, type: scale, options: [0, 1]}\n")
    user = load_rubric(str(mine))
    assert user.name == pack.name and user.identity != pack.identity
    # recorded as the user file: the pack is refused, the file is accepted
    with pytest.raises(InputError, match="pass the rubric file"):
        resolve_rubric(user.identity, None)
    with pytest.raises(InputError, match="was written under rubric"):
        resolve_rubric(user.identity, "de-escalation")
    assert resolve_rubric(user.identity, str(mine)).identity == user.identity
    # recorded as the pack: the user file is refused
    with pytest.raises(InputError, match="was written under rubric"):
        resolve_rubric(pack.identity, str(mine))
    with pytest.raises(InputError, match="records no rubric"):
        resolve_rubric(None, None)
