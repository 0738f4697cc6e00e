"""The command line, thin like the API: parse, call the library, print.

Every error of the project's hierarchy becomes one readable line on stderr and an exit code
(2 bad input, 3 bad data file, 4 unreachable places, 5 solver failure, 6 a plan the checker
refuses); never a traceback.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dispatcher import __version__
from dispatcher.clikit import Lang, ServiceFile, console, err_console, handle_errors, step
from dispatcher.errors import DispatcherError, InputError, SolverError
from dispatcher.reports.numbers import check_lang

app = typer.Typer(
    name="dispatcher",
    help="Route optimisation for rural on-demand transport (TAD) and carpooling.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
graph_app = typer.Typer(help="Build and inspect the road graph.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"dispatcher {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Route optimisation for rural on-demand transport (TAD) and carpooling."""


def _parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"not a date (YYYY-MM-DD): {value!r}", "--day") from None


def _params(path: Path | None, time_limit: float, seed: int) -> Any:
    """Solver parameters: the command's time limit and seed, overridden by a parameter file."""
    from dispatcher.model import SolverParams
    from dispatcher.params import load_params

    base = SolverParams(time_limit_s=time_limit, seed=seed)
    return load_params(path, base=base) if path else base


def _territory(epcis: str | None, service: Any = None) -> Any:
    """The intercommunalities given (keys or SIREN, comma separated), else the service's."""
    from dispatcher.territory import Territory

    if epcis:
        return Territory.load([k.strip() for k in epcis.split(",")])
    if service is None:
        from dispatcher.service_config import load_service

        service = load_service()
    return Territory.load(service.territory)


# --------------------------------------------------------------------------------------------
# graph
# --------------------------------------------------------------------------------------------


@graph_app.command("build")
@handle_errors
def graph_build(
    source: Annotated[str, typer.Option(help="default | osm-file | overpass")] = "default",
    path: Annotated[
        Path | None, typer.Argument(help="The .osm or .osm.pbf file (with --source osm-file).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the graph (.graphml or .pickle); default: the cache folder."
        ),
    ] = None,
    territory: Annotated[
        str | None,
        typer.Option(
            help="Intercommunalities for Overpass (keys or SIREN, comma separated; 'all')."
        ),
    ] = None,
    speed_factor: Annotated[
        float | None,
        typer.Option(
            help="Multiply every speed (default: 0.85 for the default network, 1.0 for OSM)."
        ),
    ] = None,
    overpass_url: Annotated[
        str | None, typer.Option(help="Overpass API endpoint (default: osmnx's).")
    ] = None,
    service: ServiceFile = None,
    lang: Lang = "fr",
) -> None:
    """Build the road graph from a source and print its summary."""
    from dispatcher.graph import build_graph
    from dispatcher.service_config import load_service

    lang = check_lang(lang)
    if source not in ("default", "osm-file", "overpass"):
        raise InputError("must be default, osm-file or overpass", "--source")
    terr = _territory(territory, load_service(service)) if source == "overpass" else None
    with step("graph_build", lang, source=source):
        summary = build_graph(
            source, path, out, speed_factor=speed_factor, territory=terr, overpass_url=overpass_url
        )
    _print_summary(summary, lang)


@graph_app.command("info")
@handle_errors
def graph_info(
    source: Annotated[str, typer.Option(help="default | osm-file | graph")] = "default",
    path: Annotated[
        Path | None,
        typer.Argument(help="A .osm/.osm.pbf file (osm-file) or a built graph (graph)."),
    ] = None,
    lang: Lang = "fr",
) -> None:
    """Nodes, edges, km of road per class, components, bounding box."""
    from dispatcher.graph import graph_summary, load_graph

    lang = check_lang(lang)
    with step("graph_load", lang):
        G = load_graph(source, path)
    _print_summary(graph_summary(G), lang)


# the graph summary's rows for a person (graph_summary's keys are English)
SUMMARY_FR = {
    "source": "source",
    "path": "fichier",
    "digest": "empreinte",
    "nodes": "nœuds",
    "edges": "arcs",
    "stop_nodes": "nœuds d'arrêt",
    "km_by_highway": "km par classe de route",
    "km_total": "km au total",
    "dropped": "écartés",
    "components": "composantes",
    "speed_factor": "facteur de vitesse",
    "bbox": "emprise (lon, lat)",
}


