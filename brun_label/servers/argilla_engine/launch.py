"""Run argilla-server 2.8 on SQLite with the ``brun-sql`` search engine (no Elasticsearch).

Run with the argilla-server virtual environment's python, by path::

    ARGILLA_DATABASE_URL=sqlite+aiosqlite:////data/argilla.db?check_same_thread=False \\
    ARGILLA_SEARCH_ENGINE=brun-sql python launch.py --port 6900 --fake-redis --worker

Steps, in this order (argilla-server connects to Redis and builds its app when first imported):

1. with ``--fake-redis``, ``redis.from_url`` returns an in-process ``fakeredis`` client, so a
   fresh machine needs no Redis server (otherwise ``ARGILLA_REDIS_URL`` must point at one);
2. database migrations (idempotent), WAL journal mode so readers never wait for the writer;
3. the owner user from ``BRUN_ARGILLA_OWNER_*`` variables, created once (idempotent);
4. registration of the SQL search engine (:mod:`sql_engine`);
5. record webhook events are built only when an enabled webhook listens for them (the stock
   server builds one per record, ~7 SQL queries, even when nobody listens), and the settings
   validators are built once instead of per suggestion (both only speed, same answers);
6. annotators get only their own responses and the metadata meant for them from
   ``GET /api/v1/records/{id}`` (the stock endpoint gives any workspace member every user's
   responses and all metadata; the ``/me/...`` views were already filtered);
7. with ``--worker``, an rq worker thread in this process for the server's background jobs;
8. uvicorn on ``--host`` (default 127.0.0.1) and ``--port``.

Never imports brun_label: this file ships inside brun_label but runs in the server's own venv.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def install_fake_redis() -> None:
    """Make ``redis.from_url`` return clients of one shared in-process fake Redis server."""
    import fakeredis
    import redis

    server = fakeredis.FakeServer()

    def from_url(url: str, **kwargs: Any) -> Any:
        return fakeredis.FakeRedis(server=server)

    redis.from_url = from_url


def migrate() -> None:
    """Upgrade the database schema to the current revision (a no-op when up to date)."""
    import alembic.config
    from argilla_server.database import ALEMBIC_CONFIG_FILE
    from argilla_server.settings import settings

    alembic.config.main(argv=["-c", ALEMBIC_CONFIG_FILE, "upgrade", "head"])
    if settings.database_is_sqlite:
        import sqlite3

        from sqlalchemy import make_url

        database = make_url(settings.database_url).database
        if database:
            with sqlite3.connect(database) as conn:
                conn.execute("PRAGMA journal_mode=WAL")


async def create_owner() -> None:
    """Create the owner user and workspace from ``BRUN_ARGILLA_OWNER_*`` (skipped when it exists)."""
    username = os.environ.get("BRUN_ARGILLA_OWNER_USERNAME")
    if not username:
        return
    from argilla_server.contexts import accounts
    from argilla_server.database import AsyncSessionLocal, async_engine
    from argilla_server.models import User, UserRole, Workspace

    password = os.environ["BRUN_ARGILLA_OWNER_PASSWORD"]
    api_key = os.environ["BRUN_ARGILLA_OWNER_API_KEY"]
    workspace_name = os.environ.get("BRUN_ARGILLA_WORKSPACE", "default")
    try:
        async with AsyncSessionLocal() as db:
            if await accounts.get_user_by_username(db, username) is not None:
                return
            workspace = await Workspace.get_by(db, name=workspace_name)
            if workspace is None:
                workspace = Workspace(name=workspace_name)
            await User.create(
                db,
                first_name=username,
                username=username,
                role=UserRole.owner,
                password_hash=accounts.hash_password(password),
                api_key=api_key,
                workspaces=[workspace],
            )
    finally:
        await async_engine.dispose()  # its connections belong to this event loop, not uvicorn's


def skip_unheard_record_events() -> None:
    """Build record webhook events only when an enabled webhook subscribes to them.

    The enabled webhooks are looked up once per database session (one HTTP request), not once
    per record.
    """
    from argilla_server.bulk import records_bulk
    from argilla_server.contexts import datasets, distribution, records, webhooks
    from argilla_server.webhooks.v1 import records as webhook_records

    original = webhook_records.notify_record_event

    async def notify_record_event(db: Any, record_event: Any, record: Any) -> list[Any]:
        cache = db.info.setdefault("brun_enabled_webhook_events", None)
        if cache is None:
            enabled = await webhooks.list_enabled_webhooks(db)
            cache = {str(event) for hook in enabled for event in hook.events}
            db.info["brun_enabled_webhook_events"] = cache
        if str(record_event) not in cache:
            return []
        return await original(db, record_event, record)

    webhook_records.notify_record_event = notify_record_event
    for module in (records_bulk, records, distribution, datasets):
        if getattr(module, "notify_record_event_v1", None) is original:
            module.notify_record_event_v1 = notify_record_event


def cache_settings_adapters() -> None:
    """Build the pydantic adapters of question/metadata settings once, not on every access.

    argilla-server 2.8 creates a ``TypeAdapter`` each time ``parsed_settings`` is read (~2 ms),
    which is read for every suggestion and response it validates: most of a bulk upsert's time.
    """
    from argilla_server.models import database as models
    from pydantic import TypeAdapter

    questions = TypeAdapter(models.QuestionSettings)
    metadata = TypeAdapter(models.MetadataPropertySettings)
    models.Question.parsed_settings = property(lambda self: questions.validate_python(self.settings))
    models.MetadataProperty.parsed_settings = property(lambda self: metadata.validate_python(self.settings))


def blind_record_endpoint() -> None:
    """Give annotators only their own responses and their visible metadata from ``GET /records/{id}``.

    The stock handler returns every user's responses and all of the record's metadata to any
    member of the workspace. The route is replaced in place (same path, parameters, policy and
    response schema); for an annotator the answer is filtered the way argilla-server already
    filters its annotator views (``/me/datasets/{id}/records/search``): responses of that user
    only, metadata only where ``RecordPolicy.get_metadata`` allows it (metadata properties
    visible to annotators; extra metadata never). Owners and admins get the stock answer.
    """
    import functools

    from argilla_server.api.handlers.v1 import records as records_handlers
    from argilla_server.api.handlers.v1.datasets.records import _filter_record_metadata_for_user
    from argilla_server.api.routes import api_v1
    from argilla_server.api.schemas.v1.records import Record as RecordSchema
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute

    original = records_handlers.get_record

    @functools.wraps(original)
    async def get_record(**kwargs: Any) -> Any:
        record = await original(**kwargs)
        user = kwargs["current_user"]
        if not user.is_annotator:
            return record
        await record.dataset.awaitable_attrs.metadata_properties
        schema = RecordSchema.model_validate(record)
        update: dict[str, Any] = {"metadata": await _filter_record_metadata_for_user(record, user)}
        if schema.responses is not None:
            update["responses"] = [r for r in schema.responses if r.user_id == user.id]
        return JSONResponse(schema.model_copy(update=update).model_dump(mode="json"))

    routes = api_v1.router.routes
    found = [i for i, r in enumerate(routes)
             if isinstance(r, APIRoute) and r.path == "/records/{record_id}" and "GET" in r.methods]
    if len(found) != 1:  # a different argilla-server version: refuse to serve unpatched
        raise RuntimeError("argilla-server has no single GET /records/{record_id} route to patch")
    index = found[0]
    route = routes[index]
    assert isinstance(route, APIRoute)
    api_v1.router.add_api_route(
        route.path, get_record, methods=["GET"], response_model=route.response_model, tags=route.tags,
        name=route.name, summary=route.summary, description=route.description,
    )
    routes[index] = routes.pop()


def start_worker_thread() -> threading.Thread:
    """Run an rq worker (jobs executed in this process) on the server's queues, in a daemon thread."""
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE, REDIS_CONNECTION
    from rq.timeouts import TimerDeathPenalty
    from rq.worker import SimpleWorker

    class ThreadWorker(SimpleWorker):
        death_penalty_class = TimerDeathPenalty  # SIGALRM, the default, works only in the main thread

        def _install_signal_handlers(self) -> None:  # signals belong to the main thread
            return None

    worker = ThreadWorker([HIGH_QUEUE, DEFAULT_QUEUE], connection=REDIS_CONNECTION)
    thread = threading.Thread(
        target=lambda: worker.work(with_scheduler=False, logging_level="WARNING"),
        name="rq-worker",
        daemon=True,
    )
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fake-redis", action="store_true", help="use an in-process fake Redis")
    parser.add_argument("--worker", action="store_true", help="run an rq worker thread in this process")
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)

    os.environ.setdefault("ARGILLA_SEARCH_ENGINE", "brun-sql")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.fake_redis:
        install_fake_redis()
    sys.path.insert(0, str(HERE))

    migrate()
    asyncio.run(create_owner())
    import sql_engine  # noqa: F401  (registers the engine)

    skip_unheard_record_events()
    cache_settings_adapters()
    blind_record_endpoint()
    if args.worker:
        start_worker_thread()

    import uvicorn
    from argilla_server import app

    logging.getLogger("argilla").setLevel(logging.WARNING)
    uvicorn.run(app, host=args.host, port=args.port, access_log=args.access_log, log_level="info")


if __name__ == "__main__":
    main()
