"""The fleet table as CSV (``GET /fleet/export.csv``): which columns, and how rows become bytes.

Each value is what the API's channel shape (:func:`whatsapp.store.channel_api_dict`) says for
that field, read from the store's lean export rows (``fleet_listing.EXPORT_COLUMNS``) instead of
a whole :class:`~whatsapp.store.ChannelStatus`: the situation's title, whether it needs action
and its next try depend only on its kind (decided by the row's facts) and ``next_attempt_at``,
so an export reads no attempts, account events or stored Graph node. Building the whole shape
for 10,000 channels cost several seconds of CPU for links, notes and syncs the CSV drops. Like
the shape, a row holds no secret: the export selects none. Health columns are headed by the
labels of ``HEALTH_FIELDS``.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (OWASP, "CSV
Injection"); a display name is the customer's text, so such a cell is written with a leading
``'``. A phone number (digits and :data:`~whatsapp.store.fleet_listing.PHONE_SEPARATORS`, e.g.
``+1 631-555-5555``) cannot hold a formula and is written as it is.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from whatsapp.domain.health import FIELDS_BY_NAME
from whatsapp.domain.situations import SITUATIONS, SituationSpec, situation_kind
from whatsapp.store.fleet_listing import PHONE_SEPARATORS, facts_of
from whatsapp.store.views import isoformat

MEDIA_TYPE = "text/csv; charset=utf-8"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_TEXT = re.compile(f"[0-9{re.escape(PHONE_SEPARATORS)}]+")


@dataclass(frozen=True, slots=True)
class CsvColumn:
    header: str
    #: The cell's value from an export row and its situation kind's spec.
    value: Callable[[Row[Any], SituationSpec], Any]


def _column(header: str, name: str) -> CsvColumn:
    return CsvColumn(header, lambda row, _: getattr(row, name))


def _health(name: str) -> CsvColumn:
    """A stored health field: its page label; empty until a read (the API has no health then)."""
    return CsvColumn(
        FIELDS_BY_NAME[name].label,
        lambda row, _: getattr(row, name) if row.checked_at is not None else None,
    )


#: One row per channel, in this order; times are ISO UTC as the API gives them.
CSV_COLUMNS: tuple[CsvColumn, ...] = (
    _column("Account", "account_id"),
    _column("Inbox", "inbox_id"),
    # Kept on the channel itself, so the API shows them before any read too.
    _column(FIELDS_BY_NAME["display_phone_number"].label, "display_phone_number"),
    _column("Phone number id", "phone_number_id"),
    _column("WABA id", "waba_id"),
    _column("Business id", "business_id"),
    _column(FIELDS_BY_NAME["verified_name"].label, "verified_name"),
    _column("Registration state", "registration_state"),
    CsvColumn("Situation", lambda _, spec: spec.title),
    CsvColumn("Needs action", lambda _, spec: spec.needs_action),
    _health("quality_rating"),
    _health("status"),
    _health("messaging_limit_tier"),
    CsvColumn("Checked", lambda row, _: isoformat(row.checked_at)),
    # As ``whatsapp.domain.situations.situation`` words it: the next try of a retried kind only.
    CsvColumn("Next try", lambda row, spec: isoformat(row.next_attempt_at) if spec.retried else None),
    _column("Reauthorization reason", "reauthorization_reason"),
    _column("Active", "active"),
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


def _encode(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def _rows(chunk: Sequence[Row[Any]]) -> list[list[str]]:
    cells = []
    for row in chunk:
        spec = SITUATIONS[situation_kind(facts_of(row))]
        cells.append([_cell(column.value(row, spec)) for column in CSV_COLUMNS])
    return cells


def csv_chunks(rows: Generator[Sequence[Row[Any]]]) -> Iterator[bytes]:
    """The CSV as byte chunks: the header with the first chunk of rows (so the store has answered
    before the first byte is sent), then one chunk per chunk of ``rows``. Closing this closes
    ``rows`` (and the store connection behind it)."""
    with closing(rows):
        header = [column.header for column in CSV_COLUMNS]
        first = next(rows, [])
        yield _encode([header, *_rows(first)])
        for chunk in rows:
            yield _encode(_rows(chunk))
