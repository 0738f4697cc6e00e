"""Command-line sub-apps for the reports and the scenarios (registered in ``dispatcher.cli``):

* ``dispatcher report manifest PROBLEM PLAN``: driver manifests, CSV and printable HTML;
* ``dispatcher report map PROBLEM PLAN``: the self-contained map of the day;
* ``dispatcher report gtfs-flex``: a GTFS-Flex feed of the service, validated by reading it back;
* ``dispatcher scenario run FILE``: a planners' scenario, table and Markdown report.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from dispatcher.clikit import Lang, ServiceFile, console, err_console, handle_errors, step
from dispatcher.errors import InputError
from dispatcher.reports.numbers import check_lang

report_app = typer.Typer(
    help="Operators' outputs: driver manifests, map of the day, GTFS-Flex.", no_args_is_help=True
)
scenario_app = typer.Typer(
    help="Planners' scenarios: variants x seeds, planned, checked, compared.", no_args_is_help=True
)

# The arguments of the reports on a plan (manifest, map)
ProblemFile = Annotated[Path, typer.Argument(help="Problem JSON (plan.problem.json).")]
PlanFile = Annotated[Path, typer.Argument(help="Plan JSON.")]
CsvStyle = Annotated[
    str,
    typer.Option(
        "--csv",
        help="excel (for a person: ';', UTF-8 with BOM, translated headers, decimal comma) | "
        "machine (',', no BOM, field names, decimal point)",
    ),
]


def _ticket_codes(database_url: str, day: Any) -> dict[str, str]:
    """Request id -> the code of its valid trip ticket on ``day``, in the service's database."""
    from dispatcher.service.context import Context
    from dispatcher.service.settings import Settings
    from dispatcher.service.tickets import Tickets

    if day is None:
        raise InputError("the problem has no day: no tickets to list", "--tickets-db")
    t = Tickets(Context(Settings(database_url=database_url)))
    try:
        return t.codes_of_day(day)
    finally:
        t.ctx.store.close()


def _load(problem: Path, plan: Path) -> tuple[Any, Any]:
    from dispatcher.io.files import load_plan, load_problem

    p = load_problem(problem)
    return p, load_plan(plan, p)


