"""Argilla's change detection: a record's fingerprint changes exactly when a pull's rows of it can
(the real-server behaviour is tested in tests/project/test_incremental_pull.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from brun_label.backends.argilla_changes import fingerprint

response = st.fixed_dictionaries({"user_id": st.sampled_from(["u1", "u2", "u3"]),
                                  "status": st.sampled_from(["submitted", "draft", "discarded"]),
                                  "updated_at": st.sampled_from(["t1", "t2", "t3"])})
record = st.fixed_dictionaries({"id": st.just("r1"), "updated_at": st.sampled_from(["t0", "t9"]),
                                "responses": st.lists(response, max_size=3, unique_by=lambda r: r["user_id"]),
                                "suggestions": st.lists(st.fixed_dictionaries(
                                    {"question_id": st.sampled_from(["q1", "q2"]), "agent": st.just("m"),
                                     "updated_at": st.sampled_from(["t1", "t2"])}), max_size=2,
                                    unique_by=lambda s: s["question_id"])})


def _key(r: dict[str, Any]) -> Any:
    # by field name: hypothesis may build the dicts with their keys in any order
    return (r["updated_at"], sorted((x["user_id"], x["status"], x["updated_at"]) for x in r["responses"]),
            sorted((x["question_id"], x["agent"], x["updated_at"]) for x in r["suggestions"]))


@given(a=record, b=record)
def test_the_fingerprint_changes_exactly_when_what_the_rows_depend_on_changes(a, b) -> None:
    assert (fingerprint(a) == fingerprint(b)) == (_key(a) == _key(b))


@given(a=record)
def test_the_order_responses_are_listed_in_does_not_matter(a) -> None:
    assert fingerprint(a) == fingerprint({**a, "responses": a["responses"][::-1],
                                          "suggestions": a["suggestions"][::-1]})
