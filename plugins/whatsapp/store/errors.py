"""Store errors: each names what went wrong and what to do, never a secret or a URL password."""

from __future__ import annotations


class StoreError(Exception):
    """Base class: anything the channel store refuses or cannot do."""


class StoreConnectionError(StoreError):
    """The store connection is missing, malformed or the database cannot be reached."""


class StoreNotMigratedError(StoreError):
    """The database has no (or an older) schema; ``whatsapp-fleet migrate`` fixes it."""


class ChannelNotFoundError(StoreError):
    """No channel with the given identity."""


class ChannelConflictError(StoreError):
    """A write would attach a phone number to the wrong channel or account; nothing was written."""


class EncryptionUnavailableError(StoreError):
    """Airflow has no Fernet key, so secrets cannot be stored encrypted (they never are stored plain)."""
