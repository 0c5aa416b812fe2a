"""A person's action on many channels at once: which actions there are, how many channels at most.

Shared by the API's request model, the ``whatsapp_fleet_action`` DAG's params and the work itself
(``whatsapp.fleet_actions``). Pure: no Airflow, no store.
"""

from __future__ import annotations

from enum import StrEnum


class FleetAction(StrEnum):
    """What a person can do to a selection of channels (the page's two buttons)."""

    REFRESH = "refresh"
    REGISTER = "register"


class OutcomeKind(StrEnum):
    """How the action ended for one number."""

    DONE = "done"  # read and stored / the register path ran (its message says what Meta did)
    SKIPPED = "skipped"  # nothing sent for this number, and why
    FAILED = "failed"  # Meta refused, or a person must act: the message says what


#: Most channels one run acts on (a selection, or all that match a filter): 200 mapped tasks of 50.
MAX_CHANNELS = 10_000
#: Channels per mapped task by default: one Graph batch's worth for a refresh.
DEFAULT_CHUNK_SIZE = 50
MAX_CHUNK_SIZE = 500
