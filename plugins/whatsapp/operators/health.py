"""Fetch a channel's health, store the snapshot, and flag or clear reauthorization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum

from whatsapp.domain.registration import RegistrationState
from whatsapp.errors import GraphApiError
from whatsapp.operators.base import WhatsAppChannelOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class WhatsAppHealthCheckOperator(WhatsAppChannelOperator):
    """The last onboarding step: leave the channel healthy or clearly flagged.

    Right after a successful registration (or reauthorization) Meta may still read the number
    as pending; that is "verify again soon", not "broken", so the flag is not raised then.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from whatsapp.store import HealthResult

        now = pendulum.now("UTC")
        with self.open_store() as store:
            channel = self.load_channel(store, context)
            token = store.channels.credentials(channel.id).access_token
            try:
                health = self.hook.get_phone_health(channel.phone_number_id, token)
            except GraphApiError as error:
                store.health.record(
                    [HealthResult(channel_id=channel.id, checked_at=now, error=error)],
                    run_id=context["run_id"],
                )
                self.graph_failure(f"health of {channel.phone_number_id}", error)  # stored above, flags too
            just_registered = channel.registration_state is RegistrationState.REGISTERED
            result = HealthResult(
                channel_id=channel.id, checked_at=now, health=health, just_registered=just_registered
            )
            store.health.record([result], run_id=context["run_id"])
            if health.is_pending and just_registered:
                self.log.warning(
                    "Meta still reads %s as pending right after registering: "
                    "verification scheduled, not flagged",
                    channel.phone_number_id,
                )
            stored = store.channels.by_id(channel.id)
        summary = {
            "channel_id": channel.id,
            "phone_number_id": channel.phone_number_id,
            "provisioning": health.provisioning.value,
            "name_status": health.name_status,
            "quality_rating": health.quality_rating,
            "status": health.status,
            "registration_state": stored.registration_state.value if stored else None,
            "reauthorization_reason": (
                stored.reauthorization_reason.value if stored and stored.reauthorization_reason else None
            ),
        }
        self.log.info("Health of %s: %s", channel.phone_number_id, summary)
        return summary