def _print_summary(s: dict[str, Any], lang: str = "fr") -> None:
    fr = lang == "fr"

    def num(b: Any) -> str:
        text = f"{b:g}" if isinstance(b, float) else f"{b}"
        return text.replace(".", ",") if fr and isinstance(b, float) else text

    t = Table(title="Réseau routier" if fr else "Road graph", show_header=False)
    for k, v in s.items():
        if isinstance(v, dict):
            v = ", ".join(
                f"{SUMMARY_FR.get(a, a)} : {num(b)}" if fr else f"{a}: {num(b)}"
                for a, b in v.items()
            )
        elif isinstance(v, float):
            v = num(v)
        t.add_row(SUMMARY_FR.get(k, k) if fr else str(k), str(v))
    console.print(t)


# --------------------------------------------------------------------------------------------
# matrix
# --------------------------------------------------------------------------------------------


@app.command("matrix")
@handle_errors
def matrix(
    points: Annotated[
        Path | None,
        typer.Option(help="CSV of points (columns id, lon, lat); default: the communes."),
    ] = None,
    territory: Annotated[
        str | None,
        typer.Option(
            help="Intercommunalities (keys or SIREN, comma separated; 'all'); default: the "
            "service's."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv | json")] = "csv",
    out: Annotated[
        Path | None, typer.Option(help="Output file (default: standard output).")
    ] = None,
    what: Annotated[
        str, typer.Option(help="In CSV: time (minutes) | distance (metres); JSON holds both.")
    ] = "time",
    csv_style: Annotated[
        str,
        typer.Option(
            "--csv",
            help="excel (for a person: ';', UTF-8 with BOM, French headers, decimal comma) | "
            "machine (',', no BOM, decimal point)",
        ),
    ] = "excel",
    service: ServiceFile = None,
) -> None:
    """Travel-time and distance matrices between the communes (or the points of a CSV).

    CSV, a file people read, gives times in minutes; JSON, for programs, in seconds
    (``duration_s``) like every JSON file of the project."""
    import json as _json

    from dispatcher.graph import RoadNetwork
    from dispatcher.io.sheets import check_style, table_text

    if fmt not in ("csv", "json"):
        raise InputError("must be csv or json", "--format")
    if what not in ("time", "distance"):
        raise InputError("must be time or distance", "--what")
    from dispatcher.service_config import load_service

    style = check_style(csv_style)
    terr = _territory(territory, load_service(service))
    if points is None:
        labels = [c.name for c in terr.communes]
        coords = [(s.lon, s.lat) for s in (terr.main_stop(c.insee) for c in terr.communes)]
    else:
        labels, coords = _read_points(points)
    with step("graph_load"):
        net = RoadNetwork.default()
    with step("matrices", n=len(coords)):
        dur, dist = net.matrices(coords, labels=labels, territory=terr)
    if fmt == "json":
        text = _json.dumps(
            {"labels": labels, "duration_s": dur.tolist(), "distance_m": dist.tolist()},
            ensure_ascii=False,
        )
    else:
        unit = "min" if what == "time" else "m"
        corner = f"de \\ vers ({unit})" if style == "excel" else f"from \\ to ({unit})"
        body = [
            [lab, *([round(x / 60, 1) for x in row] if what == "time" else [int(x) for x in row])]
            for lab, row in zip(labels, dur if what == "time" else dist, strict=True)
        ]
        text = table_text([corner, *labels], body, style)
    if out:
        out.write_bytes(text.encode("utf-8"))
        console.print(f"written to {out}")
    else:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()


def _read_points(path: Path) -> tuple[list[str], list[tuple[float, float]]]:
    from dispatcher.io.fields import to_float
    from dispatcher.io.tables import read_rows

    labels, coords = [], []
    for line, row in read_rows(path, ("lon", "lat")):
        try:
            lon, lat = to_float(row["lon"]), to_float(row["lat"])
        except ValueError:
            raise InputError(
                f"lon and lat must be numbers, got {row['lon']!r}, {row['lat']!r}",
                f"{path}: line {line}",
            ) from None
        labels.append(row.get("id") or row.get("name") or f"p{line - 1}")
        coords.append((lon, lat))
    return labels, coords


# --------------------------------------------------------------------------------------------
# plan, check, demo
# --------------------------------------------------------------------------------------------


POST_SOLVE_S = 0.15  # checking, writing and printing a plan, plus per request:
POST_SOLVE_S_PER_REQUEST = 0.0005
GEOJSON_S_PER_REQUEST = 0.001  # drawing the routes along the roads


def _solver_budget(problem: Any, limit_s: float, geojson: bool) -> Any:
    """The solver's parameters with the time left of the command's limit (counted from the
    start of the process), once the plan's checking and writing are set aside: the whole
    command ends within about the limit. A limit of 0 (a first plan only) stays 0."""
    from dataclasses import replace

    from dispatcher.clikit import process_started

    if limit_s <= 0:
        return problem.params
    n = len(problem.requests)
    after = POST_SOLVE_S + n * (
        POST_SOLVE_S_PER_REQUEST + (GEOJSON_S_PER_REQUEST if geojson else 0)
    )
    left = process_started() + limit_s - time.monotonic() - after
    return replace(problem.params, time_limit_s=max(0.05, left))


def _pseudonymised(
    problem: Any, plan: Any, network: Any, territory: Any, fares: Any = None
) -> tuple[Any, Any, Any]:
    """(problem, plan, GeoJSON) as a planner reads them (docs/privacy.md): no name or phone
    number, ids by pseudonyms under a random key of this run only, places made their commune."""
    from dispatcher.io.geojson import plan_to_geojson
    from dispatcher.io.plan import plan_to_dict
    from dispatcher.io.problem import problem_to_dict
    from dispatcher.service.privacy import (
        PRIVATE_KINDS,
        Communes,
        Pseudonyms,
        View,
        Viewer,
        lens_for,
        redact,
    )

    kinds = {v.id.partition("/")[0]: v.kind for v in problem.vehicles if v.kind in PRIVATE_KINDS}
    day = problem.day.isoformat() if problem.day else ""
    lens = lens_for(Viewer("planner"), Pseudonyms.fresh(), Communes(territory), day, kinds=kinds)
    lens.know(r.id for r in problem.requests)
    problem_d = redact(View.PROBLEM, problem_to_dict(problem), lens)
    plan_d = redact(View.PLAN, plan_to_dict(plan, problem, fares=fares), lens)
    drawn = plan_to_geojson(plan, lens.coarse_problem(problem), network)
    return problem_d, plan_d, redact(View.GEOJSON, drawn, lens)


def _solve_and_report(
    problem: Any,
    out: Path | None,
    geojson: Path | None,
    network: Any,
    offers: Any = (),
    volunteers: Any = (),
    pseudonymise_on: Any = None,
    lang: str = "fr",
    map_html: Path | None = None,
    territory: Any = None,
    fare_rules: Any = None,
) -> Any:
    from dispatcher.io.files import write_json
    from dispatcher.io.geojson import plan_to_geojson
    from dispatcher.io.plan import plan_to_dict
    from dispatcher.io.problem import problem_to_dict
    from dispatcher.solver import default_solver
    from dispatcher.solver.checker import check_plan

    limit = problem.params.effective_time_limit_s
    params = _solver_budget(problem, limit, geojson is not None)
    n, nv = len(problem.requests), len(problem.vehicles)
    seconds = f"{limit:g}".replace(".", ",") if lang == "fr" else f"{limit:g}"
    try:
        if offers or volunteers:
            from dispatcher.solver.mixed import plan_mixed

            with step(
                "planning_mixed",
                lang,
                n=n,
                nv=nv,
                vol=len(volunteers),
                off=len(offers),
                limit=seconds,
            ):
                problem, plan = plan_mixed(problem, offers, volunteers, params=params)
        else:
            with step("planning", lang, n=n, nv=nv, limit=seconds):
                plan = default_solver(params).solve(problem)
    except (DispatcherError, KeyboardInterrupt):
        raise
    except Exception as e:  # the engine broke, not the input: one line and exit code 5
        raise SolverError(f"the solver failed ({type(e).__name__}: {e})", "plan") from e
    with step("checking", lang):
        report = check_plan(problem, plan)
    fares = _fares_of(problem, plan, territory, fare_rules)
    _print_kpis(problem, plan, lang)
    _print_fare_kpis(fares["kpis"], lang)
    _print_rejections(problem, plan, lang)
    if pseudonymise_on is not None:
        with step("pseudonymising", lang):
            problem_d, plan_d, geo = _pseudonymised(problem, plan, network, pseudonymise_on, fares)
    else:
        problem_d, plan_d = problem_to_dict(problem), plan_to_dict(plan, problem, fares=fares)
        geo = None
    if out:
        write_json(out, plan_d)
        problem_path = out.with_name(out.stem + ".problem.json")
        write_json(problem_path, problem_d)
        console.print(
            f"plan écrit dans {out}, problème dans {problem_path}"
            if lang == "fr"
            else f"plan written to {out}, problem to {problem_path}"
        )
    if geojson:
        with step("drawing_roads", lang):
            write_json(geojson, geo if geo is not None else plan_to_geojson(plan, problem, network))
        console.print(
            f"GeoJSON écrit dans {geojson}" if lang == "fr" else f"GeoJSON written to {geojson}"
        )
    if map_html:
        from dispatcher.reports.map import write_plan_map

        with step("drawing_map", lang):
            write_plan_map(problem, plan, map_html, network, territory=territory, lang=lang)
        console.print(
            f"carte écrite dans {map_html}" if lang == "fr" else f"map written to {map_html}"
        )
    if report.ok:
        console.print(
            "[green]"
            + (
                "vérification : le plan respecte toutes les contraintes"
                if lang == "fr"
                else "checker: the plan satisfies every constraint"
            )
            + "[/]"
        )
    else:
        n_bad = len(report.violations)
        console.print(
            f"[red]vérification : {n_bad} contrainte(s) enfreinte(s)[/]"
            if lang == "fr"
            else f"[red]checker: {n_bad} violation(s)[/]"
        )
        for v in report.violations[:20]:
            console.print(f"  {v.code} {v.where}: {v.message}", highlight=False)
        raise typer.Exit(6)
    return plan


KPI_TITLE = {"fr": "Plan de la journée", "en": "Plan of the day"}
REFUSED_TITLE = {"fr": "Demandes refusées", "en": "Refused requests"}
HEADERS = {
    "fr": ("indicateur et définition", "valeur"),
    "en": ("indicator and definition", "value"),
}


def _print_kpis(problem: Any, plan: Any, lang: str = "fr") -> None:
    """The key figures, each with its definition (dispatcher/reports/kpi_labels.py); the
    solver's outcome in words below."""
    from rich.text import Text

    from dispatcher.reports.kpi_labels import kpi_rows

    t = Table(title=KPI_TITLE[lang])
    name, value = HEADERS[lang]
    t.add_column(name, ratio=1)
    t.add_column(value, justify="right", no_wrap=True)
    rows = kpi_rows(problem, plan, lang)
    for a, b, c in rows[:-2]:
        t.add_row(Text.assemble((a, "bold"), "\n", (c, "dim")), b)
    console.print(t)
    for a, b, _ in rows[-2:]:
        console.print(f"{a} : {b}" if lang == "fr" else f"{a}: {b}", highlight=False)


def _fares_of(problem: Any, plan: Any, territory: Any, rules: Any) -> Any:
    """The plan's ``fares`` section under the service's fare rules (None: the default)."""
    from dispatcher.fares import load_fare_rules
    from dispatcher.fares.plan import fares_section
    from dispatcher.fares.zones import territory_zones

    rules = rules if rules is not None else load_fare_rules()
    zone_of = territory_zones(territory) if territory is not None else None
    return fares_section(rules, problem, plan, zone_of)


FARE_KPI_NAMES: dict[str, tuple[str, str]] = {  # (French, English)
    "title": ("Tarifs", "Fares"),
    "indicator": ("indicateur", "indicator"),
    "value": ("valeur", "value"),
    "trips": ("trajets tarifés (véhicules du transporteur)", "trips priced (operator's vehicles)"),
    "revenue_cents": ("recettes", "revenue"),
    "subsidy_cents": ("subvention (coût - recettes)", "subsidy (cost - revenue)"),
    "subsidy_per_passenger_cents": ("subvention par voyageur", "subsidy per passenger"),
    "carpool_trips": ("trajets en covoiturage", "carpool trips"),
    "carpool_drivers_cents": (
        "versé aux conducteurs du covoiturage (participations + incitations)",
        "carpool drivers receive (contributions + incentives)",
    ),
}


def _print_fare_kpis(k: Any, lang: str = "fr") -> None:
    from dispatcher.fares import euros

    def name(key: str) -> str:
        fr, en = FARE_KPI_NAMES[key]
        return fr if lang == "fr" else en

    t = Table(title=name("title"))
    t.add_column(name("indicator"))
    t.add_column(name("value"), justify="right")
    for key in FARE_KPI_NAMES:
        if key in k:
            v = k[key]
            t.add_row(name(key), euros(v) if key.endswith("_cents") else f"{v}")
    console.print(t)


def _print_rejections(problem: Any, plan: Any, lang: str = "fr") -> None:
    if not plan.rejections:
        return
    t = Table(title=REFUSED_TITLE[lang])
    t.add_column("demande" if lang == "fr" else "request")
    t.add_column("motif" if lang == "fr" else "reason")
    for j in plan.rejections:
        t.add_row(j.request_id, j.message if lang == "fr" or not j.message_en else j.message_en)
    console.print(t)


@app.command("plan")
@handle_errors
def plan_cmd(
    requests: Annotated[Path, typer.Argument(help="Requests, CSV or JSON.")],
    fleet: Annotated[Path, typer.Option(help="Fleet, CSV or JSON.")],
    day: Annotated[str, typer.Option(help="Service day, YYYY-MM-DD.")],
    time_limit: Annotated[
        float,
        typer.Option(
            help="Time limit in seconds for the whole command (reading, planning, checking, "
            "writing); 0: the first plan only."
        ),
    ] = 10.0,
    params_file: Annotated[
        Path | None,
        typer.Option(
            "--params", help="Solver parameters (TOML or JSON, e.g. from dispatcher tune)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Solver seed.")] = 0,
    out: Annotated[Path, typer.Option(help="Plan JSON (the problem is written beside it).")] = Path(
        "plan.json"
    ),
    geojson: Annotated[Path | None, typer.Option(help="Also write the routes as GeoJSON.")] = None,
    territory: Annotated[
        str | None,
        typer.Option(
            help="Intercommunalities (keys or SIREN, comma separated; 'all'); default: the "
            "service's."
        ),
    ] = None,
    service: ServiceFile = None,
    carpool: Annotated[
        Path | None,
        typer.Option(help="Carpool offers, CSV or JSON: planned together with the fleet."),
    ] = None,
    volunteers: Annotated[
        Path | None,
        typer.Option(help="Volunteer drivers, CSV or JSON: planned together with the fleet."),
    ] = None,
    geocoder: Annotated[
        str | None,
        typer.Option(
            help="Postal addresses as places: offline (the road data's addresses and streets, "
            "else the commune's main stop; the default), ban:URL (the French national address "
            "base's API) or nominatim:URL; default $DISPATCHER_GEOCODER."
        ),
    ] = None,
    pseudonymise: Annotated[
        bool,
        typer.Option(
            help="Write the planners' copy: no names or phone numbers, ids pseudonymised with a "
            "key of this run only, places made their commune (the default writes the operator's "
            "own working files, which the driver manifests need)."
        ),
    ] = False,
    lang: Lang = "fr",
) -> None:
    """Plan a day: requests and fleet in, routes and refusals (with reasons) out, checked.
    With --carpool and/or --volunteers, one mixed dispatch over every mode."""
    from dispatcher.graph import RoadNetwork
    from dispatcher.graph.geocode import geocoder_from_spec
    from dispatcher.io.mobility import mixed_from_dicts
    from dispatcher.io.tables import load_fleet, load_list, load_requests
    from dispatcher.service_config import load_service

    lang = check_lang(lang)
    service_day = _parse_day(day)
    svc = load_service(service)
    rules = svc.service_rules(service_day, where="--day")  # a day without service stops here
    reqs, vehs = load_requests(requests), load_fleet(fleet)
    offer_rows = load_list(carpool, "offers") if carpool else []
    volunteer_rows = load_list(volunteers, "volunteers") if volunteers else []
    terr = _territory(territory, svc)
    with step("graph_load", lang):
        net = RoadNetwork.default()
    places = geocoder_from_spec(geocoder, net, terr)
    with step("placing", lang):
        problem, offers, vols = mixed_from_dicts(
            reqs,
            vehs,
            offer_rows,
            volunteer_rows,
            terr,
            net,
            day=service_day,
            timezone=svc.timezone,
            rules=rules,
            params=_params(params_file, time_limit, seed),
            name=str(requests),
            geocoder=places,
        )
    _solve_and_report(
        problem,
        out,
        geojson,
        net,
        offers,
        vols,
        terr if pseudonymise else None,
        lang=lang,
        territory=terr,
        fare_rules=svc.fares,
    )


@app.command("check")
@handle_errors
def check_cmd(
    problem: Annotated[Path, typer.Argument(help="Problem JSON.")],
    plan: Annotated[Path, typer.Argument(help="Plan JSON.")],
) -> None:
    """Check a plan against its problem, independently of the solver; name every violation."""
    from dispatcher.io.files import load_plan, load_problem
    from dispatcher.solver.checker import check_plan

    p = load_problem(problem)
    report = check_plan(p, load_plan(plan, p))
    if report.ok:
        console.print(report.summary())
        return
    for v in report.violations:
        console.print(f"{v.code}\t{v.where}\t{v.message}", highlight=False, soft_wrap=True)
    err_console.print(f"{len(report.violations)} violation(s)")
    raise typer.Exit(6)


@app.command("simulate")
@handle_errors
def simulate_cmd(
    day_or_plan: Annotated[
        Path | None,
        typer.Argument(
            help="A plan JSON (its problem beside it, as `dispatcher plan` writes them: "
            "PLAN.problem.json), or a folder holding plan.json and plan.problem.json."
        ),
    ] = None,
    problem: Annotated[Path | None, typer.Option(help="Problem JSON (with --plan).")] = None,
    plan: Annotated[Path | None, typer.Option(help="Plan JSON (with --problem).")] = None,
    seeds: Annotated[str, typer.Option(help="Seeds, comma separated (one run each).")] = "0",
    noise: Annotated[
        float, typer.Option(help="Log-standard deviation of the lognormal factor per leg.")
    ] = 0.10,
    no_show: Annotated[float, typer.Option(help="Probability that a rider is not there.")] = 0.05,
    breakdowns: Annotated[int, typer.Option(help="Vehicles that break down in the day.")] = 0,
    replan: Annotated[
        str, typer.Option(help="Re-planning after events: yes, no, or both (side by side).")
    ] = "both",
    lang: Lang = "fr",
) -> None:
    """Replay a planned day event by event (stochastic travel times, no-shows, breakdowns),
    through the service's event handling, and measure what the riders live: promises kept,
    lateness, refusals after a promise, extra kilometres. Seeded and reproducible."""
    from dispatcher.errors import InputError
    from dispatcher.io.files import load_plan, load_problem
    from dispatcher.simulate import SimParams, print_table, simulate

    if problem is not None and plan is not None:
        problem_path, plan_path = problem, plan
    elif day_or_plan is not None:
        plan_path = day_or_plan / "plan.json" if day_or_plan.is_dir() else day_or_plan
        problem_path = plan_path.with_name(plan_path.stem + ".problem.json")
    else:
        raise InputError("give a plan (or a day folder), or --problem and --plan", "arguments")
    lang = check_lang(lang)
    if replan not in ("yes", "no", "both"):
        raise InputError(f"--replan is yes, no or both, got {replan!r}", "--replan")
    try:
        runs = [int(x) for x in seeds.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"seeds are integers, got {seeds!r}", "--seeds") from None
    p = load_problem(problem_path)
    q = load_plan(plan_path, p)
    modes = {"yes": [True], "no": [False], "both": [False, True]}[replan]
    rows = []
    for seed in runs:
        for mode in modes:
            with step("simulating_on" if mode else "simulating_off", lang, seed=seed):
                sp = SimParams(seed, noise, no_show, breakdowns, mode)
                rows.append(simulate(p, q, sp).row())
    console.print(print_table(rows, lang), highlight=False, soft_wrap=True)


@app.command("demo")
@handle_errors
def demo(
    requests: Annotated[int, typer.Option(help="Number of requests to generate.")] = 120,
    vehicles: Annotated[int, typer.Option(help="Vehicles in the fleet.")] = 6,
    wheelchair: Annotated[int, typer.Option(help="Of which wheelchair-equipped.")] = 2,
    carpool_offers: Annotated[
        int,
        typer.Option(
            help="Commuters' carpool offers towards Albert and Méaulte (0: minibuses only)."
        ),
    ] = 15,
    seed: Annotated[int, typer.Option(help="Seed of the demand and the solver.")] = 1,
    time_limit: Annotated[
        float, typer.Option(help="Time limit in seconds for the whole command.")
    ] = 10.0,
    params_file: Annotated[
        Path | None,
        typer.Option(
            "--params", help="Solver parameters (TOML or JSON, e.g. from dispatcher tune)."
        ),
    ] = None,
    day: Annotated[str, typer.Option(help="Service day, YYYY-MM-DD.")] = "2026-12-01",
    out: Annotated[
        Path, typer.Option(help="Folder for plan.json, problem, routes.geojson and map.html.")
    ] = Path("out/demo"),
    lang: Lang = "fr",
    service: ServiceFile = None,
) -> None:
    """A realistic day on the Pays du Coquelicot (minibuses and a morning of commuters' carpool
    offers), planned on the default graph and checked."""
    from dispatcher.demand import generate_carpool_offers, generate_fleet, generate_requests
    from dispatcher.graph import RoadNetwork
    from dispatcher.io.mobility import mixed_from_dicts
    from dispatcher.service_config import load_service

    lang = check_lang(lang)
    svc = load_service(service)
    service_day = _parse_day(day)
    rules = svc.service_rules(service_day, where="--day")  # a day without service stops here
    hours = (rules.service_hours.start_s, rules.service_hours.end_s)
    terr = _territory(None, svc)
    with step("graph_load_of", lang, territory=terr.name):
        net = RoadNetwork.default()
    reqs = generate_requests(terr, requests, seed=seed, day_start_s=hours[0], day_end_s=hours[1])
    fleet = generate_fleet(terr, vehicles, wheelchair, seed=seed, shift=hours)
    offer_rows = generate_carpool_offers(terr, carpool_offers, seed=seed)
    with step("placing_n", lang, n=len(reqs)):
        problem, offers, _ = mixed_from_dicts(
            reqs,
            fleet,
            offer_rows,
            [],
            terr,
            net,
            day=service_day,
            timezone=svc.timezone,
            rules=rules,
            params=_params(params_file, time_limit, seed),
            name="demo",
        )
    out.mkdir(parents=True, exist_ok=True)
    _solve_and_report(
        problem,
        out / "plan.json",
        out / "routes.geojson",
        net,
        offers=offers,
        lang=lang,
        map_html=out / "map.html",
        territory=terr,
        fare_rules=svc.fares,
    )


def _register_sub_apps() -> None:
    """Commands that live beside their code: reports and scenarios, the server, keys and
    database."""
    from dispatcher.api.cli import register as register_api
    from dispatcher.reports.cli import report_app, scenario_app
    from dispatcher.tuning.cli import register as register_tune

    app.add_typer(report_app, name="report")
    app.add_typer(scenario_app, name="scenario")
    register_api(app)
    register_tune(app)


_register_sub_apps()

if __name__ == "__main__":  # pragma: no cover
    app()
