"""The channel store: every row the provider keeps, behind :class:`ChannelStore` (SQLAlchemy Core).

PostgreSQL in production, SQLite as the embedded default; secrets encrypted with Airflow's
Fernet key. Nothing else in the provider writes SQL.
"""

from __future__ import annotations

from whatsapp.store.attempts import RegistrationClaim
from whatsapp.store.connection import StoreTarget, resolve_target
from whatsapp.store.crypto import code_digest
from whatsapp.store.errors import (
    ChannelConflictError,
    ChannelNotFoundError,
    EncryptionUnavailableError,
    StoreConnectionError,
    StoreError,
    StoreNotMigratedError,
)
from whatsapp.store.migrations import HEAD_REVISION
from whatsapp.store.models import (
    AuditTarget,
    Channel,
    ChannelStatus,
    CheckError,
    Credentials,
    DueChannel,
    FleetSummary,
    HealthCheck,
    HealthResult,
    HealthWriteResult,
    RegistrationAttempt,
    RegistrationSummary,
    StoredSignup,
)
from whatsapp.store.store import ChannelStore
from whatsapp.store.views import attempt_dict, channel_api_dict, health_check_dict

__all__ = [
    "HEAD_REVISION",
    "AuditTarget",
    "Channel",
    "ChannelConflictError",
    "ChannelNotFoundError",
    "ChannelStatus",
    "ChannelStore",
    "CheckError",
    "Credentials",
    "DueChannel",
    "EncryptionUnavailableError",
    "FleetSummary",
    "HealthCheck",
    "HealthResult",
    "HealthWriteResult",
    "RegistrationAttempt",
    "RegistrationClaim",
    "RegistrationSummary",
    "StoreConnectionError",
    "StoreError",
    "StoreNotMigratedError",
    "StoreTarget",
    "StoredSignup",
    "attempt_dict",
    "channel_api_dict",
    "code_digest",
    "health_check_dict",
    "resolve_target",
]