def _date(value: str | None, where: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {value!r}", where) from None


@report_app.command("manifest")
@handle_errors
def manifest_cmd(
    problem: ProblemFile,
    plan: PlanFile,
    out: Annotated[Path, typer.Option(help="Folder for manifests.csv and manifests.html.")] = Path(
        "out/manifests"
    ),
    lang: Lang = "fr",
    csv_style: CsvStyle = "excel",
    service: ServiceFile = None,
    tickets_db: Annotated[
        str | None,
        typer.Option(
            help="The service's database (SQLAlchemy URL): list the ticket codes expected on "
            "board (signed under DISPATCHER_TICKET_KEY or the state folder's key).",
        ),
    ] = None,
) -> None:
    """Driver manifests: every vehicle's stops in order, who boards and alights and what they
    pay (and, with --tickets-db, the ticket codes expected on board), as CSV and HTML."""
    from dispatcher.fares.plan import plan_fares
    from dispatcher.fares.zones import territory_zones
    from dispatcher.io.sheets import check_style
    from dispatcher.reports.manifest import (
        build_manifests,
        on_board,
        write_manifest_csv,
        write_manifest_html,
    )
    from dispatcher.service_config import load_service
    from dispatcher.territory import Territory

    p, pl = _load(problem, plan)
    lang = check_lang(lang)
    style = check_style(csv_style)
    svc = load_service(service)
    rules = svc.fares
    codes = _ticket_codes(tickets_db, p.day) if tickets_db else None
    zones = territory_zones(Territory.load(svc.territory))  # the service's fare zones
    onboard = on_board(plan_fares(rules, p, pl, zones), codes, rules, lang)
    csv_path = write_manifest_csv(p, pl, out / "manifests.csv", lang, style, onboard)
    html_path = write_manifest_html(p, pl, out / "manifests.html", lang, onboard)
    n = len(build_manifests(p, pl))
    console.print(
        f"{n} feuilles de route écrites dans {csv_path} et {html_path}"
        if lang == "fr"
        else f"{n} manifests written to {csv_path} and {html_path}"
    )


@report_app.command("map")
@handle_errors
def map_cmd(
    problem: ProblemFile,
    plan: PlanFile,
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("out/map.html"),
    lang: Lang = "fr",
    tiles: Annotated[
        str | None,
        typer.Option(
            help="A background of map tiles, as a URL template (https://.../{z}/{x}/{y}.png; "
            "'osm' for OpenStreetMap's), drawn when the tiles are reachable; default: none."
        ),
    ] = None,
    roads: Annotated[
        bool,
        typer.Option(help="Draw routes along the roads of the default graph (else straight legs)."),
    ] = True,
) -> None:
    """The map of the day as one self-contained HTML page (routes along the roads, \
refusals in red)."""
    from dispatcher.reports.map import territory_for_problem, write_plan_map

    p, pl = _load(problem, plan)
    network = None
    if roads:
        from dispatcher.graph import RoadNetwork

        with step("graph_load", lang):
            network = RoadNetwork.default()
    with step("drawing_routes", lang):
        path = write_plan_map(
            p,
            pl,
            out,
            network,
            territory=territory_for_problem(p),
            tiles=True if tiles == "osm" else tiles,
            lang=check_lang(lang),
        )
    console.print(f"carte écrite dans {path}" if lang == "fr" else f"map written to {path}")


@report_app.command("carpool-proofs")
@handle_errors
def carpool_proofs_cmd(
    problem: ProblemFile,
    plan: PlanFile,
    out: Annotated[Path, typer.Option(help="The JSON file to write.")] = Path(
        "out/carpool-proofs.json"
    ),
    operator_id: Annotated[
        str, typer.Option(help="The operator's id at the carpool proof register.")
    ] = "coquelicot",
    salt_file: Annotated[
        Path | None,
        typer.Option(
            help="The operator's salt of the pseudonyms (default: made once in the state folder, "
            "carpool-proof.salt)."
        ),
    ] = None,
    service: ServiceFile = None,
) -> None:
    """Carpool proof records of the plan's carpool journeys, in the layout of the French
    register (docs/fares.md), as JSON for the operator to submit; nothing is sent."""
    import json

    from dispatcher.fares.plan import plan_fares
    from dispatcher.fares.zones import territory_zones
    from dispatcher.reports.carpool_proofs import carpool_proofs
    from dispatcher.service.settings import Settings
    from dispatcher.service_config import load_service
    from dispatcher.territory import Territory

    p, pl = _load(problem, plan)
    svc = load_service(service)
    terr = Territory.load(svc.territory)
    salt = Settings().secret_file("carpool-proof.salt", salt_file)
    data = carpool_proofs(
        p,
        pl,
        plan_fares(svc.fares, p, pl, territory_zones(terr)),
        operator_id=operator_id,
        salt=salt,
        incentive_siren=terr.epcis[0] if terr.epcis else "",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    console.print(f"{len(data['journeys'])} carpool proof record(s) written to {out}")


@report_app.command("gtfs-flex")
@handle_errors
def gtfs_flex_cmd(
    out: Annotated[Path, typer.Option(help="The zip to write.")] = Path("out/gtfs-flex.zip"),
    service: ServiceFile = None,
    territory: Annotated[
        str | None,
        typer.Option(
            help="Intercommunalities (keys or SIREN, comma separated; 'all'); default: the "
            "service's."
        ),
    ] = None,
    zones: Annotated[
        str, typer.Option(help="epci (a zone per intercommunality) | territory (one zone)")
    ] = "epci",
    start: Annotated[
        str | None, typer.Option(help="First day of the feed, YYYY-MM-DD (default: today).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Last day of the feed, YYYY-MM-DD (default: a year on).")
    ] = None,
) -> None:
    """A GTFS-Flex feed of the on-demand service, from the service configuration (agency,
    hours, calendar, booking rules, territory), with its fares in GTFS-Fares v2 form, read back
    and validated."""
    from dispatcher.reports.gtfs_flex import read_gtfs_flex, write_gtfs_flex
    from dispatcher.service_config import load_service
    from dispatcher.territory import Territory

    svc = load_service(service)
    keys = [k.strip() for k in territory.split(",")] if territory else svc.territory
    path = write_gtfs_flex(
        out,
        Territory.load(keys),
        svc,
        start=_date(start, "--start"),
        end=_date(end, "--end"),
        zones=zones,
        fares=svc.fares,
    )
    feed = read_gtfs_flex(path)
    console.print(
        f"GTFS-Flex feed written to {path}: {len(feed.zone_ids)} zone(s), "
        f"{len(feed.tables['trips.txt'])} trips, "
        f"{len(feed.tables['calendar_dates.txt'])} days without service, "
        f"{len(feed.tables.get('fare_products.txt', []))} fare products, "
        f"{len(feed.tables.get('fare_leg_rules.txt', []))} fare leg rules; read back and valid"
    )


@scenario_app.command("run")
@handle_errors
def scenario_run(
    file: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: out/scenarios/<file name>).")
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address (tcp://host:port); default: local processes."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Local worker processes (without --scheduler).")] = 2,
    seeds: Annotated[str | None, typer.Option(help="Override the seeds, comma separated.")] = None,
    time_limit: Annotated[
        float | None, typer.Option(help="Override the solver time limit per run (s).")
    ] = None,
    lang: Lang = "fr",
    csv_style: CsvStyle = "excel",
    service: ServiceFile = None,
) -> None:
    """Run every variant x seed, check every plan, write results.csv, report.md and plots.
    The service configuration gives the default territory and hours; a day without service is
    refused."""
    from dispatcher.io.sheets import check_style
    from dispatcher.reports.numbers import number
    from dispatcher.reports.report import write_scenario_report
    from dispatcher.scenario import load_scenario, run_scenario, with_overrides
    from dispatcher.service_config import load_service

    lang = check_lang(lang)
    style = check_style(csv_style)
    sc = load_scenario(file, load_service(service))
    seed_list = None
    if seeds is not None:
        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError:
            raise InputError(
                f"must be integers separated by commas, got {seeds!r}", "--seeds"
            ) from None
    sc = with_overrides(sc, seeds=seed_list, time_limit_s=time_limit)
    target = out or Path("out") / "scenarios" / file.stem
    n = len(sc.variants) * len(sc.seeds)

    def progress(k: int, total: int, r: Any) -> None:
        row = r.row
        if lang == "fr":
            line = (
                f"{row['variant']} / graine {row['seed']} : {row['served']} servies, "
                f"{row['refused']} refusées, {number(row['cost_eur'], 0)} €, vérification "
                + ("correcte" if row["check_ok"] else "EN ÉCHEC")
            )
        else:
            line = (
                f"{row['variant']} / seed {row['seed']}: {row['served']} served, "
                f"{row['refused']} refused, {row['cost_eur']:.0f} EUR, checker "
                + ("ok" if row["check_ok"] else "FAILED")
            )
        err_console.print(f"[{k}/{total}] {line}", highlight=False, markup=False)

    with step(
        "scenario_dask" if scheduler else "scenario_local",
        lang,
        n=n,
        v=len(sc.variants),
        s=len(sc.seeds),
        workers=min(workers, n),
        scheduler=scheduler,
    ):
        result = run_scenario(sc, scheduler=scheduler, workers=workers, progress=progress)
    md = write_scenario_report(result, target, lang=lang, csv=style)
    console.print(
        f"rapport écrit dans {md} (tableau : {target / 'results.csv'})"
        if lang == "fr"
        else f"report written to {md} (table: {target / 'results.csv'})"
    )
    if not all(r["check_ok"] for r in result.rows):
        err_console.print(
            "des plans enfreignent une contrainte (voir report.md)"
            if lang == "fr"
            else "some plans failed the checker (see report.md)"
        )
        raise typer.Exit(6)
