"""After every fleet health run: an example consumer of the ``whatsapp_fleet_summary`` Asset.

Scheduled on the Asset the fleet DAG's summary task publishes, it logs the counts carried by the
event; replace the task with a report, an export or a ticket as the deployment needs.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from whatsapp.assets import FLEET_SUMMARY


@dag(
    dag_id="whatsapp_fleet_digest", schedule=[FLEET_SUMMARY], catchup=False, tags=["whatsapp"], doc_md=__doc__
)
def whatsapp_fleet_digest() -> None:
    @task
    def digest(triggering_asset_events: dict | None = None) -> dict:
        events = (triggering_asset_events or {}).get(FLEET_SUMMARY, [])
        counts = events[-1].extra if events else {}
        print(f"Fleet after the last run: {counts.get('channels', 0)} channel(s): {counts}")
        return counts

    digest()


whatsapp_fleet_digest()
