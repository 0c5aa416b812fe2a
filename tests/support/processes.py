"""The worker processes of the race tests (two registrations, two migrations, two offboardings)."""

from __future__ import annotations

import multiprocessing

#: ``fork``, as Airflow starts a task: its supervisor forks the task process. A child begins with
#: the test's modules imported and its environment (the connections a fixture set); each child
#: opens its own store and Graph client, never the parent's. ``spawn`` started a new interpreter
#: that imported Airflow again, about a second of CPU per process (bench/README.md).
RACING = multiprocessing.get_context("fork")
