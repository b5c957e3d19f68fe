"""The local search engine (brun-sql) against a plain-Python reference over the same records.

Generated searches (text queries with negations, phrases, alternatives, very long terms and too
many terms; metadata terms and ranges with out-of-range numbers; date ranges; sorts; offsets far
past the end) must give exactly the reference's page and total, or a 4xx naming the problem
where the reference says the search cannot be answered, and never a 5xx.

The reference implements the text query grammar the engine documents (the stock engines use
Elasticsearch's ``simple_query_string`` with AND as the default operator): whitespace-separated
terms all match, ``"a phrase"`` is one term, ``-`` negates, ``a | b`` is either, a leading ``+``
and trailing ``*`` are ignored; a term matches a record when it is a substring (ASCII case
ignored) of a searched field: text fields, and chat fields by their messages' content and role.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brun_label.servers.base import ServerInfo
from tests.fixtures.argilla import ArgillaAPI, unique_name

pytestmark = pytest.mark.server

MAX_TEXT_TERMS = 256  # the engine's documented limit
WORDS = ["refund", "late", "fee", "REFUND", "Fee", "café", "%", "_", "a_b", "50%", "user", "role", "x", "zz",
         "Late fee", "naïve"]
LONG = "w" * 60_000  # far past SQLite's 50,000-byte LIKE pattern limit
N_RECORDS = 40
CATEGORIES = ["billing", "hr", "pr", "legal"]
BIG = [10**30, -(10**30), 2**63, -(2**63) - 1, 1e300, -1e300, 2**53 + 1]


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _records(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(N_RECORDS):
        fields: dict[str, Any] = {"text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5))) + f" r{i}"}
        if rng.random() < 0.5:  # optional fields: about half the records lack each
            fields["extra"] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.4:
            fields["chat"] = [{"role": rng.choice(["user", "assistant"]), "content": rng.choice(WORDS)}
                              for _ in range(rng.randint(1, 2))]
        metadata: dict[str, Any] = {}
        if rng.random() < 0.8:
            metadata["category"] = rng.choice(CATEGORIES)
        if rng.random() < 0.8:
            metadata["n"] = rng.randint(-(2**53), 2**53) if rng.random() < 0.2 else rng.randint(-50, 50)
        if rng.random() < 0.8:
            metadata["x"] = rng.uniform(-100, 100)
        out.append({"external_id": f"r{i}", "fields": fields, "metadata": metadata})
    return out


@pytest.fixture(scope="module")
def corpus(argilla_server: ServerInfo, argilla_api: ArgillaAPI) -> Iterator[dict[str, Any]]:
    """A dataset of generated records, and the records as the server stored them."""
    import argilla as rg

    client = rg.Argilla(api_url=argilla_server.url, api_key=argilla_server.api_key)
    settings_ = rg.Settings(
        fields=[rg.TextField(name="text"), rg.TextField(name="extra", required=False),
                rg.ChatField(name="chat", required=False)],
        questions=[rg.LabelQuestion(name="label", labels=["a", "b"])],
        metadata=[rg.TermsMetadataProperty(name="category"), rg.IntegerMetadataProperty(name="n"),
                  rg.FloatMetadataProperty(name="x")],
    )
    ds = rg.Dataset(name=unique_name("search-props"), workspace="default", settings=settings_, client=client).create()
    items = _records(random.Random(12))
    argilla_api.http.post(f"/api/v1/datasets/{ds.id}/records/bulk", json={"items": items}).raise_for_status()
    stored = argilla_api.records(str(ds.id))
    by_id = {r["external_id"]: r for r in stored}
    for item in items:
        assert by_id[item["external_id"]]["fields"] == item["fields"]
    yield {"id": str(ds.id), "records": stored, "http": argilla_api.http}


# -- the reference ------------------------------------------------------------------------------------

class Refused(Exception):
    """The reference says the search cannot be answered (the server must give a 4xx)."""


def _parse(q: str) -> list[list[tuple[bool, str]]]:
    groups: list[list[tuple[bool, str]]] = []
    join = False
    for m in re.finditer(r'(-?)"([^"]*)"|(\S+)', q):
        neg_phrase, phrase, word = m.groups()
        if word == "|":
            join = bool(groups)
            continue
        if word is not None:
            negated = word.startswith("-") and len(word) > 1
            term = (word[1:] if negated or word.startswith("+") else word).rstrip("*")
        else:
            negated, term = bool(neg_phrase), phrase
        if not term:
            continue
        if join:
            groups[-1].append((negated, term))
        else:
            groups.append([(negated, term)])
        join = False
    return groups


def _texts(record: dict[str, Any], field: str | None) -> list[str]:
    out = []
    for name, value in record["fields"].items():
        if (field is not None and name != field) or value is None:
            continue
        if name == "chat":
            out += [m[k] for m in value for k in ("content", "role")]
        else:
            out.append(value)
    return [_ascii_lower(t) for t in out]


def _text_match(record: dict[str, Any], q: str, field: str | None) -> bool:
    groups = _parse(q)
    if sum(len(g) for g in groups) > MAX_TEXT_TERMS:
        raise Refused("too many terms")
    texts = _texts(record, field)

    def found(term: str) -> bool:
        return any(_ascii_lower(term) in t for t in texts)

    return all(any(found(t) != neg for neg, t in group) for group in groups)


def _bound(value: Any) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except OverflowError:
        raise Refused("not a float") from None
    return number


def _filter_match(record: dict[str, Any], flt: dict[str, Any]) -> bool:
    scope = flt["scope"]
    if scope["entity"] == "record":  # a range over inserted_at in epoch milliseconds
        ge, le = flt.get("ge"), flt.get("le")
        for b in (ge, le):
            if b is not None and not -62135596800000 < b < 253402300799000:
                raise Refused("not a date")
        at = (datetime.fromisoformat(record["inserted_at"]) - datetime(1970, 1, 1)).total_seconds() * 1000
        return (ge is None or at >= ge) and (le is None or at <= le)
    value = (record["metadata"] or {}).get(scope["metadata_property"])
    if flt["type"] == "terms":
        return value is not None and str(value) in flt["values"]
    ge, le = _bound(flt.get("ge")), _bound(flt.get("le"))
    if value is None:
        return False
    return (ge is None or float(value) >= ge) and (le is None or float(value) <= le)


def _order(records: list[dict[str, Any]], sort: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    def base(r: dict[str, Any]) -> tuple[datetime, str]:
        return datetime.fromisoformat(r["inserted_at"]), r["id"].replace("-", "")

    out = sorted(records, key=base)
    for order in reversed(sort or []):
        name = order["scope"]["metadata_property"]
        present = [r for r in out if (r["metadata"] or {}).get(name) is not None]
        missing = [r for r in out if (r["metadata"] or {}).get(name) is None]
        present.sort(key=lambda r: r["metadata"][name], reverse=order["order"] == "desc")
        out = present + missing  # nulls last either way
    return out


def reference(records: list[dict[str, Any]], body: dict[str, Any], offset: int, limit: int) -> tuple[list[str], int]:
    """The page of external ids and the total the search should give (or :class:`Refused`)."""
    text = (body.get("query") or {}).get("text")
    filters = (body.get("filters") or {}).get("and") or []
    hits = [r for r in records
            if (text is None or _text_match(r, text["q"], text.get("field")))
            and all(_filter_match(r, f) for f in filters)]
    if not hits and filters:  # still check every bound, as the server does before searching
        for f in filters:
            if f["type"] == "range":
                _filter_match(records[0], f)
    ordered = _order(hits, body.get("sort"))
    return [r["external_id"] for r in ordered[offset:offset + limit]], len(hits)


# -- generated searches --------------------------------------------------------------------------------

def _token() -> st.SearchStrategy[str]:
    word = st.sampled_from([*WORDS, LONG])
    plain = st.tuples(st.sampled_from(["", "-", "+"]), word, st.sampled_from(["", "*"])).map(
        lambda t: t[0] + t[1].replace(" ", "") + t[2])
    phrase = st.tuples(st.sampled_from(["", "-"]), st.sampled_from(WORDS)).map(lambda t: f'{t[0]}"{t[1]}"')
    return st.one_of(plain, phrase, st.just("|"))


queries = st.one_of(
    st.lists(_token(), min_size=1, max_size=6).map(" ".join),
    st.integers(MAX_TEXT_TERMS - 2, MAX_TEXT_TERMS + 40).map(lambda n: " ".join(["-zz"] * n)),
)
numbers = st.one_of(st.integers(-60, 60), st.floats(-120, 120), st.sampled_from(BIG))
range_filters = st.builds(
    lambda name, ge, le: {"type": "range", "scope": {"entity": "metadata", "metadata_property": name},
                          **({"ge": ge} if ge is not None else {}), **({"le": le} if le is not None else {})},
    st.sampled_from(["n", "x"]), st.none() | numbers, st.none() | numbers,
).filter(lambda f: ("ge" in f or "le" in f) and not ("ge" in f and "le" in f and f["ge"] > f["le"]))
terms_filters = st.lists(st.sampled_from([*CATEGORIES, "none"]), min_size=1, max_size=3, unique=True).map(
    lambda vs: {"type": "terms", "scope": {"entity": "metadata", "metadata_property": "category"}, "values": vs})
date_filters = st.sampled_from([1e20, -1e20, 9e15, 0]).map(
    lambda ms: {"type": "range", "scope": {"entity": "record", "property": "inserted_at"}, "ge": ms})
searches = st.fixed_dictionaries({}, optional={
    "query": st.builds(lambda q, field: {"text": {"q": q, **({"field": field} if field else {})}},
                       queries, st.sampled_from([None, "text", "extra", "chat"])),
    "filters": st.lists(st.one_of(range_filters, terms_filters, date_filters), min_size=1, max_size=3).map(
        lambda fs: {"and": fs}),
    "sort": st.lists(st.builds(lambda order: {"scope": {"entity": "metadata", "metadata_property": "n"},
                                              "order": order}, st.sampled_from(["asc", "desc"])),
                     min_size=1, max_size=1),
})
offsets = st.one_of(st.integers(0, N_RECORDS + 5), st.sampled_from([10**6, 2**63 - 1, 2**63, 10**30]))


def _ask(corpus: dict[str, Any], body: dict[str, Any], offset: int, limit: int) -> httpx.Response:
    http: httpx.Client = corpus["http"]
    return http.post(f"/api/v1/datasets/{corpus['id']}/records/search",
                     params={"offset": offset, "limit": limit}, json=body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=searches, offset=offsets, limit=st.integers(1, 60))
def test_every_search_gets_the_reference_answer_or_a_4xx(
    corpus: dict[str, Any], body: dict[str, Any], offset: int, limit: int
) -> None:
    answer = _ask(corpus, body, offset, limit)
    assert answer.status_code < 500, answer.text
    try:
        expected = reference(corpus["records"], body, offset, limit)
    except Refused:
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.json()["detail"], answer.text
        return
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert ([item["record"]["external_id"] for item in got["items"]], got["total"]) == expected


def test_a_negated_term_keeps_the_records_lacking_a_field(corpus: dict[str, Any]) -> None:
    answer = _ask(corpus, {"query": {"text": {"q": "-nowhere-to-be-found"}}}, 0, 1000).raise_for_status().json()
    assert answer["total"] == N_RECORDS
    lacking = sum(1 for r in corpus["records"] if "extra" not in r["fields"])
    assert 0 < lacking < N_RECORDS  # the corpus does have records without the optional field


def test_the_limits_are_named(corpus: dict[str, Any]) -> None:
    many = _ask(corpus, {"query": {"text": {"q": " ".join(["fee"] * (MAX_TEXT_TERMS + 1))}}}, 0, 10)
    assert many.status_code == 422 and f"at most {MAX_TEXT_TERMS}" in many.text
    date = _ask(corpus, {"filters": {"and": [{"type": "range", "scope": {"entity": "record",
                                                                        "property": "inserted_at"}, "ge": 1e20}]}},
                0, 10)
    assert date.status_code == 422 and "inserted_at" in date.text
    long = _ask(corpus, {"query": {"text": {"q": LONG}}}, 0, 10)
    assert long.status_code == 200 and long.json()["total"] == 0
    far = _ask(corpus, {}, 2**63, 10)
    assert far.status_code == 200 and far.json() == {"items": [], "total": N_RECORDS}


def test_an_annotators_searches_get_answers_or_4xx(corpus: dict[str, Any], argilla_api: ArgillaAPI) -> None:
    annotator = argilla_api.annotator("search-ivy")
    path = f"/api/v1/me/datasets/{corpus['id']}/records/search"

    def ask(body: dict[str, Any], offset: int = 0) -> httpx.Response:
        return annotator.http.post(path, params={"offset": offset, "limit": 10}, json=body)

    response_range = {"type": "range", "scope": {"entity": "response", "question": "label"}, "ge": "high"}
    assert ask({"filters": {"and": [response_range]}}).status_code == 422
    suggestion_range = {"type": "range", "scope": {"entity": "suggestion", "question": "label", "property": "score"},
                        "le": 1e300}
    assert ask({"filters": {"and": [suggestion_range]}}).json()["total"] == 0  # no suggestions at all
    bad_date = {"type": "terms", "scope": {"entity": "record", "property": "inserted_at"}, "values": ["soon"]}
    answer = ask({"filters": {"and": [bad_date]}})
    assert answer.status_code == 422 and "soon" in answer.text
    assert ask({}, offset=2**64).json() == {"items": [], "total": N_RECORDS}
    assert ask({"query": {"text": {"q": LONG + " -" + LONG}}}).json()["total"] == 0
    pending = {"type": "terms", "scope": {"entity": "response", "property": "status"}, "values": ["pending"]}
    assert ask({"filters": {"and": [pending]}, "query": {"text": {"q": "-zz"}}}).status_code == 200
