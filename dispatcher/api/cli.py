"""The server's commands: ``dispatcher serve``, ``dispatcher keys create|list|revoke``,
``dispatcher db upgrade``. Register them on the main CLI with ``register(app)``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from dispatcher.clikit import handle_errors

if TYPE_CHECKING:  # the server's modules load only for the commands that use them
    from dispatcher.service.settings import Settings
    from dispatcher.store import Store

console = Console()
keys_app = typer.Typer(
    help="API keys (stored hashed; a new key is printed once).", no_args_is_help=True
)
db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: $DISPATCHER_DATABASE_URL, else SQLite in the state folder).",
    ),
]
StateOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="Folder of the SQLite database (default: $DISPATCHER_STATE_DIR or "
        "~/.local/share/dispatcher).",
    ),
]


def _settings(database_url: str | None, state_dir: Path | None) -> Settings:
    from dispatcher.service.settings import Settings

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    if state_dir:
        settings = settings.model_copy(update={"state_dir": state_dir})
    return settings


def _store(database_url: str | None, state_dir: Path | None, migrate: bool = True) -> Store:
    from dispatcher.store import Store

    s = _settings(database_url, state_dir)
    return Store(s.resolved_database_url(), migrate=migrate)


@handle_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (use PostgreSQL for more than one).")
    ] = 1,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the HTTP API (uvicorn). Settings come from DISPATCHER_* variables and these options."""
    import uvicorn

    if database_url:
        os.environ["DISPATCHER_DATABASE_URL"] = database_url
    if state_dir:
        os.environ["DISPATCHER_STATE_DIR"] = str(state_dir)
    # Migrate once before the workers start (they then find the schema up to date).
    _store(database_url, state_dir).close()
    uvicorn.run(
        "dispatcher.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


@keys_app.command("create")
@handle_errors
def keys_create(
    role: Annotated[str, typer.Option(help="operator | portal | planner")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    store = _store(database_url, state_dir)
    token, info = store.create_key(role, name)
    store.close()
    typer.echo(token)
    typer.echo(
        f"key {info.id} ({info.role}{', ' + info.name if info.name else ''}) created; it is shown "
        "only this once",
        err=True,
    )


@keys_app.command("list")
@handle_errors
def keys_list(database_url: DatabaseOpt = None, state_dir: StateOpt = None) -> None:
    """The keys: id, role, name, prefix, revoked."""
    store = _store(database_url, state_dir)
    t = Table("id", "role", "name", "prefix", "created", "revoked")
    for k in store.list_keys():
        t.add_row(
            str(k["id"]),
            k["role"],
            k["name"],
            k["prefix"],
            str(k["created_at"]),
            "yes" if k["revoked"] else "",
        )
    store.close()
    console.print(t)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see keys list).")],
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Revoke a key: it is refused (401) from now on."""
    store = _store(database_url, state_dir)
    store.revoke_key(key_id)
    store.close()
    console.print(f"key {key_id} revoked")


@db_app.command("upgrade")
@handle_errors
def db_upgrade(database_url: DatabaseOpt = None, state_dir: StateOpt = None) -> None:
    """Apply the schema migrations (also done when the server starts)."""
    from dispatcher.store import current_revision

    store = _store(database_url, state_dir)
    rev = current_revision(store.engine)
    store.close()
    console.print(f"database at revision {rev}")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``keys`` and ``db`` to the main CLI."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")


cli = typer.Typer(help="The dispatch server.", no_args_is_help=True, add_completion=False)
register(cli)

if __name__ == "__main__":  # pragma: no cover
    cli()
