"""``--state-file``: the simulator's world kept across restarts (numbers, WABAs, tokens, codes, clock).

``make demo`` saves it when its simulator stops and ``make demo-airflow`` starts a simulator on
it, so the ids and tokens in the demo's channel store still mean something to "Meta". The state
is plain slotted objects, so it is pickled: the file is the simulator's own, written and read on
one machine (never load one from elsewhere). The settings are the command line's, and faults,
the request log and webhook bookkeeping start empty, as after a start.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from include.graph_simulator.state import SimState, SimulatorConfig


def load_state(path: Path, config: SimulatorConfig) -> SimState:
    with path.open("rb") as saved:
        state = pickle.load(saved)
    if not isinstance(state, SimState):
        raise ValueError(f"{path} holds no simulator state")
    state.config = config.copy()
    return state


def save_state(state: SimState, path: Path) -> None:
    """Written beside ``path`` first, then renamed: a crash never leaves half a state behind."""
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as out:
        pickle.dump(state, out, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)
