"""Many rows as one bound JSON parameter, read back as a table: the heart of one-statement bulk writes.

``UPDATE ... FROM <rows>`` and ``INSERT ... SELECT FROM <rows>`` then write thousands of rows in
a single statement and a single round trip on both dialects, without executemany loops.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import FromClause, Text, bindparam, cast, column, func, select, type_coerce
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.types import TypeEngine


def _sqlite_datetime(value: Any) -> str:
    # The text SQLAlchemy's SQLite DATETIME stores, so stored and incoming values compare as text.
    if not isinstance(value, datetime):
        raise TypeError(f"cannot put {type(value).__name__} in a JSON row")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _postgres_datetime(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"cannot put {type(value).__name__} in a JSON row")
    return value.astimezone(UTC).isoformat()


def json_rows(
    dialect_name: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, TypeEngine[Any]]],
    name: str = "src",
) -> FromClause:
    """A derived table named ``name`` with ``columns``, whose rows come from one JSON parameter.

    JSON-valued columns must hold objects (not text); datetimes must be timezone-aware.
    """
    if dialect_name == "postgresql":
        payload = json.dumps(rows, default=_postgres_datetime)
        records = func.json_to_recordset(cast(bindparam(f"{name}_rows", payload, type_=Text), JSON))
        return records.table_valued(*(column(n, t) for n, t in columns)).render_derived(name, with_types=True)
    if dialect_name == "sqlite":
        payload = json.dumps(rows, default=_sqlite_datetime)
        each = func.json_each(bindparam(f"{name}_rows", payload, type_=Text)).table_valued("value")
        fields = (type_coerce(func.json_extract(each.c.value, f"$.{n}"), t).label(n) for n, t in columns)
        return select(*fields).select_from(each).subquery(name)
    raise NotImplementedError(f"the channel store does not support {dialect_name}")
