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
* similarity (vector) search is not supported and says so (HTTP 422);
* every query gets a correct answer or an HTTP 422 naming the problem, never a 500: at most
  :data:`MAX_TEXT_TERMS` terms per text query, numbers and dates in range filters checked, an
  offset past the end gives an empty page;
* an annotator (``/me/.../records/search``) cannot filter or sort by a metadata property that is
  not visible to annotators (that would reveal its values).

Text query syntax (the stock engines use Elasticsearch's ``simple_query_string`` with AND as the
default operator): whitespace separates terms, every term must match; ``"a phrase"`` is one term;
``-term`` (or ``-"a phrase"``) must not match; ``a | b`` matches either (``|`` binds tighter than
the implicit AND); a leading ``+`` and trailing ``*`` are ignored. A term matches a record when it
occurs in any of the searched fields (the one named by ``field``, else every text, chat and custom
field; chat fields by their messages' content and role). A record lacking a field simply does not
contain the term, so ``-term`` keeps it.

Text matching is substring matching (case-insensitive for ASCII), not Elasticsearch's analysed
word matching, and there is no relevance ranking: this is the local/test engine; production users
point brun-label at an Argilla deployment with Elasticsearch or OpenSearch.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from argilla_server.database import AsyncSessionLocal
from argilla_server.enums import (
    MetadataPropertyType,
    ResponseStatusFilter,
    SimilarityOrder,
    UserRole,
)
from argilla_server.errors import ForbiddenOperationError
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
#: The most terms a text query may have (SQLite's expression depth limit is 1,000).
MAX_TEXT_TERMS = 256
#: The largest offset SQLite can take (a larger one gives an empty page, as any offset past the end).
MAX_OFFSET = 2**63 - 1


def json_path(*keys: str) -> str:
    """Return a SQLite JSON path for nested object keys, quoted (``$."a"."value"``)."""
    return "$" + "".join('."' + key.replace('"', '\\"') + '"' for key in keys)


def _json_each(column: Any, path: str | None = None) -> Any:
    fn = func.json_each(column, path) if path is not None else func.json_each(column)
    return fn.table_valued("key", "value")


def _json_contains_any(column: Any, path: str | None, values: list[str]) -> ColumnElement[bool]:
    """Whether the JSON value at ``path`` (a scalar or an array) holds any of ``values`` (as text)."""
    each = _json_each(column, path)
    return exists(select(literal(1)).select_from(each).where(cast(each.c.value, Text).in_(values)))


def _json_number(column: Any, path: str) -> Any:
    return cast(func.json_extract(column, path), Float)


def _number(value: Any, what: str) -> float:
    """Return a range bound as a finite-or-infinite float; 422 for text or NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnprocessableEntityError(f"{what}: {value!r} is not a number")
    try:
        number = float(value)
    except OverflowError:
        number = float("inf") if int(value) > 0 else float("-inf")
    except ValueError:
        raise UnprocessableEntityError(f"{what}: {value!r} is not a number") from None
    if math.isnan(number):
        raise UnprocessableEntityError(f"{what}: {value!r} is not a number")
    return number


def _number_range(expr: Any, flt: RangeFilter, what: str) -> ColumnElement[bool]:
    ge = None if flt.ge is None else _number(flt.ge, what)
    le = None if flt.le is None else _number(flt.le, what)
    return _range(expr, ge, le)


def _range(expr: Any, ge: Any, le: Any) -> ColumnElement[bool]:
    conds = []
    if ge is not None:
        conds.append(expr >= ge)
    if le is not None:
        conds.append(expr <= le)
    return and_(true(), *conds)


def _as_datetime(value: Any, what: str = "date") -> Any:
    """Read a date bound: epoch milliseconds (as Elasticsearch reads numbers) or ISO 8601 text."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime(1970, 1, 1) + timedelta(milliseconds=float(value))
        except (OverflowError, ValueError):
            raise UnprocessableEntityError(f"{what}: {value!r} is not a date this server can store "
                                           "(epoch milliseconds between years 1 and 9999)") from None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UnprocessableEntityError(f"{what}: cannot read {value!r} as a date") from None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    raise UnprocessableEntityError(f"{what}: cannot read {value!r} as a date")


def _as_uuids(values: Iterable[str]) -> list[UUID]:
    out = []
    for value in values:
        try:
            out.append(UUID(str(value)))
        except ValueError:
            continue
    return out


def _contains(expr: Any, term: str) -> ColumnElement[bool]:
    """Whether the text ``expr`` contains ``term``, ignoring ASCII case (no pattern-length limit)."""
    return func.instr(func.lower(cast(expr, Text)), func.lower(literal(term, Text))) > 0


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
        offset = min(max(int(offset), 0), MAX_OFFSET)
        async with AsyncSessionLocal() as db:
            if user_id is not None:
                await self._check_visible_metadata(db, dataset, user_id, filter, sort)
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

    async def _check_visible_metadata(
        self, db: Any, dataset: Dataset, user_id: Any, flt: Filter | None, sort: list[Order] | None
    ) -> None:
        """Refuse an annotator's filter or sort on a metadata property hidden from annotators."""
        names = {scope.metadata_property for scope in _scopes(flt, sort) if isinstance(scope, MetadataFilterScope)}
        if not names:
            return
        user = await db.get(User, user_id)
        if user is None or user.role in (UserRole.owner, UserRole.admin):
            return
        rows = (
            await db.execute(
                select(MetadataProperty.name, MetadataProperty.allowed_roles).where(
                    MetadataProperty.dataset_id == dataset.id, MetadataProperty.name.in_(sorted(names))
                )
            )
        ).all()
        for name, roles in rows:
            if user.role not in (roles or []):
                raise ForbiddenOperationError(f"metadata property {name!r} is not visible to annotators")

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
        groups = parse_text_query(text.q)
        n_terms = sum(len(group) for group in groups)
        if n_terms > MAX_TEXT_TERMS:
            raise UnprocessableEntityError(
                f"text query has {n_terms} terms; the local search engine (brun-sql) takes at most {MAX_TEXT_TERMS}"
            )
        rows = (await db.execute(select(Field.name, Field.settings).where(Field.dataset_id == dataset.id))).all()
        kinds = {name: str((settings or {}).get("type")) for name, settings in rows}
        if text.field:
            kinds = {name: kind for name, kind in kinds.items() if name == text.field}
        plain = sorted(name for name, kind in kinds.items() if kind not in ("image", "chat"))
        chats = sorted(name for name, kind in kinds.items() if kind == "chat")
        if not plain and not chats:
            return false()

        def found(term: str) -> ColumnElement[bool]:
            # EXISTS is true or false, never NULL: a record lacking a field does not contain the term.
            conds = []
            if plain:
                each = _json_each(Record.fields)
                conds.append(exists(select(literal(1)).select_from(each).where(
                    each.c.key.in_(plain), _contains(each.c.value, term))))
            for name in chats:
                msgs = _json_each(Record.fields, json_path(name))
                conds.append(exists(select(literal(1)).select_from(msgs).where(or_(
                    _contains(func.json_extract(msgs.c.value, "$.content"), term),
                    _contains(func.json_extract(msgs.c.value, "$.role"), term),
                ))))
            return or_(*conds)

        return and_(true(), *[
            or_(*[not_(found(term)) if negated else found(term) for negated, term in group]) for group in groups
        ])

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
            what = f"record {scope.property}"
            dates = scope.property in ("inserted_at", "updated_at")
            if isinstance(flt, TermsFilter):
                values: list[Any] = list(flt.values)
                if scope.property == "id":
                    values = _as_uuids(values)
                elif dates:
                    values = [_as_datetime(v, what) for v in values]
                return column.in_(values)
            if dates:
                return _range(column, _as_datetime(flt.ge, what), _as_datetime(flt.le, what))
            bounds = [b for b in (flt.ge, flt.le) if b is not None]
            if not all(isinstance(b, str) for b in bounds):
                raise UnprocessableEntityError(f"{what}: a range over text needs text bounds, got {bounds!r}")
            return _range(cast(column, Text), flt.ge, flt.le)
        if isinstance(scope, MetadataFilterScope):
            path = json_path(scope.metadata_property)
            if isinstance(flt, TermsFilter):
                return _json_contains_any(Record.metadata_, path, [str(v) for v in flt.values])
            return _number_range(_json_number(Record.metadata_, path), flt, f"metadata {scope.metadata_property}")
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
                    cond = _number_range(_json_number(column, "$"), flt, f"suggestion {scope.question} {prop}")
            else:
                column = Suggestion.agent if prop == "agent" else Suggestion.type
                if isinstance(flt, TermsFilter):
                    cond = column.in_(list(flt.values))
                else:
                    raise UnprocessableEntityError(f"suggestion {scope.question} {prop}: cannot filter by a range")
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
                cond = _number_range(_json_number(Response.values, path), flt, f"response {scope.question}")
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


def _scopes(flt: Filter | None, sort: list[Order] | None) -> list[Any]:
    """Every filter and sort scope of a search."""
    out: list[Any] = []
    stack = [flt] if flt is not None else []
    while stack:
        item = stack.pop()
        if isinstance(item, AndFilter):
            stack.extend(item.filters)
        else:
            out.append(item.scope)
    return out + [order.scope for order in sort or []]


def register() -> type:
    """Register the engine in argilla-server's registry under :data:`ENGINE_NAME`; return the class."""
    return SearchEngine.register(engine_name=ENGINE_NAME)(SQLSearchEngine)


register()
