"""Where the store lives: the Airflow connection ``whatsapp_store_default`` turned into an engine.

The same ``AIRFLOW_CONN_...`` variables that configure Airflow configure the store, in tasks,
in the API server and in the ``whatsapp-fleet`` command. Without any connection the store is
the embedded SQLite file ``$AIRFLOW_HOME/whatsapp_store.db`` so ``make demo`` needs no server;
that default is refused when Airflow's executor runs tasks elsewhere (Celery, Kubernetes, ...),
since every worker would then write its own file.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from whatsapp.defaults import DEFAULT_STORE_CONN_ID
from whatsapp.store.errors import StoreConnectionError

POSTGRES_TYPES = frozenset({"postgres", "postgresql"})
#: Seconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_S = 30
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Driver arguments a postgres connection gets unless its extras say otherwise.
_POSTGRES_DEFAULTS: dict[str, Any] = {"connect_timeout": 10, "application_name": "whatsapp-store"}
#: Executors whose tasks run on the scheduler's machine, so they share its SQLite file.
LOCAL_EXECUTORS = frozenset({"LocalExecutor"})
#: Extras that are the store's own settings, not the driver's.
_STORE_EXTRAS = frozenset({"schema", "search_path"})


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """Where the store is: database URL, PostgreSQL schema (search path), driver arguments.

    ``connect_args`` are the connection's extras as psycopg2 takes them (``sslmode``,
    ``sslrootcert``, ``options``, ...); ``conn_id`` names the Airflow connection, if any, so
    errors say which one to fix.
    """

    url: URL
    schema: str | None = None
    connect_args: dict[str, Any] = field(default_factory=dict, hash=False, repr=False)
    conn_id: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def describe(self) -> str:
        """Where the store is, safe to print: the password and the extras are never rendered."""
        details = [f"schema {self.schema}"] if self.schema else []
        if self.conn_id:
            details.append(f"connection {self.conn_id!r}")
        where = self.url.render_as_string(hide_password=True)
        return f"{where} ({', '.join(details)})" if details else where

    def driver_args(self) -> dict[str, Any]:
        """What psycopg2 gets: our defaults, overridden by ``connect_args``, plus the search path."""
        args = {**_POSTGRES_DEFAULTS, **self.connect_args}
        if self.schema:
            own = args.get("options")
            args["options"] = (
                f"{own} -c search_path={self.schema}" if own else f"-c search_path={self.schema}"
            )
        return args


def default_sqlite_path() -> Path:
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "whatsapp_store.db"


def _checked_schema(schema: Any, conn_id: str) -> str | None:
    if schema in (None, ""):
        return None
    if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
        raise StoreConnectionError(
            f"store connection {conn_id!r}: extra 'schema' is not a plain identifier: {schema!r}"
        )
    return schema


def _postgres_target(conn: Any) -> StoreTarget:
    """Let ``PostgresHook`` build the URL, and pass the extras exactly as its ``get_conn`` does.

    The hook hands every extra except its own settings (``ignored_extra_options``: IAM,
    cursor, SQLAlchemy scheme/query, ...) to the driver; so do we, minus the store's own
    ``schema``/``search_path`` (see :meth:`StoreTarget.driver_args`).
    """
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(
        postgres_conn_id=conn.conn_id, connection=conn, sqlalchemy_scheme="postgresql+psycopg2"
    )
    extra = conn.extra_dejson or {}
    schema = _checked_schema(extra.get("schema") or extra.get("search_path"), conn.conn_id)
    connect_args = {
        name: value
        for name, value in extra.items()
        if name not in PostgresHook.ignored_extra_options and name not in _STORE_EXTRAS
    }
    try:
        url = hook.sqlalchemy_url
    except Exception as exc:  # e.g. a malformed sqlalchemy_query extra, or IAM without AWS
        raise StoreConnectionError(f"store connection {conn.conn_id!r} cannot be used: {exc}") from None
    return StoreTarget(url, schema, connect_args, conn.conn_id)


def target_from_connection(conn: Any) -> StoreTarget:
    """Map an Airflow connection (``postgres``/``postgresql`` or ``sqlite``) to a :class:`StoreTarget`.

    PostgreSQL keeps Airflow's conventions (``schema`` field = database, extras as for
    ``PostgresHook``); the extra ``schema`` (or ``search_path``) names the PostgreSQL schema, so
    one database can hold several stores. SQLite takes the file path from ``host`` (JSON form)
    or the URI path (``sqlite:////abs/file.db``).
    """
    conn_type = (conn.conn_type or "").lower()
    if conn_type in POSTGRES_TYPES:
        return _postgres_target(conn)
    if conn_type == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise StoreConnectionError(f"sqlite store connection {conn.conn_id!r} names no database file")
        return StoreTarget(URL.create("sqlite", database=path), conn_id=conn.conn_id)
    raise StoreConnectionError(
        f"store connection {conn.conn_id!r} has type {conn_type or 'none'!r}; use postgres or sqlite"
    )


def remote_executors() -> list[str]:
    """The non-local executors of ``[core] executor`` (a comma list of names, paths or ``alias:path``)."""
    from airflow.sdk.configuration import conf

    configured = conf.get("core", "executor", fallback="LocalExecutor") or "LocalExecutor"
    names = [item.strip().rsplit(":", 1)[-1].rsplit(".", 1)[-1] for item in configured.split(",")]
    return [name for name in names if name and name not in LOCAL_EXECUTORS]


def resolve_target(conn_id: str = DEFAULT_STORE_CONN_ID) -> StoreTarget:
    """Look the connection up the Airflow way; an undefined one means the embedded SQLite default.

    The default is only for a single machine: with a remote executor the tasks of one fleet run
    would each write a different worker's file, so it is refused with what to configure instead.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        if f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ:
            # Defined but unreadable: falling back would give every worker its own SQLite file.
            raise StoreConnectionError(
                f"store connection {conn_id!r} is set in AIRFLOW_CONN_{conn_id.upper()} but cannot be parsed"
            ) from None
        remote = remote_executors()
        if remote:
            raise StoreConnectionError(
                f"store connection {conn_id!r} is not defined and the executor {', '.join(remote)} "
                f"runs tasks on other machines, so the embedded SQLite default "
                f"({default_sqlite_path()}) would differ per worker; define {conn_id!r} "
                f"(AIRFLOW_CONN_{conn_id.upper()}) as a postgres connection"
            ) from None
        return StoreTarget(URL.create("sqlite", database=str(default_sqlite_path())))
    except Exception as exc:  # a malformed AIRFLOW_CONN_... raises anything from URI/JSON parsing
        raise StoreConnectionError(f"store connection {conn_id!r} cannot be read: {exc}") from None
    return target_from_connection(conn)


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch a new database file to WAL, waiting out another process doing the same.

    The switch needs an exclusive lock and SQLite reports a concurrent one as "locked" at once,
    without its busy timeout: two workers opening a fresh store together would otherwise fail.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_setup(engine: Engine) -> None:
    """Let SQLAlchemy own transactions (pysqlite's implicit BEGIN is off) and allow BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.info.pop(SQLITE_BEGIN_KEY, "BEGIN"))


#: Put ``"BEGIN IMMEDIATE"`` under this key of ``Connection.info`` to take SQLite's write lock at once.
SQLITE_BEGIN_KEY = "whatsapp_sqlite_begin"


def create_store_engine(target: StoreTarget) -> Engine:
    """An engine whose connections already point at the store's schema.

    ``hide_parameters``: a failing statement's parameters (encrypted tokens among them) stay
    out of the exception text, hence out of task and scheduler logs.
    """
    if target.is_sqlite:
        Path(target.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            target.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, hide_parameters=True
        )
        _sqlite_setup(engine)
        return engine
    return create_engine(
        target.url, pool_pre_ping=True, hide_parameters=True, connect_args=target.driver_args()
    )
