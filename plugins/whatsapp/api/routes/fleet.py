"""The fleet table with filters by state, and the counts the health page shows above it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from whatsapp.api.deps import StoreDep
from whatsapp.api.models import FleetResponse, LastAudit
from whatsapp.store import channel_api_dict
from whatsapp.store.views import isoformat

router = APIRouter(tags=["fleet"])

#: Filterable fields of the channel shape, as ``query parameter -> path in the shape``. A missing
#: value is matched by ``none``, the word the fleet counts use for it.
FILTERS: dict[str, tuple[str, ...]] = {
    "provisioning": ("provisioning",),
    "registration_state": ("registration", "state"),
    "reauthorization_reason": ("reauthorization_reason",),
    "quality_rating": ("quality_rating",),
    "name_status": ("name_status",),
    "status": ("status",),
}

StateFilter = Annotated[list[str] | None, Query(description="repeat to match any of several values")]


def _value(row: dict[str, Any], path: tuple[str, ...]) -> str:
    value: Any = row
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return "none" if value is None else str(value)


@router.get("/fleet", response_model=FleetResponse)
def get_fleet(
    store: StoreDep,
    provisioning: StateFilter = None,
    registration_state: StateFilter = None,
    reauthorization_reason: StateFilter = None,
    quality_rating: StateFilter = None,
    name_status: StateFilter = None,
    status: StateFilter = None,
    include_inactive: bool = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FleetResponse:
    """Channels by account and inbox, filtered by state; counts cover every active channel.

    ``counts`` are live (one grouped query), so they always agree with the table; ``last_audit``
    is what the fleet DAG's summary task saved, to show when the fleet was last checked.
    """
    wanted = {
        name: set(values)
        for name, values in {
            "provisioning": provisioning,
            "registration_state": registration_state,
            "reauthorization_reason": reauthorization_reason,
            "quality_rating": quality_rating,
            "name_status": name_status,
            "status": status,
        }.items()
        if values
    }
    rows = [channel_api_dict(s) for s in store.fleet.statuses() if include_inactive or s.channel.active]
    matching = [row for row in rows if all(_value(row, FILTERS[n]) in v for n, v in wanted.items())]
    summary = store.fleet.latest_summary()
    return FleetResponse.model_validate(
        {
            "total": len(matching),
            "channels": matching[offset : offset + limit],
            "counts": store.fleet.counts(),
            "last_audit": summary
            and LastAudit(created_at=isoformat(summary.created_at), counts=summary.counts),
        }
    )
