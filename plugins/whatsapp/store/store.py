"""``ChannelStore``: the one object DAGs, the API, the UI and the CLI use to reach the fleet's data."""

from __future__ import annotations

from whatsapp import DEFAULT_STORE_CONN_ID
from whatsapp.store.audit import AuditMixin
from whatsapp.store.channels import ChannelsMixin
from whatsapp.store.connection import StoreTarget, create_store_engine, resolve_target
from whatsapp.store.fleet import FleetMixin
from whatsapp.store.migrations import migrate
from whatsapp.store.registration import RegistrationMixin
from whatsapp.store.signups import SignupsMixin


class ChannelStore(SignupsMixin, ChannelsMixin, AuditMixin, RegistrationMixin, FleetMixin):
    """All SQL of the provider, behind typed methods (each area lives in its own module).

    Operations check once per instance that the schema is migrated and raise
    :class:`~whatsapp.store.errors.StoreNotMigratedError` otherwise.
    """

    @classmethod
    def from_target(cls, target: StoreTarget) -> ChannelStore:
        return cls(create_store_engine(target), target)

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_STORE_CONN_ID) -> ChannelStore:
        """The store named by an Airflow connection (embedded SQLite when it is not defined)."""
        return cls.from_target(resolve_target(conn_id))

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the revisions applied (empty when already current)."""
        with self._connection_errors():
            applied = migrate(self.engine, self.target.schema)
        self._schema_checked = True
        return applied
