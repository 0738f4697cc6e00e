"""Planners' scenarios: variants of territory, demand, fleet and service rules, crossed with
demand seeds, each planned with a time limit and checked, summed up in one table.

A scenario file (TOML) has a ``base`` and a list of ``variants`` that override it key by key
(see ``examples/scenarios/coquelicot.toml``)::

    name = "Pays du Coquelicot"
    day = 2026-12-01
    seeds = [1, 2]
    time_limit_s = 5
    reach_minutes = 20          # equity: population whose stop reaches a hub within this time

    [base]
    territory = ["coquelicot"]
    demand = { requests = 60, wheelchair_share = 0.05 }
    fleet = { vehicles = 4, wheelchair = 1 }
    rules = { ride_alpha = 1.5, ride_beta_min = 10, service_hours = ["07:00", "19:00"] }

    [[variants]]
    name = "pilot, 4 vehicles"

    [[variants]]
    name = "pilot and neighbours"
    territory = ["coquelicot", "val-de-somme", "haute-somme", "amiens"]
    demand.requests = 150
    fleet.vehicles = 10

    [[variants]]
    name = "pilot, 4 vehicles and carpool"
    carpool = { offers = 30 }   # commuters' offers towards Albert and Méaulte, mixed dispatch

    [[variants]]
    name = "pilot, 4 vehicles, the day lived"
    simulate = { noise = 0.10, no_show = 0.05 }   # the day simulator on each planned day

Demand may include regular weekly trips (``demand.recurring_share``, see
:func:`dispatcher.demand.recurring_requests`) of ``demand.weekday`` (0 = Monday .. 6 =
Sunday; by default the weekday of ``day``). A variant with ``carpool.offers`` > 0 is planned
with the mixed dispatch (:func:`dispatcher.solver.mixed.plan_mixed`: minibuses, volunteers and
the commuters' carpool offers of :func:`dispatcher.demand.generate_carpool_offers`) and checked
against the mixed problem; the table gives each mode's share, the car-km avoided and the CO2
saved (against every rider driving alone) for every run. A variant with a ``simulate`` table
(``noise``, ``no_show``, ``breakdowns``, ``replan``, ``enabled``; the defaults of
:class:`SimulateSpec`) has each planned day lived by the day simulator
(:func:`dispatcher.simulate.simulate`, seeded with the demand's seed): the share of promises
kept, the lateness beyond the promise, the refusals after a promise and the km beyond the plan
are its ``sim_*`` figures.

The service configuration (:mod:`dispatcher.service_config`, ``--service FILE`` or
``DISPATCHER_SERVICE``) gives the default territory and the default service hours (those of
the scenario's day, or the week's span without a day); a day, or a ``demand.weekday``, without
service is refused, saying why.

Every error names the key, e.g. ``variants[2].fleet.vehicles: must be an integer >= 0``.

Runs go to a Dask cluster with ``scheduler="tcp://host:port"`` (``distributed.Client``, from the
optional ``tune`` extra: ``pip install "dispatcher[tune]"``), to local processes otherwise
(``concurrent.futures.ProcessPoolExecutor``, ``workers`` at most, one run in-process when
``workers`` is 1). Each run is a pure function of its :class:`RunSpec`, so
results do not depend on where it ran (up to the solver's time limit).
"""

from __future__ import annotations

import math
import os
import random
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from datetime import time as dtime
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dispatcher.errors import InputError, NoServiceError
from dispatcher.model import ServiceRules, TimeWindow
from dispatcher.service_config import WEEKDAY_KEYS, ServiceConfig, load_service

# --------------------------------------------------------------------------------------------
# Specification
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemandSpec:
    requests: int = 60
    wheelchair_share: float = 0.05
    appointment_share: float = 0.3
    return_share: float = 0.3
    hub_share: float = 0.8
    pickup_window_min: int = 15
    recurring_share: float = 0.0  # regular weekly trips (dialysis, market day, weekly activity)
    weekday: int | None = None  # 0 = Monday .. 6 = Sunday; None: the weekday of the scenario's day


@dataclass(frozen=True)
class FleetSpec:
    """Minibuses (``wheelchair`` of them accessible) at the hubs, and ``volunteers`` volunteer
    drivers' cars (3 seats, mileage allowance only) living in villages drawn by population."""

    vehicles: int = 4
    wheelchair: int = 1
    volunteers: int = 0
    shift: tuple[int, int] | None = None  # default: the service hours
    break_window: tuple[int, int] = (11 * 3600 + 1800, 14 * 3600)
    break_min: int = 45
    cost_per_km: float = 0.5
    cost_per_hour: float = 25.0
    volunteer_cost_per_km: float = 0.35


