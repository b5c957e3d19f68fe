"""The rule every backend's pull applies to the rubric push recorded (``recorded_rubric``)."""

from __future__ import annotations

import pytest

from brun_label.backends.base import recorded_rubric
from brun_label.errors import InputError
from brun_label.rubric import rubric_from_dict
from brun_label.rubrics import load_rubric

PACK = load_rubric("de-escalation")
OWN = rubric_from_dict({"name": "de-escalation", "questions": [{"name": "tone_zone", "type": "scale",
                                                                "options": [-1, 0, 1]}]})


def test_the_recorded_pack_is_used_and_a_matching_flag_accepted() -> None:
    assert recorded_rubric([PACK.identity] * 3, None, "p") == (PACK, [])
    assert recorded_rubric([PACK.identity], PACK, "p") == (PACK, [])


def test_a_flag_with_another_fingerprint_is_refused_whatever_its_name() -> None:
    with pytest.raises(InputError, match=f"pushed with rubric {PACK.identity}, but --rubric de-escalation is {OWN.identity}"):
        recorded_rubric([PACK.identity], OWN, "p")


def test_a_user_file_recorded_under_a_pack_name_is_never_read_with_the_pack() -> None:
    with pytest.raises(InputError, match="shipped pack de-escalation is now"):
        recorded_rubric([OWN.identity], None, "p")
    assert recorded_rubric([OWN.identity], OWN, "p") == (OWN, [])


def test_a_bare_name_is_that_pack_unverified_or_a_flag_of_that_name() -> None:
    rubric, notes = recorded_rubric(["de-escalation"], None, "p")
    assert rubric == PACK and "unverified" in notes[0]
    rubric, notes = recorded_rubric(["de-escalation"], OWN, "p")
    assert rubric == OWN and OWN.identity in notes[0]
    with pytest.raises(InputError, match="but --rubric is deal-closer@"):
        recorded_rubric(["de-escalation"], load_rubric("deal-closer"), "p")
    with pytest.raises(InputError, match="not a shipped pack"):
        recorded_rubric(["my-rubric"], None, "p")


def test_several_rubrics_need_a_flag_naming_one_of_them() -> None:
    with pytest.raises(InputError, match="records 2 different rubrics"):
        recorded_rubric([PACK.identity, OWN.identity], None, "p")
    with pytest.raises(InputError, match="records 2 different rubrics"):
        recorded_rubric([PACK.identity, OWN.identity], load_rubric("deal-closer"), "p")
    rubric, notes = recorded_rubric([PACK.identity, OWN.identity], OWN, "p")
    assert rubric == OWN and "records 2 rubrics" in notes[0]


def test_nothing_recorded_needs_a_flag() -> None:
    with pytest.raises(InputError, match="records no rubric"):
        recorded_rubric([], None, "p")
    assert recorded_rubric([], PACK, "p") == (PACK, [])
