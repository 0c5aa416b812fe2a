"""Where the store lives: the Airflow connection ``whatsapp_store_default`` turned into an engine.

The same ``AIRFLOW_CONN_...`` variables that configure Airflow configure the store, in tasks,
in the API server and in the ``whatsapp-fleet`` command. Without any connection the store is
the embedded SQLite file ``$AIRFLOW_HOME/whatsapp_store.db`` so ``make demo`` needs no server.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

from whatsapp import DEFAULT_STORE_CONN_ID
from whatsapp.store.errors import StoreConnectionError

POSTGRES_TYPES = frozenset({"postgres", "postgresql"})
#: Seconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_S = 30
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """A database URL plus the PostgreSQL schema (search path) the store's tables live in."""

    url: URL
    schema: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def describe(self) -> str:
        """Where the store is, safe to print: the password is never rendered."""
        where = self.url.render_as_string(hide_password=True)
        return f"{where} (schema {self.schema})" if self.schema else where


def default_sqlite_path() -> Path:
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / "whatsapp_store.db"


def _checked_schema(schema: Any) -> str | None:
    if schema in (None, ""):
        return None
    if not isinstance(schema, str) or not _SCHEMA_NAME.match(schema):
        raise StoreConnectionError(f"store connection extra 'schema' is not a plain identifier: {schema!r}")
    return schema


def target_from_connection(conn: Any) -> StoreTarget:
    """Map an Airflow connection (``postgres``/``postgresql`` or ``sqlite``) to a :class:`StoreTarget`.

    PostgreSQL keeps Airflow's conventions (``schema`` field = database); the extra ``schema``
    (or ``search_path``) names the PostgreSQL schema, so one database can hold several stores.
    SQLite takes the file path from ``host`` (JSON form) or the URI path (``sqlite:////abs/file.db``).
    """
    conn_type = (conn.conn_type or "").lower()
    extra = conn.extra_dejson or {}
    if conn_type in POSTGRES_TYPES:
        url = URL.create(
            "postgresql+psycopg2",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        )
        return StoreTarget(url, _checked_schema(extra.get("schema") or extra.get("search_path")))
    if conn_type == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise StoreConnectionError(f"sqlite store connection {conn.conn_id!r} names no database file")
        return StoreTarget(URL.create("sqlite", database=path))
    raise StoreConnectionError(
        f"store connection {conn.conn_id!r} has type {conn_type or 'none'!r}; use postgres or sqlite"
    )


def resolve_target(conn_id: str = DEFAULT_STORE_CONN_ID) -> StoreTarget:
    """Look the connection up the Airflow way; an undefined one means the embedded SQLite default."""
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
        return StoreTarget(URL.create("sqlite", database=str(default_sqlite_path())))
    except Exception as exc:  # a malformed AIRFLOW_CONN_... raises anything from URI/JSON parsing
        raise StoreConnectionError(f"store connection {conn_id!r} cannot be read: {exc}") from None
    return target_from_connection(conn)


def _sqlite_setup(engine: Engine) -> None:
    """Let SQLAlchemy own transactions (pysqlite's implicit BEGIN is off) and allow BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.info.pop(SQLITE_BEGIN_KEY, "BEGIN"))


#: Put ``"BEGIN IMMEDIATE"`` under this key of ``Connection.info`` to take SQLite's write lock at once.
SQLITE_BEGIN_KEY = "whatsapp_sqlite_begin"


def create_store_engine(target: StoreTarget) -> Engine:
    """An engine whose connections already point at the store's schema."""
    if target.is_sqlite:
        Path(target.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(target.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        _sqlite_setup(engine)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 10, "application_name": "whatsapp-store"}
    if target.schema:
        connect_args["options"] = f"-c search_path={target.schema}"
    return create_engine(target.url, pool_pre_ping=True, connect_args=connect_args)
