"""``ChannelStore``: the one object DAGs, the API, the UI and the CLI use to reach the fleet's data.

It composes one repository per table over a shared :class:`~whatsapp.store.database.Database`
(no mixins, no hidden shared state) and is a context manager that closes its connections::

    with ChannelStore.from_conn_id() as store:
        channel = store.channels.by_id(7)
        store.channels.apply(channel.id, NameReviewWaiting(now))
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine

from whatsapp.defaults import DEFAULT_STORE_CONN_ID
from whatsapp.store.attempts import AttemptRepository
from whatsapp.store.business_app import BusinessAppRepository
from whatsapp.store.channels import ChannelRepository
from whatsapp.store.connection import StoreTarget, create_store_engine, resolve_target
from whatsapp.store.crypto import SecretBox
from whatsapp.store.database import Database
from whatsapp.store.fleet import FleetRepository
from whatsapp.store.health_checks import HealthRepository
from whatsapp.store.lifecycle_calls import LifecycleCallRepository
from whatsapp.store.migrations import migrate
from whatsapp.store.operations import OperationsRepository
from whatsapp.store.signups import SignupRepository
from whatsapp.store.webhooks import WebhookRepository


class ChannelStore:
    """All SQL of the provider, one repository per table.

    Operations check once per instance that the schema is migrated and raise
    :class:`~whatsapp.store.errors.StoreNotMigratedError` otherwise.
    """

    def __init__(self, engine: Engine, target: StoreTarget | None = None, secrets: SecretBox | None = None):
        self.db = Database(engine, target, secrets)
        self.signups = SignupRepository(self.db)
        self.channels = ChannelRepository(self.db)
        self.health = HealthRepository(self.db)
        self.attempts = AttemptRepository(self.db)
        self.fleet = FleetRepository(self.db)
        self.webhooks = WebhookRepository(self.db)
        self.lifecycle_calls = LifecycleCallRepository(self.db)
        self.business_app = BusinessAppRepository(self.db)
        self.operations = OperationsRepository(self.db)

    @classmethod
    def from_target(cls, target: StoreTarget) -> ChannelStore:
        return cls(create_store_engine(target), target)

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_STORE_CONN_ID) -> ChannelStore:
        """The store named by an Airflow connection (embedded SQLite when it is not defined)."""
        return cls.from_target(resolve_target(conn_id))

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def target(self) -> StoreTarget:
        return self.db.target

    @property
    def secrets(self) -> SecretBox:
        return self.db.secrets

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def check_migrated(self) -> None:
        self.db.check_migrated()

    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the revisions applied (empty when already current)."""
        with self.db.connection_errors():
            applied = migrate(self.db.engine, self.db.target.schema)
        self.db.mark_migrated()
        return applied

    def dispose(self) -> None:
        self.db.dispose()

    def __enter__(self) -> ChannelStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.dispose()
