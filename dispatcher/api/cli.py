"""The server's commands: ``dispatcher serve``, ``dispatcher keys create|list|revoke``,
``dispatcher db upgrade``, ``dispatcher privacy purge|export|erase|dump|access-log|table``.
Register them on the main CLI with ``register(app)``."""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dispatcher.clikit import ServiceFile, handle_errors

if TYPE_CHECKING:  # the server's modules load only for the commands that use them
    from dispatcher.service.personal_data import PersonalData
    from dispatcher.service.settings import Settings
    from dispatcher.store import Store

console = Console()
keys_app = typer.Typer(
    help="API keys (stored hashed; a new key is printed once).", no_args_is_help=True
)
db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
privacy_app = typer.Typer(
    help="Personal data (docs/privacy.md): the retention period's purge, a person's data "
    "exported or erased, pseudonymised dumps of a day for planners, the access log.",
    no_args_is_help=True,
)
ticket_app = typer.Typer(
    help="Tickets (docs/fares.md): check a code on board, issue a card or a pass.",
    no_args_is_help=True,
)

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
    service: ServiceFile = None,
) -> None:
    """Serve the HTTP API (uvicorn). Settings come from DISPATCHER_* variables and these options."""
    import uvicorn

    from dispatcher.service_config import load_service

    if service:
        load_service(service)  # a bad file stops here, in one line, before the workers start
        os.environ["DISPATCHER_SERVICE"] = str(Path(service).resolve())
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
    role: Annotated[str, typer.Option(help="operator | portal | planner | driver")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "",
    vehicle: Annotated[
        str | None, typer.Option(help="A driver key: the vehicle it speaks for.")
    ] = None,
    day: Annotated[
        str | None, typer.Option(help="A driver key: its service day (YYYY-MM-DD).")
    ] = None,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Create an API key and print it once (only its hash is stored). A driver key is tied to one
    vehicle of one day (--vehicle, --day)."""
    from dispatcher.errors import InputError

    when = None
    if day is not None:
        try:
            when = date.fromisoformat(day)
        except ValueError:
            raise InputError(f"not a date (YYYY-MM-DD): {day!r}", "--day") from None
    store = _store(database_url, state_dir)
    token, info = store.create_key(role, name, vehicle, when)
    store.close()
    typer.echo(token)
    typer.echo(
        f"key {info.id} ({info.role}{', ' + info.name if info.name else ''}"
        f"{f', {info.vehicle_id} on {info.day}' if info.vehicle_id else ''}) created; it is shown "
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


# ---- personal data ----------------------------------------------------------------------------

PhoneOpt = Annotated[
    str | None,
    typer.Option(help="The person's phone number (any spacing; '-': read it from stdin)."),
]
RiderOpt = Annotated[
    str | None, typer.Option("--rider-id", help="The person's rider id (rdr-...).")
]


def _personal_data(database_url: str | None, state_dir: Path | None) -> PersonalData:
    from dispatcher.service.personal_data import standalone

    return standalone(_settings(database_url, state_dir))


def _phone(phone: str | None) -> str | None:
    return sys.stdin.readline().strip() if phone == "-" else phone


def _write_json(data: Any, out: Path | None) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console.print(f"written to {out}")


@privacy_app.command("purge")
@handle_errors
def privacy_purge(
    retention_days: Annotated[
        int | None,
        typer.Option(
            help="Days kept after a service day (default: $DISPATCHER_RETENTION_DAYS, 90)."
        ),
    ] = None,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Pseudonymise the personal data of the service days older than the retention period (also
    done at server start). Prints what was purged, in counts."""
    from dispatcher.service.privacy import COMMAND_LINE

    pd = _personal_data(database_url, state_dir)
    try:
        out = pd.purge(COMMAND_LINE, retention_days)
    finally:
        pd.ctx.store.close()
    counts = ", ".join(f"{v} {k}" for k, v in out["counts"].items()) or "nothing stored"
    console.print(
        f"{len(out['days'])} day(s) before {out['before']} purged"
        + (f": {counts}" if out["days"] else "")
    )


@privacy_app.command("export")
@handle_errors
def privacy_export(
    phone: PhoneOpt = None,
    rider_id: RiderOpt = None,
    out: Annotated[Path | None, typer.Option(help="JSON file to write (default: stdout).")] = None,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Everything stored about a person, as JSON (right of access)."""
    from dispatcher.service.privacy import COMMAND_LINE

    pd = _personal_data(database_url, state_dir)
    try:
        data = pd.export(COMMAND_LINE, _phone(phone), rider_id)
    finally:
        pd.ctx.store.close()
    _write_json(data, out)


@privacy_app.command("erase")
@handle_errors
def privacy_erase(
    phone: PhoneOpt = None,
    rider_id: RiderOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone.")] = False,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Forget a person (right to erasure): trips to come cancelled, every stored copy
    pseudonymised, a volunteer's record deleted. Prints what was done, in counts."""
    from dispatcher.errors import InputError
    from dispatcher.service.privacy import COMMAND_LINE

    if not yes:
        raise InputError("erasing cannot be undone; add --yes", "--yes")
    pd = _personal_data(database_url, state_dir)
    try:
        out = pd.erase(COMMAND_LINE, _phone(phone), rider_id)
    finally:
        pd.ctx.store.close()
    if not out["found"]:
        console.print(f"nothing stored about {out['rider_id']}")
        return
    counts = ", ".join(f"{v} {k}" for k, v in out["counts"].items())
    console.print(f"{out['rider_id']} erased: {counts}")


@privacy_app.command("dump")
@handle_errors
def privacy_dump(
    day: Annotated[str, typer.Argument(help="The service day, YYYY-MM-DD.")],
    out: Annotated[Path | None, typer.Option(help="Folder (default: out/dump-<day>).")] = None,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """A day's files for planners and researchers, pseudonymised with a key of their own:
    requests.json (the demand), fleet.json, carpool-offers.json, problem.json and plan.json
    (checkable together with dispatcher check)."""
    from dispatcher.errors import InputError
    from dispatcher.service.privacy import COMMAND_LINE

    try:
        service_day = date.fromisoformat(day)
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {day!r}", "DAY") from None
    pd = _personal_data(database_url, state_dir)
    try:
        files = pd.dump(service_day, COMMAND_LINE)
    finally:
        pd.ctx.store.close()
    folder = out or Path("out") / f"dump-{day}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_text(
            json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    console.print(f"{len(files)} pseudonymised file(s) written to {folder}")


@privacy_app.command("access-log")
@handle_errors
def privacy_access_log(
    rider_id: RiderOpt = None,
    limit: Annotated[int, typer.Option(help="The newest entries, at most.")] = 50,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """The reads of personal data, newest first: who, what, when (persons by rider id)."""
    from dispatcher.store.privacy import PrivacyStore

    store = _store(database_url, state_dir)
    try:
        entries = PrivacyStore(store).entries(rider_id=rider_id, limit=limit)
    finally:
        store.close()
    t = Table("at", "key", "role", "action", "day", "records", "rider ids")
    for e in entries:
        t.add_row(
            str(e["at"]),
            "" if e["key_id"] is None else str(e["key_id"]),
            e["role"],
            e["action"],
            e["day"] or "",
            str(e["records"]),
            ", ".join(e["rider_ids"]),
        )
    console.print(t)


@privacy_app.command("table")
def privacy_table() -> None:
    """Who sees which personal field (the table docs/privacy.md shows), as Markdown."""
    from dispatcher.service.privacy import markdown_table

    typer.echo(markdown_table())


# ---- tickets ----------------------------------------------------------------------------------


def _tickets(database_url: str | None, state_dir: Path | None) -> Any:
    from dispatcher.service.context import Context
    from dispatcher.service.tickets import Tickets

    return Tickets(Context(_settings(database_url, state_dir)))


@ticket_app.command("check")
@handle_errors
def ticket_check(
    code: Annotated[str, typer.Argument(help="The ticket's code, as printed or scanned.")],
    day: Annotated[str | None, typer.Option(help="Day of the check, YYYY-MM-DD (today).")] = None,
    vehicle: Annotated[str | None, typer.Option(help="The vehicle checking it.")] = None,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Check a ticket's code (valid, already used, wrong day, cancelled, forged) and record it;
    exit code 0 only when valid (1 otherwise)."""
    from dispatcher.io.times import parse_day

    t = _tickets(database_url, state_dir)
    try:
        out = t.check(code, parse_day(day) if day else None, None, vehicle)
    finally:
        t.ctx.store.close()
    console.print(f"{out['result']}: {out['message']} ({out['day']})", highlight=False)
    if not out["ok"]:
        raise typer.Exit(1)


@ticket_app.command("card")
@handle_errors
def ticket_card(
    product: Annotated[
        str, typer.Option(help="A card or pass of the fare rules (card10, monthly).")
    ],
    valid_from: Annotated[str | None, typer.Option(help="A pass: its first day (today).")] = None,
    svg: Annotated[Path | None, typer.Option(help="Write its QR code to this SVG file.")] = None,
    database_url: DatabaseOpt = None,
    state_dir: StateOpt = None,
) -> None:
    """Issue a card of trips or a pass: prints its signed code."""
    from dispatcher.io.times import parse_day

    t = _tickets(database_url, state_dir)
    try:
        out = t.issue_card(product, parse_day(valid_from) if valid_from else None)
    finally:
        t.ctx.store.close()
    typer.echo(out["code"])
    if svg is not None:
        svg.write_text(out["qr_svg"], encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``keys``, ``db``, ``privacy`` and ``ticket`` to the main CLI."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(db_app, name="db")
    app.add_typer(privacy_app, name="privacy")
    app.add_typer(ticket_app, name="ticket")


cli = typer.Typer(help="The dispatch server.", no_args_is_help=True, add_completion=False)
register(cli)

if __name__ == "__main__":  # pragma: no cover
    cli()
