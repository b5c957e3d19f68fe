import pytest

from brun_label.rubric import RubricError, rubric_from_dict, slot_name, split_slot_name
from brun_label.rubrics import load_rubric, pack_names


def test_every_pack_loads_with_zone_flags_and_preference():
    assert set(pack_names()) == {"de-escalation", "project-architect", "socratic-mentor", "deal-closer"}
    for name in pack_names():
        r = load_rubric(name)
        zone = r.zone_question()
        assert zone is not None and zone.target == 0 and zone.level == "ordinal"
        assert zone.values() == [-2, -1, 0, 1, 2]
        assert r.flag_questions()
        assert r.preference_question() is not None


def test_de_escalation_has_the_liability_flags_users_asked_for():
    flags = load_rubric("de-escalation").question("liability_flags").values()
    for flag in ("admits_fault", "promises_compensation", "speculates_cause", "blames_customer",
                 "legal_commitment", "discloses_private_data"):
        assert flag in flags


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"name": "Bad Name", "questions": [{"name": "q", "type": "text"}]}, "name"),
        ({"name": "x", "questions": [{"name": "Q", "type": "text"}]}, "questions[0].name"),
        ({"name": "x", "questions": [{"name": "q", "type": "slider"}]}, "questions[q].type"),
        ({"name": "x", "questions": [{"name": "q", "type": "scale", "options": [1]}]}, "questions[q].options"),
        ({"name": "x", "questions": [{"name": "q", "type": "scale", "options": [1, 0]}]}, "questions[q].options"),
        ({"name": "x", "questions": [{"name": "q", "type": "scale", "options": [0, 1], "target": 5}]}, "questions[q].target"),
        ({"name": "x", "questions": [{"name": "q", "type": "rating", "min": 0, "max": 11}]}, "questions[q].min"),
        ({"name": "x", "questions": [{"name": "q", "type": "choice", "options": ["A b", "c"]}]}, "questions[q].options[0]"),
        ({"name": "x", "questions": [{"name": "q", "type": "preference", "scope": "candidate"}]}, "questions[q].scope"),
        ({"name": "x", "questions": [{"name": "q", "type": "text"}, {"name": "q", "type": "text"}]}, "questions[q].name"),
    ],
)
def test_bad_rubrics_name_the_field(raw, field):
    with pytest.raises(RubricError) as exc:
        rubric_from_dict(raw)
    assert exc.value.field == field


def test_slot_names_round_trip():
    r = load_rubric("de-escalation")
    for pos in range(30):
        assert split_slot_name(r, slot_name("tone_zone", pos)) == ("tone_zone", pos)
    assert split_slot_name(r, "preference") == ("preference", None)
    with pytest.raises(KeyError):
        split_slot_name(r, "nothing_a")


def test_user_rubric_file(tmp_path):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nquestions:\n  - {name: helpful, type: rating, min: 1, max: 5}\n")
    assert load_rubric(str(p)).question("helpful").values() == [1, 2, 3, 4, 5]
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: mine\nquestions: [\n")
    from brun_label.errors import InputError

    with pytest.raises(InputError, match=r"bad.yaml:\d+: not valid YAML"):
        load_rubric(str(bad))