@dataclass(frozen=True)
class CarpoolSpec:
    """``offers`` commuters' carpool offers towards Albert and Méaulte (none: no carpool), the
    public incentive per passenger-km, and the mixed dispatch's strategy ("staged" or "joint")."""

    offers: int = 0
    incentive_per_passenger_km: float = 0.10
    strategy: str = "staged"


@dataclass(frozen=True)
class SimulateSpec:
    """The planned day lived by the day simulator (:mod:`dispatcher.simulate`) when
    ``enabled`` (a variant with a ``simulate`` table): travel-time noise (lognormal
    log-standard deviation), the no-show rate, breakdowns, re-planning after events."""

    enabled: bool = False
    noise: float = 0.10
    no_show: float = 0.05
    breakdowns: int = 0
    replan: bool = True


@dataclass(frozen=True)
class Variant:
    name: str
    territory: tuple[str, ...]
    demand: DemandSpec
    fleet: FleetSpec
    rules: ServiceRules
    carpool: CarpoolSpec = CarpoolSpec()
    simulate: SimulateSpec = SimulateSpec()


@dataclass(frozen=True)
class Scenario:
    name: str
    variants: tuple[Variant, ...]
    seeds: tuple[int, ...] = (1,)
    time_limit_s: float = 5.0
    reach_minutes: float = 20.0
    day: date | None = None
    source: str = ""
    fares: Any = None  # FareRules: the service configuration's (None: the embedded default)


@dataclass(frozen=True)
class RunSpec:
    """One run: a variant with one demand seed (picklable, sent to workers)."""

    index: int  # of the variant in the scenario
    variant: Variant
    seed: int
    time_limit_s: float
    reach_minutes: float
    day: date | None
    fares: Any = None  # FareRules (None: the embedded default)


@dataclass
class RunResult:
    spec: RunSpec
    row: dict[str, Any]
    communes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ScenarioResult:
    scenario: Scenario
    runs: list[RunResult]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [r.row for r in self.runs]

    @property
    def commune_rows(self) -> list[dict[str, Any]]:
        return [c for r in self.runs for c in r.communes]


# --------------------------------------------------------------------------------------------
# Parsing (strict: every key known, every type checked, every error names its key)
# --------------------------------------------------------------------------------------------

TOP_KEYS = ("name", "day", "seeds", "time_limit_s", "reach_minutes", "base", "variants")
VARIANT_KEYS = ("name", "territory", "demand", "fleet", "rules", "carpool", "simulate")
BASE_KEYS = ("territory", "demand", "fleet", "rules", "carpool", "simulate")


def _fail(where: str, message: str) -> InputError:
    return InputError(message, where)


