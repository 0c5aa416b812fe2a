"""Fetch a channel's health, store the snapshot, and flag or clear reauthorization."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum

from whatsapp.domain.registration import RegistrationState
from whatsapp.errors import GraphApiError
from whatsapp.operators.base import WhatsAppChannelOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

#: Meta may read NOT_APPLICABLE for a while after a successful registration; look again then.
VERIFY_AGAIN_AFTER = pendulum.duration(minutes=15)


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
            token = store.credentials(channel.id).access_token
            try:
                health = self.hook.get_phone_health(channel.phone_number_id, token)
            except GraphApiError as error:
                store.record_health([HealthResult(channel_id=channel.id, checked_at=now, error=error)])
                self.graph_failure(f"health of {channel.phone_number_id}", error)  # stored above, flags too
            store.record_health([HealthResult(channel_id=channel.id, checked_at=now, health=health)])
            just_registered = channel.registration_state is RegistrationState.REGISTERED
            if health.is_pending and just_registered:
                store.clear_reauthorization(channel.id)
                store.set_registration_state(
                    channel.id, RegistrationState.SCHEDULED, next_attempt_at=now + VERIFY_AGAIN_AFTER
                )
                self.log.warning(
                    "Meta still reads %s as pending right after registering: "
                    "verification scheduled, not flagged",
                    channel.phone_number_id,
                )
            stored = store.get_channel_by_id(channel.id)
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
