"""Settings of the API server, from the environment (prefix ``DISPATCHER_``) or arguments.

``DISPATCHER_DATABASE_URL`` (default: SQLite in ``DISPATCHER_STATE_DIR``), ``DISPATCHER_TERRITORY``,
``DISPATCHER_MAX_BODY_BYTES``, ``DISPATCHER_BOOKING_TIME_LIMIT_S``, ... (``DISPATCHER_DATA_DIR``
is the territory's data folder, read by ``dispatcher.territory``, hence ``STATE_DIR`` here).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISPATCHER_", extra="ignore")

    state_dir: Path = Field(default=Path("~/.local/share/dispatcher"), description="Folder of the SQLite database (when no database_url).")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db.")
    migrate_on_start: bool = True
    territory: str = Field(default="all", description="Intercommunalities whose places are known (keys or SIREN, comma separated; 'all').")
    timezone: str = "Europe/Paris"
    max_body_bytes: int = Field(default=1_000_000, ge=1)
    booking_time_limit_s: float = Field(default=1.0, ge=0, description="Solver time limit of the re-planning fallback of a booking.")
    plan_time_limit_s: float = Field(default=10.0, ge=0, description="Default time limit of a plan job.")
    max_plan_time_limit_s: float = Field(default=600.0, ge=0)
    solver_processes: bool = Field(default=True, description="Run plan jobs in a separate process (keeps the server responsive).")
    host: str = "127.0.0.1"
    port: int = 8000

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        from dispatcher.store import sqlite_url

        return sqlite_url(self.state_dir)