def _int(v: Any, where: str, low: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise _fail(where, f"must be an integer >= {low}, got {v!r}")
    return v


def _num(
    v: Any, where: str, low: float = 0.0, high: float = math.inf, strict_low: bool = False
) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise _fail(where, f"must be a number, got {v!r}")
    if v < low or v > high or (strict_low and v == low):
        bound = f"> {low:g}" if strict_low else f">= {low:g}"
        raise _fail(
            where,
            f"must be {bound}" + (f" and <= {high:g}" if high != math.inf else "") + f", got {v!r}",
        )
    return float(v)


def _share(v: Any, where: str) -> float:
    return _num(v, where, 0.0, 1.0)


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise _fail(where, f"must be true or false, got {v!r}")
    return v


def _str(v: Any, where: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _fail(where, f"must be a non-empty string, got {v!r}")
    return v.strip()


def _clock(v: Any, where: str) -> int:
    """A time of day: "HH:MM", a TOML local time, or integer seconds."""
    from dispatcher.io.times import parse_time

    if isinstance(v, dtime):
        return v.hour * 3600 + v.minute * 60 + v.second
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        if isinstance(v, str) and "T" in v:
            raise _fail(where, f'give a time of day such as "07:30", got {v!r}')
        return parse_time(v, where)
    raise _fail(where, f'must be a time of day such as "07:30", got {v!r}')


def _weekday(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 6:
        raise _fail(where, f"must be a weekday number, 0 = Monday .. 6 = Sunday, got {v!r}")
    return v


def _strategy(v: Any, where: str) -> str:
    if v not in ("staged", "joint"):
        raise _fail(where, f'must be "staged" or "joint", got {v!r}')
    return str(v)


def _hours(v: Any, where: str) -> tuple[int, int]:
    if not isinstance(v, list) or len(v) != 2:
        raise _fail(where, f'must be [start, end] such as ["07:00", "19:00"], got {v!r}')
    a, b = _clock(v[0], f"{where}[0]"), _clock(v[1], f"{where}[1]")
    if b <= a:
        raise _fail(where, "ends before it starts")
    return a, b


Field = Callable[[Any, str], Any]
DEMAND_FIELDS: dict[str, Field] = {
    "requests": lambda v, w: _int(v, w, 1),
    "wheelchair_share": _share,
    "appointment_share": _share,
    "return_share": _share,
    "hub_share": _share,
    "pickup_window_min": lambda v, w: _int(v, w, 1),
    "recurring_share": _share,
    "weekday": _weekday,
}
FLEET_FIELDS: dict[str, Field] = {
    "vehicles": lambda v, w: _int(v, w, 0),
    "wheelchair": lambda v, w: _int(v, w, 0),
    "volunteers": lambda v, w: _int(v, w, 0),
    "shift": _hours,
    "break_window": _hours,
    "break_min": lambda v, w: _int(v, w, 0),
    "cost_per_km": lambda v, w: _num(v, w),
    "cost_per_hour": lambda v, w: _num(v, w),
    "volunteer_cost_per_km": lambda v, w: _num(v, w),
}
RULES_FIELDS: dict[str, Field] = {
    "ride_alpha": lambda v, w: _num(v, w, 1.0),
    "ride_beta_min": lambda v, w: _num(v, w),
    "max_detour_min": lambda v, w: _num(v, w),
    "boarding_min": lambda v, w: _num(v, w),
    "alighting_min": lambda v, w: _num(v, w),
    "service_hours": _hours,
}
CARPOOL_FIELDS: dict[str, Field] = {
    "offers": lambda v, w: _int(v, w, 0),
    "incentive_per_passenger_km": lambda v, w: _num(v, w),
    "strategy": _strategy,
}
SIMULATE_FIELDS: dict[str, Field] = {
    "enabled": lambda v, w: _bool(v, w),
    "noise": lambda v, w: _num(v, w, 0.0, 2.0),
    "no_show": _share,
    "breakdowns": lambda v, w: _int(v, w, 0),
    "replan": lambda v, w: _bool(v, w),
}
SECTIONS: dict[str, dict[str, Field]] = {
    "demand": DEMAND_FIELDS,
    "fleet": FLEET_FIELDS,
    "rules": RULES_FIELDS,
    "carpool": CARPOOL_FIELDS,
    "simulate": SIMULATE_FIELDS,
}


def _table(v: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise _fail(where, f"must be a table, got {type(v).__name__}")
    return v


def _known(d: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        label = f"{where}.{unknown[0]}" if where else unknown[0]
        raise _fail(label, f"unknown key; expected one of {', '.join(allowed)}")


def _section(raw: Any, name: str, where: str) -> dict[str, Any]:
    """Check one demand/fleet/rules table; return its parsed values."""
    t = _table(raw, where)
    _known(t, tuple(SECTIONS[name]), where)
    return {k: SECTIONS[name][k](v, f"{where}.{k}") for k, v in t.items()}


def _territory(v: Any, where: str) -> tuple[str, ...]:
    from dispatcher.territory import Territory

    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items:
        raise _fail(
            where, f'must be a list of intercommunality keys such as ["coquelicot"], got {v!r}'
        )
    keys = tuple(_str(x, f"{where}[{k}]") for k, x in enumerate(items))
    try:
        Territory.load(keys)
    except InputError as e:
        raise InputError(e.message, where) from None
    return keys


def _partial(raw: Any, where: str, keys: Sequence[str]) -> dict[str, Any]:
    t = _table(raw, where)
    _known(t, keys, where)
    out: dict[str, Any] = {}
    for k, v in t.items():
        w = f"{where}.{k}" if where else k
        if k == "name":
            out[k] = _str(v, w)
        elif k == "territory":
            out[k] = _territory(v, w)
        else:
            out[k] = _section(v, k, w)
    return out


def _variant(
    base: Mapping[str, Any],
    own: Mapping[str, Any],
    k: int,
    day: date | None = None,
    service: ServiceConfig | None = None,
) -> Variant:
    where = f"variants[{k}]"
    svc = service or load_service()
    merged = {s: {**base.get(s, {}), **own.get(s, {})} for s in SECTIONS}
    territory = own.get("territory", base.get("territory", svc.territory))
    r = merged["rules"]
    weekday = merged["demand"].get("weekday")
    if day is None and weekday is not None and weekday not in svc.hours:
        raise _fail(
            f"{where}.demand.weekday",
            f"the service has no service on {WEEKDAY_KEYS[weekday].capitalize()}s "
            f"(service configuration {Path(svc.source).name})",
        )
    default_hours = svc.hours_span if day is None else svc.hours[day.weekday()]
    hours = r.get("service_hours", (default_hours.start_s, default_hours.end_s))
    try:
        rules = ServiceRules(
            ride_alpha=r.get("ride_alpha", 1.5),
            ride_beta_s=int(round(r.get("ride_beta_min", 10.0) * 60)),
            max_detour_s=int(round(r.get("max_detour_min", 30.0) * 60)),
            boarding_s=int(round(r.get("boarding_min", 1.0) * 60)),
            alighting_s=int(round(r.get("alighting_min", 1.0) * 60)),
            service_hours=TimeWindow(*hours),
        )
    except InputError as e:
        raise InputError(e.message, f"{where}.{e.where}") from None
    demand = DemandSpec(**merged["demand"])
    fleet = FleetSpec(**merged["fleet"])
    carpool = CarpoolSpec(**merged["carpool"])
    given = "simulate" in base or "simulate" in own  # a simulate table: the day is lived
    simulate = SimulateSpec(**{"enabled": given, **merged["simulate"]})
    if simulate.enabled and carpool.offers:
        raise _fail(
            f"{where}.simulate",
            "the day simulator drives minibuses and volunteers; not a day with carpool offers",
        )
    if fleet.wheelchair > fleet.vehicles:
        raise _fail(
            f"{where}.fleet.wheelchair",
            f"{fleet.wheelchair} wheelchair vehicles out of {fleet.vehicles}",
        )
    if fleet.vehicles + fleet.volunteers == 0:
        raise _fail(f"{where}.fleet.vehicles", "a fleet needs at least one vehicle or volunteer")
    if demand.recurring_share > 0 and demand.weekday is None and day is None:
        raise _fail(
            f"{where}.demand.weekday",
            "recurring trips need a weekday (0 = Monday .. 6 = Sunday) or the scenario's day",
        )
    if carpool.offers:
        from dispatcher.demand import COMMUTE_TOWNS
        from dispatcher.territory import Territory

        insees = {c.insee for c in Territory.load(tuple(territory)).communes}
        if not any(t in insees for t, _ in COMMUTE_TOWNS):
            raise _fail(
                f"{where}.carpool.offers",
                "the commuters drive to Albert or Méaulte: "
                "the territory needs the pilot (coquelicot)",
            )
    bw = fleet.break_window
    if fleet.break_min and bw[1] - bw[0] < fleet.break_min * 60:
        raise _fail(f"{where}.fleet.break_window", "is shorter than the break")
    if hours[1] - hours[0] < demand.pickup_window_min * 60 + 3600:
        raise _fail(
            f"{where}.rules.service_hours", "must last at least the pickup window plus one hour"
        )
    name = own.get("name") or f"variant {k + 1}"
    return Variant(
        name=name,
        territory=tuple(territory),
        demand=demand,
        fleet=fleet,
        rules=rules,
        carpool=carpool,
        simulate=simulate,
    )


def scenario_from_dict(
    d: Mapping[str, Any], source: str = "", service: ServiceConfig | None = None
) -> Scenario:
    """A Scenario from the parsed TOML (or any dict of the same shape). The service
    configuration (default: :func:`~dispatcher.service_config.load_service`) gives the default
    territory and service hours, and refuses a day without service."""
    _table(d, "scenario")
    _known(d, TOP_KEYS, "")
    name = _str(d["name"], "name") if "name" in d else (Path(source).stem if source else "scenario")
    day: date | None = None
    if "day" in d:
        v = d["day"]
        if isinstance(v, datetime):
            raise _fail("day", f"must be a date (YYYY-MM-DD), got {v!r}")
        if isinstance(v, date):
            day = v
        elif isinstance(v, str):
            try:
                day = date.fromisoformat(v)
            except ValueError:
                raise _fail("day", f"must be a date (YYYY-MM-DD), got {v!r}") from None
        else:
            raise _fail("day", f"must be a date (YYYY-MM-DD), got {v!r}")
    seeds: tuple[int, ...] = (1,)
    if "seeds" in d:
        if not isinstance(d["seeds"], list) or not d["seeds"]:
            raise _fail("seeds", f"must be a non-empty list of integers, got {d['seeds']!r}")
        seeds = tuple(_int(s, f"seeds[{k}]") for k, s in enumerate(d["seeds"]))
        if len(set(seeds)) != len(seeds):
            raise _fail("seeds", "has duplicates")
    time_limit = (
        _num(d["time_limit_s"], "time_limit_s", 0.0, strict_low=True)
        if "time_limit_s" in d
        else 5.0
    )
    reach = (
        _num(d["reach_minutes"], "reach_minutes", 0.0, strict_low=True)
        if "reach_minutes" in d
        else 20.0
    )
    svc = service or load_service()
    if day is not None:
        svc.check_day(day, "day")
    base = _partial(d.get("base", {}), "base", BASE_KEYS)
    raw_variants = d.get("variants", [{}])
    if not isinstance(raw_variants, list) or not raw_variants:
        raise _fail("variants", "must be a non-empty array of tables ([[variants]])")
    variants = [
        _variant(base, _partial(v, f"variants[{k}]", VARIANT_KEYS), k, day, svc)
        for k, v in enumerate(raw_variants)
    ]
    names = [v.name for v in variants]
    for k, n in enumerate(names):
        if names.index(n) != k:
            raise _fail(f"variants[{k}].name", f"duplicate variant name {n!r}")
    return Scenario(
        name=name,
        variants=tuple(variants),
        seeds=seeds,
        time_limit_s=time_limit,
        reach_minutes=reach,
        day=day,
        source=source,
        fares=svc.fares,
    )


def load_scenario(path: str | Path, service: ServiceConfig | None = None) -> Scenario:
    """Read and check a scenario TOML file (under ``service``, see :func:`scenario_from_dict`);
    errors name the file and the key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("scenario file not found", str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read: {e}", str(p)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"invalid TOML: {e}", str(p)) from None
    try:
        return scenario_from_dict(data, str(p), service)
    except NoServiceError as e:
        raise NoServiceError(e.message, f"{p}: {e.where}", e.day, e.reason) from None
    except InputError as e:
        from dispatcher.io.files import toml_line

        line = toml_line(text, e.where) if e.where else None
        at = f"{p}: line {line}: {e.where}" if line else f"{p}: {e.where}" if e.where else str(p)
        raise InputError(e.message, at) from None


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------


def run_specs(scenario: Scenario) -> list[RunSpec]:
    """One run per variant and seed, priced by the fare rules of the scenario's service
    configuration (read once with it, so that workers need not read a file)."""
    from dispatcher.fares import load_fare_rules

    rules = scenario.fares if scenario.fares is not None else load_fare_rules()
    return [
        RunSpec(
            index=k,
            variant=v,
            seed=s,
            time_limit_s=scenario.time_limit_s,
            reach_minutes=scenario.reach_minutes,
            day=scenario.day,
            fares=rules,
        )
        for k, v in enumerate(scenario.variants)
        for s in scenario.seeds
    ]


def volunteer_fleet(
    territory: Any, n: int, seed: int, shift: tuple[int, int], cost_per_km: float
) -> list[dict[str, Any]]:
    """``n`` volunteer drivers' cars (3 seats) at the main stops of villages drawn by population."""
    rng = random.Random(f"dispatcher.volunteers:{seed}")
    communes = list(territory.communes)
    weights = [max(c.population, 1) for c in communes]
    out = []
    for i in range(n):
        c = rng.choices(communes, weights)[0]
        stop = territory.main_stop(c.insee).id
        out.append(
            {
                "id": f"b{i + 1:02d}",
                "start": stop,
                "end": stop,
                "shift": [shift[0], shift[1]],
                "seats": 3,
                "wheelchairs": 0,
                "kind": "volunteer",
                "cost_per_km": cost_per_km,
                "cost_per_hour": 0.0,
            }
        )
    return out


@lru_cache(maxsize=8)
def reach_share(territory_keys: tuple[str, ...], minutes: float) -> float:
    """Share of the population whose commune's main stop reaches a hub of the territory within
    ``minutes`` on the road network (hub communes count as reached)."""
    from dispatcher.graph import RoadNetwork
    from dispatcher.territory import Territory

    terr = Territory.load(territory_keys)
    stops = [terr.main_stop(c.insee) for c in terr.communes]
    hub_ids = {h.id for h in terr.hubs}
    hub_cols = [k for k, s in enumerate(stops) if s.id in hub_ids or terr.is_hub(s.insee)]
    if not hub_cols:
        return 0.0
    dur, _ = RoadNetwork.default().matrices(
        [(s.lon, s.lat) for s in stops], labels=[s.id for s in stops], territory=terr
    )
    limit = minutes * 60
    reached = sum(
        c.population
        for k, c in enumerate(terr.communes)
        if min(int(dur[k][j]) for j in hub_cols) <= limit
    )
    return reached / max(terr.population, 1)


def run_one(spec: RunSpec) -> RunResult:
    """Generate the demand and fleet, plan with the time limit, check, and measure (pure
    function)."""
    from dispatcher.demand import generate_carpool_offers, generate_fleet, generate_requests
    from dispatcher.fares import load_fare_rules
    from dispatcher.fares.plan import fare_kpis, plan_fares
    from dispatcher.fares.zones import territory_zones
    from dispatcher.graph import RoadNetwork
    from dispatcher.io.mobility import mixed_from_dicts
    from dispatcher.io.problem import problem_from_dicts
    from dispatcher.model import SolverParams
    from dispatcher.solver import default_solver
    from dispatcher.solver.checker import check_plan
    from dispatcher.solver.kpis import MODES, compare_with_baselines
    from dispatcher.solver.mixed import ModeCosts, plan_mixed
    from dispatcher.territory import Territory

    v = spec.variant
    terr = Territory.load(v.territory)
    hours = (v.rules.service_hours.start_s, v.rules.service_hours.end_s)
    shift = v.fleet.shift or hours
    weekday = (
        v.demand.weekday
        if v.demand.weekday is not None
        else (spec.day.weekday() if spec.day else None)
    )
    reqs = generate_requests(
        terr,
        v.demand.requests,
        seed=spec.seed,
        wheelchair_share=v.demand.wheelchair_share,
        appointment_share=v.demand.appointment_share,
        return_share=v.demand.return_share,
        hub_share=v.demand.hub_share,
        day_start_s=hours[0],
        day_end_s=hours[1],
        pickup_window_s=v.demand.pickup_window_min * 60,
        recurring_share=v.demand.recurring_share if weekday is not None else 0.0,
        weekday=weekday,
    )
    fleet: list[dict[str, Any]] = []
    if v.fleet.vehicles:
        fleet = generate_fleet(
            terr,
            v.fleet.vehicles,
            v.fleet.wheelchair,
            seed=spec.seed,
            shift=shift,
            break_window=v.fleet.break_window,
            break_s=max(v.fleet.break_min * 60, 1),
        )
        for f in fleet:
            f["cost_per_km"], f["cost_per_hour"] = v.fleet.cost_per_km, v.fleet.cost_per_hour
            if not v.fleet.break_min:
                f["breaks"] = []
    fleet += volunteer_fleet(
        terr, v.fleet.volunteers, spec.seed, shift, v.fleet.volunteer_cost_per_km
    )
    net = RoadNetwork.default()
    common: dict[str, Any] = {
        "day": spec.day,
        "rules": v.rules,
        "params": SolverParams(time_limit_s=spec.time_limit_s, seed=spec.seed),
        "name": f"{v.name} / seed {spec.seed}",
    }
    if v.carpool.offers:
        offers = generate_carpool_offers(terr, v.carpool.offers, seed=spec.seed)
        base, offs, vols = mixed_from_dicts(reqs, fleet, offers, [], terr, net, **common)
        problem, plan = plan_mixed(
            base,
            offs,
            vols,
            ModeCosts(carpool_per_passenger_km=v.carpool.incentive_per_passenger_km),
            strategy="joint" if v.carpool.strategy == "joint" else "staged",
        )
    else:
        problem = problem_from_dicts(reqs, fleet, terr, net, **common)
        plan = default_solver().solve(problem)
    report = check_plan(problem, plan)
    lived = _lived(problem, plan, v.simulate, spec.seed)
    k = plan.kpis
    b = compare_with_baselines(problem, plan.routes)
    fk = fare_kpis(
        plan_fares(spec.fares or load_fare_rules(), problem, plan, territory_zones(terr)),
        k.cost_eur,
    )

    # equity: refusals per commune (of the pickup) and per need
    stop_commune = {s.id: s.insee for s in terr.stops}
    names = {c.insee: c.name for c in terr.communes}
    refused = set(plan.refused_ids)
    per_commune: dict[str, list[int]] = {}
    need = {"wheelchair": [0, 0], "other": [0, 0]}
    for r in problem.requests:
        insee = stop_commune.get(r.pickup, "")
        per_commune.setdefault(insee, [0, 0])[0] += 1
        n = need["wheelchair" if r.wheelchairs else "other"]
        n[0] += 1
        if r.id in refused:
            per_commune[insee][1] += 1
            n[1] += 1
    communes = [
        {
            "variant": v.name,
            "seed": spec.seed,
            "insee": insee,
            "commune": names.get(insee, insee),
            "requests": a,
            "refused": b,
        }
        for insee, (a, b) in sorted(per_commune.items())
    ]
    kind_of = {veh.id: veh.kind for veh in problem.vehicles}
    served_by_kind: dict[str, int] = {}
    for route in plan.routes:
        n_served = sum(1 for x in route.visits if x.kind == "pickup")
        mode = route.mode or kind_of[route.vehicle_id]
        served_by_kind[mode] = served_by_kind.get(mode, 0) + n_served
    regular = [r for r in problem.requests if r.id.startswith("w")]
    served = max(k.served, 1)
    worst = max((b / a for a, b in per_commune.values() if a), default=0.0)
    row: dict[str, Any] = {
        "variant": v.name,
        "seed": spec.seed,
        "territory": "+".join(v.territory),
        "vehicles": v.fleet.vehicles,
        "wheelchair_vehicles": v.fleet.wheelchair,
        "volunteers": v.fleet.volunteers,
        "carpool_offers": v.carpool.offers,
        "weekday": "" if weekday is None else weekday,
        "requests": k.requests,
        "requests_recurring": len(regular),
        "refused_recurring": sum(1 for r in regular if r.id in refused),
        "served": k.served,
        "refused": k.refused,
        "refusal_rate": round(k.refused / max(k.requests, 1), 4),
        "passengers": k.passengers_served,
        "cost_eur": k.cost_eur,
        "cost_per_served_eur": round(k.cost_eur / served, 2) if k.served else 0.0,
        "revenue_eur": fk.revenue_cents / 100,
        "subsidy_eur": fk.subsidy_cents / 100,
        "subsidy_per_passenger_eur": fk.subsidy_per_passenger_cents / 100,
        "carpool_drivers_eur": fk.carpool_drivers_cents / 100,
        "vehicles_used": k.vehicles_used,
        "vehicle_km": k.vehicle_km,
        "vehicle_hours": k.vehicle_hours,
        "empty_km": k.empty_km,
        "occupancy": k.mean_occupancy,
        "mean_ride_min": k.mean_ride_min,
        "co2_kg": k.co2_kg,
        "share_minibus": round(served_by_kind.get("minibus", 0) / served, 4) if k.served else 0.0,
        "share_volunteer": round(served_by_kind.get("volunteer", 0) / served, 4)
        if k.served
        else 0.0,
        "share_carpool": round(served_by_kind.get("carpool", 0) / served, 4) if k.served else 0.0,
        # per request: variants of different sizes side by side
        "km_per_request": round(k.vehicle_km / k.requests, 3) if k.requests else 0.0,
        "empty_km_per_request": round(k.empty_km / k.requests, 3) if k.requests else 0.0,
        "co2_per_served_kg": round(k.co2_kg / served, 3) if k.served else 0.0,
        # vehicles used per mode, and the km and CO2 beside their stated baselines (None: no
        # served request of that mode, no comparison; dispatcher.solver.kpis.Baselines)
        **{f"vehicles_used_{m}": b.vehicles.get(m, (0, 0))[0] for m in MODES},
        "tad_km": b.tad_km,
        "taxi_km": b.taxi_km,
        "tad_km_saved": b.tad_km_saved,
        "tad_co2_saved_kg": b.tad_co2_saved_kg,
        "carpool_km_saved": b.carpool_km_saved,
        "carpool_co2_saved_kg": b.carpool_co2_saved_kg,
        "requests_wheelchair": need["wheelchair"][0],
        "refused_wheelchair": need["wheelchair"][1],
        "refusal_rate_wheelchair": round(need["wheelchair"][1] / need["wheelchair"][0], 4)
        if need["wheelchair"][0]
        else 0.0,
        "refused_other": need["other"][1],
        "refusal_rate_other": round(need["other"][1] / need["other"][0], 4)
        if need["other"][0]
        else 0.0,
        "communes_with_refusals": sum(1 for _, b in per_commune.values() if b),
        "worst_commune_refusal_rate": round(worst, 4),
        "population": terr.population,
        "pop_share_hub_within": round(reach_share(tuple(v.territory), spec.reach_minutes), 4),
        "reach_minutes": spec.reach_minutes,
        "solver_status": plan.stats.status.value,
        "solver_status_detail": plan.stats.status_detail,
        "solve_s": round(plan.stats.total_s, 2),
        "check_ok": report.ok,
        "violations": len(report.violations),
        **lived,
    }
    return RunResult(spec=spec, row=row, communes=communes)


SIM_KEYS = (
    "sim_promises_kept",
    "sim_late_p50_min",
    "sim_late_p90_min",
    "sim_late_max_min",
    "sim_no_shows",
    "sim_refused_after_promise",
    "sim_extra_km",
)


def _lived(problem: Any, plan: Any, sim: SimulateSpec, seed: int) -> dict[str, Any]:
    """What the riders live on the planned day, by the day simulator (seeded with the demand's
    seed), as the row's ``sim_*`` figures; None for each when the variant is not simulated."""
    if not sim.enabled:
        return dict.fromkeys(SIM_KEYS)
    from dispatcher.simulate import SimParams, simulate

    res = simulate(
        problem,
        plan,
        SimParams(
            seed=seed,
            noise=sim.noise,
            no_show=sim.no_show,
            breakdowns=sim.breakdowns,
            replan=sim.replan,
        ),
    )
    row = res.row()
    return {
        "sim_promises_kept": round(res.kept_share, 4),
        "sim_late_p50_min": row["late p50"],
        "sim_late_p90_min": row["late p90"],
        "sim_late_max_min": row["late max"],
        "sim_no_shows": res.no_shows,
        "sim_refused_after_promise": res.refused_after_promise,
        "sim_extra_km": row["extra km"],
    }


# --------------------------------------------------------------------------------------------
# Many runs
# --------------------------------------------------------------------------------------------

Progress = Callable[[int, int, RunResult], None]


def run_scenario(
    scenario: Scenario,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    progress: Progress | None = None,
    connect_timeout_s: float = 10.0,
) -> ScenarioResult:
    """Every variant x seed, on a Dask cluster (``scheduler`` address) or local processes."""
    specs = run_specs(scenario)
    _int(workers, "--workers", 1)
    results: list[RunResult] = []

    def done(r: RunResult) -> None:
        results.append(r)
        if progress:
            progress(len(results), len(specs), r)

    if scheduler:
        from dispatcher.extras import import_extra

        distributed = import_extra("distributed", "--scheduler")  # an optional extra
        Client, dask_completed = distributed.Client, distributed.as_completed
        try:
            client = Client(scheduler, timeout=f"{connect_timeout_s}s")
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError(f"cannot reach the Dask scheduler: {e}", "--scheduler") from None
        try:
            futures = client.map(run_one, specs, pure=False)
            for fut in dask_completed(futures):
                done(fut.result())
        finally:
            client.close()
    elif workers == 1 or len(specs) == 1:
        for s in specs:
            done(run_one(s))
    else:
        n = min(workers, len(specs), os.cpu_count() or 1)
        with ProcessPoolExecutor(max_workers=n, mp_context=get_context("spawn")) as pool:
            futs = [pool.submit(run_one, s) for s in specs]
            try:
                for f in as_completed(futs):
                    done(f.result())
            except BaseException:
                for f in futs:
                    f.cancel()
                raise
    order = {(s.index, s.seed): k for k, s in enumerate(specs)}
    results.sort(key=lambda r: order[(r.spec.index, r.spec.seed)])
    return ScenarioResult(scenario=scenario, runs=results)


def with_overrides(
    scenario: Scenario, *, seeds: Sequence[int] | None = None, time_limit_s: float | None = None
) -> Scenario:
    """The same scenario with other seeds or another time limit (for quick runs and tests)."""
    out = scenario
    if seeds is not None:
        out = replace(out, seeds=tuple(_int(s, f"seeds[{k}]") for k, s in enumerate(seeds)))
    if time_limit_s is not None:
        out = replace(out, time_limit_s=_num(time_limit_s, "time_limit_s", 0.0, strict_low=True))
    return out


__all__ = [
    "CarpoolSpec",
    "DemandSpec",
    "FleetSpec",
    "RunResult",
    "RunSpec",
    "Scenario",
    "ScenarioResult",
    "Variant",
    "load_scenario",
    "reach_share",
    "run_one",
    "run_scenario",
    "run_specs",
    "scenario_from_dict",
    "volunteer_fleet",
    "with_overrides",
]
