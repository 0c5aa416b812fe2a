"""The fleet table as CSV (``GET /fleet/export.csv``): which columns, and how rows become bytes.

A row is built from the channel's API shape (:func:`whatsapp.store.channel_api_dict`), so the CSV
says what the API and the page say, and like them it holds no secret: the shape has no field
that could carry one. Health columns are headed by the labels of ``HEALTH_FIELDS``.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (OWASP, "CSV
Injection"); a display name is the customer's text, so such a cell is written with a leading
``'``. A phone number (digits and :data:`~whatsapp.store.fleet_listing.PHONE_SEPARATORS`, e.g.
``+1 631-555-5555``) cannot hold a formula and is written as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from whatsapp.domain.health import FIELDS_BY_NAME
from whatsapp.store import ChannelStatus, channel_api_dict
from whatsapp.store.fleet_listing import PHONE_SEPARATORS

MEDIA_TYPE = "text/csv; charset=utf-8"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_TEXT = re.compile(f"[0-9{re.escape(PHONE_SEPARATORS)}]+")


@dataclass(frozen=True, slots=True)
class CsvColumn:
    header: str
    value: Callable[[dict[str, Any]], Any]


def _key(*path: str) -> Callable[[dict[str, Any]], Any]:
    def value(shape: dict[str, Any]) -> Any:
        node: Any = shape
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return node

    return value


def _health(name: str) -> CsvColumn:
    """A health field's column: its page label, its value where the API puts it."""
    health_field = FIELDS_BY_NAME[name]
    return CsvColumn(health_field.label, _key(*health_field.api_key_path))


#: One row per channel, in this order; times are ISO UTC as the API gives them.
CSV_COLUMNS: tuple[CsvColumn, ...] = (
    CsvColumn("Account", _key("account_id")),
    CsvColumn("Inbox", _key("inbox_id")),
    _health("display_phone_number"),
    CsvColumn("Phone number id", _key("phone_number_id")),
    CsvColumn("WABA id", _key("waba_id")),
    CsvColumn("Business id", _key("business_id")),
    _health("verified_name"),
    CsvColumn("Registration state", _key("registration", "state")),
    CsvColumn("Situation", _key("situation", "title")),
    CsvColumn("Needs action", _key("situation", "needs_action")),
    _health("quality_rating"),
    _health("status"),
    _health("messaging_limit_tier"),
    CsvColumn("Checked", _key("checked_at")),
    CsvColumn("Next try", _key("situation", "next_try")),
    CsvColumn("Reauthorization reason", _key("reauthorization_reason")),
    CsvColumn("Active", _key("active")),
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PHONE_TEXT.fullmatch(text):
        return f"'{text}"
    return text


def _encode(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def csv_chunks(statuses: Iterator[list[ChannelStatus]]) -> Iterator[bytes]:
    """The CSV as byte chunks: the header with the first chunk of rows (so the store has answered
    before the first byte is sent), then one chunk per chunk of ``statuses``. Closing this closes
    ``statuses`` (and the store connection behind it)."""
    with closing(statuses):
        header = [column.header for column in CSV_COLUMNS]
        first = next(statuses, [])
        yield _encode([header, *_rows(first)])
        for chunk in statuses:
            yield _encode(_rows(chunk))


def _rows(chunk: list[ChannelStatus]) -> Iterator[list[str]]:
    for status in chunk:
        shape = channel_api_dict(status)
        yield [_cell(column.value(shape)) for column in CSV_COLUMNS]
