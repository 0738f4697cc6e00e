"""Persistence behind a few functions (see ``dispatcher.store.db``): the API and the CLI use it,
the solver never does."""

from dispatcher.store.db import (
    ROLES,
    ConflictError,
    KeyInfo,
    Store,
    current_revision,
    hash_token,
    make_engine,
    migration_heads,
    sqlite_url,
    upgrade,
)

__all__ = [
    "ROLES",
    "ConflictError",
    "KeyInfo",
    "Store",
    "current_revision",
    "migration_heads",
    "hash_token",
    "make_engine",
    "sqlite_url",
    "upgrade",
]
