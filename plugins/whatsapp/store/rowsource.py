"""Many rows as one bound JSON parameter, read back as a table: the heart of one-statement bulk writes.

``UPDATE ... FROM <rows>`` and ``INSERT ... SELECT FROM <rows>`` then write thousands of rows in
a single statement and a single round trip on both dialects, without executemany loops.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from itertools import chain
from typing import Any

import msgspec
from sqlalchemy import FromClause, Text, bindparam, cast, column, func, select, type_coerce
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.types import TypeEngine


def _sqlite_datetime(value: Any) -> str:
    # The text SQLAlchemy's SQLite DATETIME stores, so stored and incoming values compare as text.
    if not isinstance(value, datetime):
        raise TypeError(f"cannot put {type(value).__name__} in a JSON row")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _postgres_datetime(value: Any) -> str:
    # Called for datetime subclasses (pendulum's); msgspec writes plain datetimes as RFC 3339 itself.
    if not isinstance(value, datetime):
        raise TypeError(f"cannot put {type(value).__name__} in a JSON row")
    return value.astimezone(UTC).isoformat()


Dumps = Callable[[Any], str]
_POSTGRES_ENCODER = msgspec.json.Encoder(enc_hook=_postgres_datetime)


def _postgres_dumps(rows: Any) -> str:
    """PostgreSQL's rows through msgspec's encoder: half of ``json.dumps``' CPU, and an audit
    writes 100,000 snapshots and history rows a run."""
    return _POSTGRES_ENCODER.encode(rows).decode()


#: SQLite keeps ``json.dumps``: its datetimes must be the exact text SQLAlchemy stores, so every
#: one goes through the hook (msgspec writes plain datetimes as RFC 3339 itself).
_sqlite_dumps: Dumps = partial(json.dumps, default=_sqlite_datetime)

#: Holds the place of a JSON text value while the rows around it are encoded (see ``_encode``).
_SLOT = "\ufffe"


def _encode(rows: Sequence[Mapping[str, Any]], dumps: Dumps, raw_json: str | None) -> str:
    """``dumps(rows)``, where column ``raw_json``'s string values are JSON text embedded as is.

    A page of health snapshots is ~1.4 MB of Graph nodes the audit has just decoded from JSON
    text; encoding the dicts again took a third of a page write's CPU. The texts go in the
    slots' places after one ``dumps`` of the rest; if a slot's encoding also occurs in the
    data itself (a value of exactly ``"\ufffe"``), the rows are encoded the plain way instead.
    """
    texts = [] if raw_json is None else [v for row in rows if isinstance(v := row.get(raw_json), str)]
    if raw_json is None or not texts:
        return dumps(rows)
    slotted = [{**row, raw_json: _SLOT} if isinstance(row.get(raw_json), str) else row for row in rows]
    pieces = dumps(slotted).split(dumps(_SLOT))
    if len(pieces) != len(texts) + 1:
        parsed = [
            {**row, raw_json: json.loads(v)} if isinstance(v := row.get(raw_json), str) else row
            for row in rows
        ]
        return dumps(parsed)
    return "".join(chain.from_iterable(zip(pieces, [*texts, ""], strict=True)))


def json_rows(
    dialect_name: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, TypeEngine[Any]]],
    name: str = "src",
    *,
    raw_json: str | None = None,
) -> FromClause:
    """A derived table named ``name`` with ``columns``, whose rows come from one JSON parameter.

    JSON-valued columns must hold objects, or, in the column named ``raw_json``, objects or
    their JSON text; datetimes must be timezone-aware.
    """
    if dialect_name == "postgresql":
        payload = _encode(rows, _postgres_dumps, raw_json)
        records = func.json_to_recordset(cast(bindparam(f"{name}_rows", payload, type_=Text), JSON))
        return records.table_valued(*(column(n, t) for n, t in columns)).render_derived(name, with_types=True)
    if dialect_name == "sqlite":
        payload = _encode(rows, _sqlite_dumps, raw_json)
        each = func.json_each(bindparam(f"{name}_rows", payload, type_=Text)).table_valued("value")
        fields = (type_coerce(func.json_extract(each.c.value, f"$.{n}"), t).label(n) for n, t in columns)
        return select(*fields).select_from(each).subquery(name)
    raise NotImplementedError(f"the channel store does not support {dialect_name}")
