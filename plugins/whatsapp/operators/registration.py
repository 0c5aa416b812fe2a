"""Register one channel through the one registration path, ``register_channel.py``.

Used by onboarding, the fleet retries and the manual register DAG.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger

from whatsapp.errors import GraphApiError
from whatsapp.operators.base import WhatsAppChannelOperator
from whatsapp.register_channel import AWAITING_ANSWER, RegistrationFailed, attempt_registration

if TYPE_CHECKING:
    from airflow.sdk import Context


class WhatsAppRegisterOperator(WhatsAppChannelOperator):
    """``POST /{phone_number_id}/register`` only when live health says it is needed and can succeed.

    :param respect_backoff: the fleet DAG waits for ``next_attempt_at`` and leaves channels that
        need a person alone; onboarding and the manual "Complete registration" do neither. A
        task *retry* never waits for the backoff it just set (the retry is the backoff), and
        nothing ever exceeds the 72 h budget.

    A call whose answer was lost makes the task retry. A register call whose answer is still out
    (sent by an earlier try that was killed or lost its store, or by another run) keeps the
    channel claimed: the task defers until the wait after that call is over, then tries again,
    and the claim's health read decides. So the run never ends before Meta's answer or its health
    says where the number stands. Deferring rather than failing the try: the wait has a known end
    (the call's time plus ``ANSWER_LOST_WAIT``), which Airflow's retry delays (10 s, 20 s, 40 s)
    would not reach before the retries ran out, and the triggerer holds no worker slot meanwhile.
    Only the fleet's first try (``respect_backoff``) leaves such a channel to a later run.
    """

    def __init__(self, *, respect_backoff: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.respect_backoff = respect_backoff

    def execute(self, context: Context) -> dict[str, Any]:
        first_try = context["ti"].try_number <= 1
        with self.open_store() as store:
            channel = self.load_channel(store, context)
            try:
                report = attempt_registration(
                    self.hook,
                    store,
                    channel.id,
                    respect_backoff=self.respect_backoff and first_try,
                    respect_state=self.respect_backoff,
                    run_id=context["run_id"],
                )
            except RegistrationFailed as failure:
                self.fail(f"registration of {channel.phone_number_id}", failure.report.message)
            except GraphApiError as error:
                self.graph_failure(f"registration of {channel.phone_number_id}", error)
        self.log.info("Registration of %s: %s", channel.phone_number_id, report.message)
        if report.action == AWAITING_ANSWER and not (self.respect_backoff and first_try):
            assert report.next_attempt_at is not None
            self.defer(
                trigger=DateTimeTrigger(moment=datetime.fromisoformat(report.next_attempt_at)),
                method_name="execute_after_wait",
            )
        return report.to_dict()

    def execute_after_wait(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Back from the wait after an unanswered call: claim again; health decides now."""
        return self.execute(context)
