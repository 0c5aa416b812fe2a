"""``--state-file``: the simulator's world kept across restarts (numbers, WABAs, tokens, codes, clock).

``make demo`` saves it when its simulator stops and ``make demo-airflow`` starts a simulator on
it, so the ids and tokens in the demo's channel store still mean something to "Meta". The state
is plain slotted objects, so it is pickled: the file is the simulator's own, written and read on
one machine (never load one from elsewhere). The settings are the command line's, and faults,
the request log and webhook bookkeeping start empty, as after a start.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path
from typing import Any

from include.graph_simulator.state import SimState, SimulatorConfig


def load_state(path: Path, config: SimulatorConfig) -> SimState:
    with path.open("rb") as saved:
        state = pickle.load(saved)
    if not isinstance(state, SimState):
        raise ValueError(f"{path} holds no simulator state")
    state.config = config.copy()
    _add_new_attributes(state)
    return state


def _add_new_attributes(state: SimState) -> None:
    """A file saved by an older simulator lacks the attributes added since (the WhatsApp Business
    app fields, say): give them their defaults, so an old demo state still loads."""
    fresh = SimState(state.config)
    for name, value in vars(fresh).items():
        if not hasattr(state, name):
            setattr(state, name, value)
    for item in (*state.numbers.values(), *state.wabas.values(), *state.tokens.values()):
        _fill_defaults(item)


def _fill_defaults(item: Any) -> None:
    for spec in dataclasses.fields(item):
        if hasattr(item, spec.name):
            continue
        if spec.default_factory is not dataclasses.MISSING:
            setattr(item, spec.name, spec.default_factory())
        elif spec.default is not dataclasses.MISSING:
            setattr(item, spec.name, spec.default)


def save_state(state: SimState, path: Path) -> None:
    """Written beside ``path`` first, then renamed: a crash never leaves half a state behind."""
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as out:
        pickle.dump(state, out, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)
