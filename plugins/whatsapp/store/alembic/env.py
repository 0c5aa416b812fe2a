"""Alembic's entry point for the channel store: run the revisions on the connection it is given.

:func:`whatsapp.store.migrations.migrate` opens the transaction, takes the migration lock and
passes its connection in ``config.attributes["connection"]``; everything then runs inside that
one transaction (``begin_transaction`` is a no-op inside an external one). Without a connection
(a developer running ``alembic`` commands through :func:`whatsapp.store.migrations.alembic_config`,
e.g. to autogenerate a revision) it connects to the store connection ``whatsapp_store_default``.
There is no offline (``--sql``) mode: the store is always migrated online.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from whatsapp.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table (see migrations.py for
        # why foreign keys are off meanwhile).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from whatsapp.store.connection import create_store_engine, resolve_target

    engine = create_store_engine(resolve_target())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the channel store has no offline migrations; run `whatsapp-fleet migrate`")
_run_online()
