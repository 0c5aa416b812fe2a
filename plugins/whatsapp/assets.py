"""The Airflow Assets the provider publishes; light to import (DAG files use them at parse time)."""

from __future__ import annotations

from airflow.sdk import Asset

#: Updated by every fleet health run's summary: schedule a DAG on it to run after each one.
#: The event's ``extra`` holds the summary counts (``store.fleet.counts()``).
FLEET_SUMMARY = Asset(name="whatsapp_fleet_summary", uri="whatsapp://fleet/summary", group="whatsapp")
