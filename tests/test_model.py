import pytest

from brun_label.model import Candidate, Sample, SampleError, candidate_label, sample_from_dict


def base(**over):
    d = {"id": "s1", "category": "customer_complaint", "prompt": "Where is my refund?",
         "candidates": [{"id": "a", "text": "It is on its way."}, {"id": "b", "text": "Read the terms."}]}
    d.update(over)
    return d


def test_round_trip_keeps_everything():
    raw = base(metadata={"channel": "email"}, judge={"preference": "a"}, judge_model="j",
               candidates=[{"id": "a", "text": "x", "model": "m", "persona": "Diplomatic_Firmness",
                            "arc": "Hostility_to_Collaboration", "judge": {"tone_zone": 0},
                            "judge_model": "j", "params": {"temperature": 0.7}},
                           {"id": "b", "text": "y"}])
    assert sample_from_dict(raw).to_dict() == raw


def test_ids_are_derived_from_content_and_stable():
    raw = base()
    del raw["id"]
    for c in raw["candidates"]:
        del c["id"]
    s1, s2 = sample_from_dict(raw), sample_from_dict(dict(raw))
    assert s1.id == s2.id and s1.id.startswith("s-")
    assert [c.id for c in s1.candidates] == [c.id for c in s2.candidates]
    other = sample_from_dict({**raw, "prompt": "Something else"})
    assert other.id != s1.id


def test_chat_prompt():
    s = sample_from_dict(base(prompt=[{"role": "system", "content": "Be calm."},
                                      {"role": "user", "content": "You broke it!"}]))
    assert s.messages()[0] == {"role": "system", "content": "Be calm."}
    assert s.prompt_text() == "You broke it!"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"prompt": None}, "prompt"),
        ({"prompt": "  "}, "prompt"),
        ({"prompt": 3}, "prompt"),
        ({"prompt": [{"role": "robot", "content": "x"}]}, "prompt[0].role"),
        ({"prompt": [{"role": "system", "content": "x"}]}, "prompt"),
        ({"candidates": [{"text": "only one"}]}, "candidates"),
        ({"candidates": "a,b"}, "candidates"),
        ({"candidates": [{"text": "a"}, {"text": 5}]}, "candidates[1].text"),
        ({"candidates": [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}]}, "candidates[1].id"),
        ({"candidates": [{"text": "a"}, {"text": "b", "colour": "red"}]}, "candidates[1].colour"),
        ({"metadata": [1]}, "metadata"),
        ({"category": ""}, "category"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_samples_name_the_field(over, field):
    with pytest.raises(SampleError) as exc:
        sample_from_dict(base(**over))
    assert exc.value.field == field


def test_candidate_lookup_and_labels():
    s = Sample("s", "c", "p", (Candidate("a", "x"), Candidate("b", "y")))
    assert s.candidate("b").text == "y"
    with pytest.raises(KeyError):
        s.candidate("zz")
    assert [candidate_label(i) for i in (0, 25, 26)] == ["A", "Z", "AA"]
