"""A search engine for argilla-server 2.8 that answers from the server's own SQLite database.

Runs inside the argilla-server virtual environment (it imports ``argilla_server``, never
brun_label). Registered as ``ARGILLA_SEARCH_ENGINE=brun-sql`` through argilla-server's own engine
registry, it replaces Elasticsearch/OpenSearch for a local or test server:

* the database *is* the index, so every write hook (``index_records``, ``update_record_response``,
  ...) is a no-op and searches always see committed data;
* :meth:`SQLSearchEngine.search` implements the stock engines' semantics in SQL: text queries
  (``simple_query_string``-like: every term must occur; ``"phrases"``, ``-not`` and ``a | b``),
  terms and range filters on record properties, metadata, suggestions and responses, the
  per-user response-status filter behind an annotator's queue (``pending`` = no response *by
  that user*), sorting, and the per-user deterministic shuffle the stock engines apply when an
  annotator asks for their queue;
* progress and metrics are ``GROUP BY`` counts; an annotator's progress counts only their own
  responses;
* similarity (vector) search is not supported and says so (HTTP 422).

Text matching is substring matching (case-insensitive for ASCII), not Elasticsearch's analysed
word matching, and there is no relevance ranking: this is the local/test engine; production users
point brun-label at an Argilla deployment with Elasticsearch or OpenSearch.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from argilla_server.database import AsyncSessionLocal
from argilla_server.enums import MetadataPropertyType, ResponseStatusFilter, SimilarityOrder
from argilla_server.errors.future import UnprocessableEntityError
from argilla_server.models import (
    Dataset,
    Field,
    MetadataProperty,
    Question,
    Record,
    Response,
    Suggestion,
    User,
    VectorSettings,
)
from argilla_server.search_engine.base import (
    AndFilter,
    Filter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    MetadataMetrics,
    Order,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchEngine,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)
from sqlalchemy import (
    Float,
    Text,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import ColumnElement

ENGINE_NAME = "brun-sql"
ENGINE_VERSION = "1"

_RECORD_COLUMNS = {
    "id": Record.id,
    "external_id": Record.external_id,
    "inserted_at": Record.inserted_at,
    "updated_at": Record.updated_at,
    "status": Record.status,
}
_TOKEN = re.compile(r'(-?)"([^"]*)"|(\S+)')


def json_path(*keys: str) -> str:
    """Return a SQLite JSON path for nested object keys, quoted (``$."a"."value"``)."""
    return "$" + "".join('."' + key.replace('"', '\\"') + '"' for key in keys)


def _json_each(column: Any, path: str | None = None) -> Any:
    fn = func.json_each(column, path) if path is not None else func.json_each(column)
    return fn.table_valued("value")


def _json_contains_any(column: Any, path: str | None, values: list[str]) -> ColumnElement[bool]:
    """Whether the JSON value at ``path`` (a scalar or an array) holds any of ``values`` (as text)."""
    each = _json_each(column, path)
    return exists(select(literal(1)).select_from(each).where(cast(each.c.value, Text).in_(values)))


def _json_number(column: Any, path: str) -> Any:
    return cast(func.json_extract(column, path), Float)


def _range(expr: Any, ge: Any, le: Any) -> ColumnElement[bool]:
    conds = []
    if ge is not None:
        conds.append(expr >= ge)
    if le is not None:
        conds.append(expr <= le)
    return and_(true(), *conds)


def _as_datetime(value: Any) -> Any:
    if isinstance(value, (int, float)):
        return datetime.utcfromtimestamp(float(value) / 1000.0)  # epoch millis, as Elasticsearch reads them
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
        except ValueError:
            raise UnprocessableEntityError(f"cannot read {value!r} as a date") from None
    return value


def _as_uuids(values: Iterable[str]) -> list[UUID]:
    out = []
    for value in values:
        try:
            out.append(UUID(str(value)))
        except ValueError:
            continue
    return out


def _like(expr: Any, term: str) -> ColumnElement[bool]:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(expr, Text).like(f"%{escaped}%", escape="\\")


def parse_text_query(q: str) -> list[list[tuple[bool, str]]]:
    """Parse a ``simple_query_string``-like query into AND-ed groups of OR-ed ``(negated, term)``.

    >>> parse_text_query('refund -angry "late fee" a | b')
    [[(False, 'refund')], [(True, 'angry')], [(False, 'late fee')], [(False, 'a'), (False, 'b')]]
    """
    groups: list[list[tuple[bool, str]]] = []
    join_next = False
    for match in _TOKEN.finditer(q):
        neg_phrase, phrase, word = match.groups()
        if word == "|":
            join_next = bool(groups)
            continue
        if word is not None:
            negated = word.startswith("-") and len(word) > 1
            term = word[1:] if negated or word.startswith("+") else word
            term = term.rstrip("*")
        else:
            negated, term = bool(neg_phrase), phrase
        if not term:
            continue
        if join_next:
            groups[-1].append((negated, term))
        else:
            groups.append([(negated, term)])
        join_next = False
    return groups


class SQLSearchEngine(SearchEngine):
    """argilla-server's search engine interface answered by SQL over the server's own database."""

    @classmethod
    async def new_instance(cls) -> SQLSearchEngine:
        return cls()

    async def close(self) -> None:
        return None

    async def ping(self) -> bool:
        async with AsyncSessionLocal() as db:
            await db.execute(select(literal(1)))
        return True

    async def info(self) -> dict:
        return {"name": ENGINE_NAME, "version": {"number": ENGINE_VERSION, "distribution": "brun-label sql"}}

    # -- index lifecycle and writes: the database is the index ------------------------------------

    async def create_index(self, dataset: Dataset) -> None:
        return None

    async def delete_index(self, dataset: Dataset) -> None:
        return None

    async def configure_metadata_property(self, dataset: Dataset, metadata_property: MetadataProperty) -> None:
        return None

    async def configure_index_vectors(self, vector_settings: VectorSettings) -> None:
        return None

    async def index_records(self, dataset: Dataset, records: Iterable[Record]) -> None:
        return None

    async def partial_record_update(self, record: Record, **update: Any) -> None:
        return None

    async def delete_records(self, dataset: Dataset, records: Iterable[Record]) -> None:
        return None

    async def update_record_response(self, response: Response) -> None:
        return None

    async def delete_record_response(self, response: Response) -> None:
        return None

    async def update_record_suggestion(self, suggestion: Suggestion) -> None:
        return None

    async def delete_record_suggestion(self, suggestion: Suggestion) -> None:
        return None

    # -- progress and metrics ---------------------------------------------------------------------

    async def get_dataset_progress(self, dataset: Dataset) -> dict:
        if dataset.is_draft:
            return {}
        async with AsyncSessionLocal() as db:
            rows = (
                await db.execute(
                    select(Record.status, func.count()).where(Record.dataset_id == dataset.id).group_by(Record.status)
                )
            ).all()
        counts = {str(getattr(status, "value", status)): int(n) for status, n in rows}
        return {"total": sum(counts.values()), **counts}

    async def get_dataset_user_progress(self, dataset: Dataset, user: User) -> dict:
        if dataset.is_draft:
            return {}
        async with AsyncSessionLocal() as db:
            rows = (
                await db.execute(
                    select(Response.status, func.count())
                    .join(Record, Record.id == Response.record_id)
                    .where(Record.dataset_id == dataset.id, Response.user_id == user.id)
                    .group_by(Response.status)
                )
            ).all()
        counts = {str(getattr(status, "value", status)): int(n) for status, n in rows}
        return {"total": sum(counts.values()), **counts}

    async def compute_metrics_for(self, metadata_property: MetadataProperty) -> MetadataMetrics:
        path = json_path(metadata_property.name)
        async with AsyncSessionLocal() as db:
            values = (
                await db.scalars(
                    select(func.json_extract(Record.metadata_, path)).where(
                        Record.dataset_id == metadata_property.dataset_id
                    )
                )
            ).all()
        if metadata_property.type == MetadataPropertyType.terms:
            counts: dict[str, int] = {}
            for value in values:
                if value is None:
                    continue
                items = json.loads(value) if isinstance(value, str) and value.startswith("[") else [value]
                for item in items:
                    counts[str(item)] = counts.get(str(item), 0) + 1
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            return TermsMetrics(
                total=sum(counts.values()),
                values=[TermsMetrics.TermCount(term=t, count=c) for t, c in ordered],
            )
        numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if metadata_property.type == MetadataPropertyType.integer:
            ints = [int(v) for v in numbers]
            return IntegerMetadataMetrics(min=min(ints, default=None), max=max(ints, default=None))
        return FloatMetadataMetrics(min=min(numbers, default=None), max=max(numbers, default=None))

    # -- search -----------------------------------------------------------------------------------

    async def search(
        self,
        dataset: Dataset,
        query: TextQuery | str | None = None,
        filter: Filter | None = None,
        sort: list[Order] | None = None,
        offset: int = 0,
        limit: int = 100,
        user_id: Any | None = None,
    ) -> SearchResponses:
        async with AsyncSessionLocal() as db:
            conditions: list[Any] = [Record.dataset_id == dataset.id]
            if query is not None:
                conditions.append(await self._text_condition(db, dataset, query))
            if filter is not None:
                conditions.append(self._filter_condition(filter))
            base = select(Record.id).where(*conditions)
            if sort:
                order_by = [self._order_expression(order) for order in sort]
                order_by += [Record.inserted_at.asc(), Record.id.asc()]
                total = int(await db.scalar(select(func.count()).select_from(base.subquery())) or 0)
                ids = list((await db.scalars(base.order_by(*order_by).offset(offset).limit(limit))).all())
            elif user_id is not None:
                # The stock engines shuffle an annotator's records with a random score seeded by the
                # user id (deterministic per user, different between users): so do we.
                all_ids = list((await db.scalars(base)).all())
                total = len(all_ids)
                seed = str(user_id).encode()
                all_ids.sort(key=lambda rid: hashlib.blake2b(seed + rid.bytes, digest_size=8).digest())
                ids = all_ids[offset : offset + limit]
            else:
                total = int(await db.scalar(select(func.count()).select_from(base.subquery())) or 0)
                ordered = base.order_by(Record.inserted_at.asc(), Record.id.asc())
                ids = list((await db.scalars(ordered.offset(offset).limit(limit))).all())
        return SearchResponses(items=[SearchResponseItem(record_id=rid, score=1.0) for rid in ids], total=total)

    async def similarity_search(
        self,
        dataset: Dataset,
        vector_settings: VectorSettings,
        value: list[float] | None = None,
        record: Record | None = None,
        query: TextQuery | str | None = None,
        filter: Filter | None = None,
        max_results: int = 100,
        order: SimilarityOrder = SimilarityOrder.most_similar,
        threshold: float | None = None,
    ) -> SearchResponses:
        raise UnprocessableEntityError(
            "similarity search is not supported by the local SQL search engine (brun-sql); "
            "use an Argilla server with Elasticsearch or OpenSearch"
        )

    # -- SQL builders -----------------------------------------------------------------------------

    async def _text_condition(self, db: Any, dataset: Dataset, query: TextQuery | str) -> Any:
        text = TextQuery(q=query) if isinstance(query, str) else query
        if text.field:
            names = [text.field]
        else:
            rows = (await db.execute(select(Field.name, Field.settings).where(Field.dataset_id == dataset.id))).all()
            names = [name for name, settings in rows if (settings or {}).get("type") != "image"]
        if not names:
            return false()
        exprs = [func.json_extract(Record.fields, json_path(name)) for name in names]
        groups = []
        for group in parse_text_query(text.q):
            alternatives = []
            for negated, term in group:
                found = or_(*[_like(expr, term) for expr in exprs])
                alternatives.append(not_(found) if negated else found)
            groups.append(or_(*alternatives))
        return and_(true(), *groups)

    def _filter_condition(self, flt: Filter) -> Any:
        if isinstance(flt, AndFilter):
            return and_(true(), *[self._filter_condition(f) for f in flt.filters])
        scope = flt.scope
        if isinstance(scope, ResponseFilterScope):
            return self._response_condition(flt, scope)
        if isinstance(scope, RecordFilterScope):
            column = _RECORD_COLUMNS.get(scope.property)
            if column is None:
                raise UnprocessableEntityError(f"cannot filter records by {scope.property!r}")
            if isinstance(flt, TermsFilter):
                values: list[Any] = list(flt.values)
                if scope.property == "id":
                    values = _as_uuids(values)
                return column.in_(values)
            if scope.property in ("inserted_at", "updated_at"):
                return _range(column, _as_datetime(flt.ge), _as_datetime(flt.le))
            return _range(column, flt.ge, flt.le)
        if isinstance(scope, MetadataFilterScope):
            path = json_path(scope.metadata_property)
            if isinstance(flt, TermsFilter):
                return _json_contains_any(Record.metadata_, path, [str(v) for v in flt.values])
            return _range(_json_number(Record.metadata_, path), flt.ge, flt.le)
        if isinstance(scope, SuggestionFilterScope):
            prop = scope.property or "value"
            sub = (
                select(literal(1))
                .select_from(Suggestion)
                .join(Question, Question.id == Suggestion.question_id)
                .where(Suggestion.record_id == Record.id, Question.name == scope.question)
            )
            if prop in ("value", "score"):
                column = Suggestion.value if prop == "value" else Suggestion.score
                if isinstance(flt, TermsFilter):
                    cond = _json_contains_any(column, None, [str(v) for v in flt.values])
                else:
                    cond = _range(_json_number(column, "$"), flt.ge, flt.le)
            else:
                column = Suggestion.agent if prop == "agent" else Suggestion.type
                cond = column.in_(list(flt.values)) if isinstance(flt, TermsFilter) else _range(column, flt.ge, flt.le)
            return exists(sub.where(cond))
        raise UnprocessableEntityError(f"cannot process filter scope {scope}")

    def _user_responses(self, user: User | None) -> Any:
        sub = select(literal(1)).select_from(Response).where(Response.record_id == Record.id)
        if user is not None:
            sub = sub.where(Response.user_id == user.id)
        return sub

    def _response_condition(self, flt: TermsFilter | RangeFilter, scope: ResponseFilterScope) -> Any:
        if scope.question:
            path = json_path(scope.question, "value")
            if isinstance(flt, TermsFilter):
                cond = _json_contains_any(Response.values, path, [str(v) for v in flt.values])
            else:
                cond = _range(_json_number(Response.values, path), flt.ge, flt.le)
            return exists(self._user_responses(scope.user).where(cond))
        if scope.property == "status" and isinstance(flt, TermsFilter):
            statuses = [str(v) for v in flt.values]
            parts = []
            if ResponseStatusFilter.pending.value in statuses:
                # Pending for a user: no response of theirs; without a user: no response at all.
                parts.append(not_(exists(self._user_responses(scope.user))))
            others = [s for s in statuses if s != ResponseStatusFilter.pending.value]
            if others:
                parts.append(exists(self._user_responses(scope.user).where(Response.status.in_(others))))
            return or_(false(), *parts)
        raise UnprocessableEntityError(f"cannot process response filter scope {scope}")

    def _order_expression(self, order: Order) -> Any:
        scope = order.scope
        expr: Any
        if isinstance(scope, RecordFilterScope):
            expr = _RECORD_COLUMNS.get(scope.property)
            if expr is None:
                raise UnprocessableEntityError(f"cannot sort records by {scope.property!r}")
        elif isinstance(scope, MetadataFilterScope):
            expr = func.json_extract(Record.metadata_, json_path(scope.metadata_property))
        elif isinstance(scope, SuggestionFilterScope):
            prop = scope.property or "value"
            column: Any = {
                "value": func.json_extract(Suggestion.value, "$"),
                "score": func.json_extract(Suggestion.score, "$"),
                "agent": Suggestion.agent,
                "type": Suggestion.type,
            }[prop]
            expr = (
                select(column)
                .join(Question, Question.id == Suggestion.question_id)
                .where(Suggestion.record_id == Record.id, Question.name == scope.question)
                .limit(1)
                .scalar_subquery()
            )
        elif isinstance(scope, ResponseFilterScope):
            if scope.question:
                value = func.avg(_json_number(Response.values, json_path(scope.question, "value")))
            else:
                value = func.min(Response.status)
            sub = select(value).where(Response.record_id == Record.id)
            if scope.user is not None:
                sub = sub.where(Response.user_id == scope.user.id)
            expr = sub.scalar_subquery()
        else:
            raise UnprocessableEntityError(f"cannot sort by {scope}")
        return expr.desc().nulls_last() if str(order.order) == "desc" else expr.asc().nulls_last()


def register() -> type:
    """Register the engine in argilla-server's registry under :data:`ENGINE_NAME`; return the class."""
    return SearchEngine.register(engine_name=ENGINE_NAME)(SQLSearchEngine)


register()
