"""Readers turning published benchmark instances into the project's own ``Problem``, and the
literature's way of scoring a plan on them (for ``dispatcher tune`` and ``benchmarks/``).

The instances are not part of the package: they are read from a folder holding ``bks.csv`` and
one folder per family (:func:`find_instances_dir`: a path given, ``$DISPATCHER_BENCHMARKS``, or
``../shared/data/benchmarks`` relative to the current directory when it exists).

Three families (see ``FORMATS.md`` in that folder):

* ``darp``: Cordeau's dial-a-ride instances, both layouts: the a/b layout (header ``K n T Q L``,
  node lines ``0 .. 2n+1`` with an end-depot line) and the pr01-pr20 layout (header ``K 2n T Q L``,
  node lines ``0 .. 2n``, node 0 closes the route, depot window [0, 1440] and a separate route
  duration limit T). The layouts are told apart by counting node lines (even: 2n+2, odd: 2n+1).
* ``pdptw``: Li & Lim's pickup-and-delivery instances (tab separated, CRLF).
* ``vrptw``: Solomon's instances. A customer becomes a request picked up at the depot (window
  [0, 0], no service time) and dropped off at the customer. Since every pickup must start at
  time 0 and the depot-to-depot travel time is 0, all pickups happen at the start of the route,
  before any drop-off: the vehicle leaves the depot with the whole load of its route, and the
  seat dimension is exactly the VRPTW capacity (no mid-route reload is possible).

Scaling. The model wants integer seconds and metres; the instances use real-valued Euclidean
distances (= travel times). One instance unit becomes ``scale`` model units (default 1000):
travel times are rounded UP, so a plan that is feasible with the integer matrix is feasible with
the real distances; distances are rounded to the nearest unit (they only drive the objective).
Windows, service times and limits are integers in the files and scale exactly. The unrounded
matrix travels beside the Problem in :class:`Instance`, and :func:`plan_cost` recomputes the
cost the literature reports. Vehicles cost ``1000 / scale`` per km and nothing per hour, so the
solver's objective (euros) is the instance's total distance; for PDPTW/VRPTW (ranked by
vehicles first) each vehicle has a fixed cost of :data:`VEHICLE_FIXED_COST`.

Route duration. The header's T bounds each route from leaving the depot to coming back. In the
a/b layout the depot window is [0, T], so the shift holds it; in the pr layout the depot window
is [0, 1440] and T=480 is separate: the reader puts T on every vehicle as ``max_duration_s``
(whenever it is tighter than the depot window, in either layout), so that both searches, the
route timing and the checker hold it. ``Instance.max_route_duration`` keeps T as read and
:func:`extra_violations` re-checks it from the file's value beside the checker.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dispatcher.errors import DataError, InputError
from dispatcher.model import (
    Location,
    ObjectiveWeights,
    Plan,
    Problem,
    Request,
    ServiceRules,
    TimeWindow,
    Vehicle,
)

FAMILIES: dict[str, tuple[str, str]] = {
    # family: (folder under the benchmarks root, family name in bks.csv)
    "darp": ("darp/cordeau2006-a", "darp_cordeau_ab"),
    "pdptw": ("pdptw/li_lim_100", "pdptw_li_lim_100"),
    "vrptw": ("vrptw/solomon_100", "vrptw_solomon_100"),
}
DEFAULT_SCALE = 1000
VEHICLE_FIXED_COST = 10_000.0  # euros = instance distance units: more than any route's length
DARP_REFUSAL_PENALTY = 100_000.0
HIERARCHICAL_REFUSAL_PENALTY = 10_000_000.0  # more than a whole fleet's fixed costs

StopRef = tuple[str, str]  # (request id, "pickup" | "dropoff")


@dataclass(frozen=True, eq=False)
class Instance:
    """A benchmark instance as a Problem, with what is needed to score plans like the literature.

    ``coords`` and ``euclid`` (unrounded distances, instance units) are aligned with
    ``problem.locations``; ``node_stops`` maps the file's node/task ids to the stop they became
    (for VRPTW a customer maps to its drop-off; its pickup at the depot is implied).
    ``bks_cost``/``bks_vehicles`` come from bks.csv (``bks_vehicles`` is None for DARP).
    ``max_route_duration`` (instance units) is the header's T when it is tighter than the depot
    window (pr layout); the vehicles carry it as ``max_duration_s``.
    """

    name: str
    family: str
    problem: Problem
    coords: tuple[tuple[float, float], ...]
    euclid: np.ndarray
    scale: int
    bks_cost: float | None = None
    bks_vehicles: int | None = None
    max_route_duration: float | None = None
    layout: str = ""
    node_stops: dict[int, StopRef] = field(default_factory=dict)
    path: Path | None = None

    @property
    def hierarchical(self) -> bool:
        """Ranked by vehicles first, then distance (PDPTW, VRPTW)."""
        return self.family in ("pdptw", "vrptw")


# --------------------------------------------------------------------------------------------
# locations, bks
# --------------------------------------------------------------------------------------------


INSTANCES_ENV = "DISPATCHER_BENCHMARKS"
DEFAULT_INSTANCES_DIR = Path("..") / "shared" / "data" / "benchmarks"  # beside a source checkout


def find_instances_dir(path: str | Path | None = None) -> Path:
    """The folder of the benchmark instances: ``path`` when given (it must exist), else
    ``$DISPATCHER_BENCHMARKS``, else :data:`DEFAULT_INSTANCES_DIR` relative to the current
    directory when it exists; otherwise one InputError saying how to give it."""
    if path is not None:
        folder = Path(path)
        if not folder.is_dir():
            raise InputError(f"no such folder: {folder}", "--instances-dir")
        return folder
    env = os.environ.get(INSTANCES_ENV)
    if env:
        return Path(env)
    folder = Path.cwd() / DEFAULT_INSTANCES_DIR
    if folder.is_dir():
        return folder
    raise InputError(
        f"no benchmark instances in {DEFAULT_INSTANCES_DIR.as_posix()} from here: give their "
        f"folder with --instances-dir PATH (or {INSTANCES_ENV}=PATH)",
        "--instances-dir",
    )


def load_bks(root: Path | None = None) -> dict[tuple[str, str], tuple[float, int | None]]:
    """bks.csv as {(family, instance): (cost, vehicles or None)} with family in FAMILIES."""
    path = (root or find_instances_dir()) / "bks.csv"
    back = {v[1]: k for k, v in FAMILIES.items()}
    out: dict[tuple[str, str], tuple[float, int | None]] = {}
    if not path.exists():
        return out
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            fam = back.get(row["family"])
            if fam is None:
                continue
            veh = row.get("bks_vehicles") or ""
            out[(fam, row["instance"].lower())] = (
                float(row["bks_cost"]),
                int(veh) if veh.strip() else None,
            )
    return out


def instance_paths(family: str, root: Path | None = None) -> list[Path]:
    """The instance files of a family, sorted by name."""
    if family not in FAMILIES:
        raise DataError(f"unknown family {family!r} (one of {', '.join(FAMILIES)})", "family")
    folder = (root or find_instances_dir()) / FAMILIES[family][0]
    if not folder.is_dir():
        raise DataError("benchmark folder not found", str(folder))
    return sorted(folder.glob("*.txt"), key=lambda p: p.stem.lower())


def load_instance(
    family: str, name: str, root: Path | None = None, scale: int = DEFAULT_SCALE
) -> Instance:
    """Read one instance by name (case-insensitive, e.g. ``a2-16``, ``lc101``, ``c101``)."""
    root = root or find_instances_dir()
    for p in instance_paths(family, root):
        if p.stem.lower() == name.lower():
            bks = load_bks(root).get((family, p.stem.lower()))
            return READERS[family](p, scale, bks)
    raise DataError(f"no {family} instance named {name!r}", str(root / FAMILIES[family][0]))


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _rows(path: Path) -> list[list[str]]:
    return [ln.split() for ln in path.read_text().splitlines() if ln.strip()]


def _lines(path: Path) -> list[int]:
    """The file's line (1-based, as an editor counts) of each row of :func:`_rows`."""
    return [n for n, ln in enumerate(path.read_text().splitlines(), start=1) if ln.strip()]


def _matrices(
    coords: Sequence[tuple[float, float]], scale: int
) -> tuple[np.ndarray, list[list[int]], list[list[int]]]:
    pts = np.asarray(coords, dtype=float)
    diff = pts[:, None, :] - pts[None, :, :]
    euclid = np.sqrt((diff**2).sum(axis=2))
    # ceil with a tiny tolerance so that an exact integer distance (e.g. 5.0) is not pushed up by
    # the last bit of floating-point noise
    dur = np.ceil(euclid * scale - 1e-7).astype(np.int64)
    dist = np.rint(euclid * scale).astype(np.int64)
    return euclid, dur.tolist(), dist.tolist()


def _to_int(s: str, where: str) -> int:
    try:
        v = float(s)
    except ValueError:
        raise DataError(f"expected a number, got {s!r}", where) from None
    if v != int(v):
        raise DataError(f"expected an integer, got {s!r}", where)
    return int(v)


def _to_float(s: str, where: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise DataError(f"expected a number, got {s!r}", where) from None


# --------------------------------------------------------------------------------------------
# Cordeau dial-a-ride
# --------------------------------------------------------------------------------------------


def cordeau_layout(rows: Sequence[Sequence[str]], where: str = "") -> tuple[str, int]:
    """("ab", n) or ("pr", n) from the header and the count of node lines."""
    if not rows or len(rows[0]) < 5:
        raise DataError("header 'K n T Q L' missing", where)
    h2 = _to_int(rows[0][1], f"{where}: header field 2")
    lines = len(rows) - 1
    if lines % 2 == 0 and lines == 2 * h2 + 2:
        return "ab", h2
    if lines % 2 == 1 and lines == h2 + 1 and h2 % 2 == 0:
        return "pr", h2 // 2
    raise DataError(
        f"{lines} node lines fit neither the a/b layout (2n+2 with n={h2}) "
        f"nor the pr layout (2n+1 with 2n={h2})",
        where,
    )


def read_cordeau(
    path: Path, scale: int = DEFAULT_SCALE, bks: tuple[float, int | None] | None = None
) -> Instance:
    """A Cordeau DARP file (a/b or pr layout) as an Instance."""
    rows = _rows(path)
    where = str(path)
    layout, n = cordeau_layout(rows, where)
    k = _to_int(rows[0][0], f"{where}: K")
    t_max = _to_float(rows[0][2], f"{where}: T")
    cap = _to_int(rows[0][3], f"{where}: Q")
    ride = _to_float(rows[0][4], f"{where}: L")
    nodes = []
    at = _lines(path)
    for j, a in enumerate(rows[1:]):
        w = f"{where}: line {at[j + 1]}"
        if len(a) < 7:
            raise DataError(f"expected 'i x y d q e l', got {' '.join(a)!r}", w)
        nodes.append(
            (
                _to_float(a[1], w),
                _to_float(a[2], w),
                _to_int(a[3], w),
                _to_int(a[4], w),
                _to_int(a[5], w),
                _to_int(a[6], w),
            )
        )
    coords = tuple((x, y) for x, y, *_ in nodes)
    euclid, dur, dist = _matrices(coords, scale)
    locs = tuple(Location(str(i), x, y) for i, (x, y) in enumerate(coords))
    S = scale
    end_node = 2 * n + 1 if layout == "ab" else 0
    depot_e, depot_l = nodes[0][4], nodes[0][5]
    if layout == "ab":
        depot_l = min(depot_l, nodes[end_node][5])
    horizon = max(max(nd[5] for nd in nodes), depot_l)
    reqs = []
    node_stops: dict[int, StopRef] = {}
    for i in range(1, n + 1):
        p, d = nodes[i], nodes[n + i]
        if p[3] <= 0 or d[3] != -p[3]:
            raise DataError(
                f"request {i}: pickup load {p[3]} and drop-off load {d[3]} do not pair", where
            )
        rid = str(i)
        reqs.append(
            Request(
                rid,
                str(i),
                str(n + i),
                seats=p[3],
                pickup_window=TimeWindow(p[4] * S, p[5] * S),
                arrive_by_s=d[5] * S,
                not_before_s=d[4] * S,
                boarding_s=p[2] * S,
                alighting_s=d[2] * S,
                max_ride_s=round(ride * S),
            )
        )
        node_stops[i] = (rid, "pickup")
        node_stops[n + i] = (rid, "dropoff")
    # The shift is the depot window. a/b layout: that window is [0, T], so the shift already
    # bounds the route's duration; pr layout: T is tighter than the window and becomes the
    # vehicles' max duty time (travel times are rounded up, so a route within T in the integer
    # matrix is within T with the real distances too).
    shift = TimeWindow(depot_e * S, depot_l * S)
    max_dur = None if depot_l - depot_e <= t_max else t_max
    vehicles = tuple(
        Vehicle(
            f"v{j}",
            "0",
            str(end_node),
            shift,
            seats=cap,
            cost_per_km=1000.0 / S,
            cost_per_hour=0.0,
            max_duration_s=None if max_dur is None else math.floor(max_dur * S),
        )
        for j in range(k)
    )
    rules = ServiceRules(boarding_s=0, alighting_s=0, service_hours=TimeWindow(0, horizon * S))
    problem = Problem(
        locs,
        dur,
        dist,
        tuple(reqs),
        vehicles,
        rules=rules,
        weights=ObjectiveWeights(refusal_penalty=DARP_REFUSAL_PENALTY),
        name=path.stem,
    )
    return Instance(
        name=path.stem,
        family="darp",
        problem=problem,
        coords=coords,
        euclid=euclid,
        scale=S,
        bks_cost=bks[0] if bks else None,
        bks_vehicles=bks[1] if bks else None,
        max_route_duration=max_dur,
        layout=layout,
        node_stops=node_stops,
        path=path,
    )


# --------------------------------------------------------------------------------------------
# Li & Lim PDPTW
# --------------------------------------------------------------------------------------------


def read_li_lim(
    path: Path, scale: int = DEFAULT_SCALE, bks: tuple[float, int | None] | None = None
) -> Instance:
    """A Li & Lim PDPTW file as an Instance (request id = pickup task id)."""
    rows = _rows(path)
    where = str(path)
    if not rows or len(rows[0]) < 2:
        raise DataError("header 'K Q S' missing", where)
    k = _to_int(rows[0][0], f"{where}: K")
    cap = _to_int(rows[0][1], f"{where}: Q")
    tasks: dict[int, tuple[float, float, int, int, int, int, int, int]] = {}
    at = _lines(path)
    for j, a in enumerate(rows[1:]):
        w = f"{where}: line {at[j + 1]}"
        if len(a) < 9:
            raise DataError(f"expected 9 fields 'i x y demand e l service p d', got {len(a)}", w)
        i = _to_int(a[0], w)
        tasks[i] = (
            _to_float(a[1], w),
            _to_float(a[2], w),
            _to_int(a[3], w),
            _to_int(a[4], w),
            _to_int(a[5], w),
            _to_int(a[6], w),
            _to_int(a[7], w),
            _to_int(a[8], w),
        )
    if sorted(tasks) != list(range(len(tasks))):
        raise DataError("task ids are not 0..m", where)
    coords = tuple((tasks[i][0], tasks[i][1]) for i in range(len(tasks)))
    S = scale
    depot = tasks[0]
    horizon = depot[4]
    reqs = []
    node_stops: dict[int, StopRef] = {}
    for i in range(1, len(tasks)):
        t = tasks[i]
        if t[2] <= 0:
            continue  # a delivery, read with its pickup
        j = t[7]
        d = tasks.get(j)
        if d is None or d[6] != i or d[2] != -t[2]:
            raise DataError(
                f"pickup {i} names delivery {j}, which does not pair back with it", where
            )
        rid = str(i)
        reqs.append(
            Request(
                rid,
                str(i),
                str(j),
                seats=t[2],
                pickup_window=TimeWindow(t[3] * S, t[4] * S),
                arrive_by_s=d[4] * S,
                not_before_s=d[3] * S,
                boarding_s=t[5] * S,
                alighting_s=d[5] * S,
                max_ride_s=horizon * S,
            )
        )
        node_stops[i] = (rid, "pickup")
        node_stops[j] = (rid, "dropoff")
    if len(node_stops) != len(tasks) - 1:
        raise DataError(
            f"{len(tasks) - 1 - len(node_stops)} task(s) belong to no pickup-delivery pair", where
        )
    fleet = _fleet(k, cap, TimeWindow(depot[3] * S, depot[4] * S), S)
    return _hierarchical_instance(path, "pdptw", coords, S, reqs, fleet, horizon, node_stops, bks)


def _hierarchical_instance(
    path: Path,
    family: str,
    coords: tuple[tuple[float, float], ...],
    scale: int,
    reqs: Sequence[Request],
    vehicles: tuple[Vehicle, ...],
    horizon: int,
    node_stops: dict[int, StopRef],
    bks: tuple[float, int | None] | None,
) -> Instance:
    """Li & Lim and Solomon: fewest vehicles first (fixed cost per vehicle), then distance; service
    times on the requests, the whole horizon (instance units) as service hours."""
    euclid, dur, dist = _matrices(coords, scale)
    problem = Problem(
        tuple(Location(str(i), x, y) for i, (x, y) in enumerate(coords)),
        dur,
        dist,
        tuple(reqs),
        vehicles,
        rules=ServiceRules(
            boarding_s=0, alighting_s=0, service_hours=TimeWindow(0, horizon * scale)
        ),
        weights=ObjectiveWeights(refusal_penalty=HIERARCHICAL_REFUSAL_PENALTY),
        name=path.stem,
    )
    layout = {"pdptw": "li_lim", "vrptw": "solomon"}[family]
    return Instance(
        path.stem,
        family,
        problem,
        coords,
        euclid,
        scale,
        bks[0] if bks else None,
        bks[1] if bks else None,
        None,
        layout,
        node_stops,
        path,
    )


def _fleet(k: int, cap: int, shift: TimeWindow, scale: int) -> tuple[Vehicle, ...]:
    return tuple(
        Vehicle(
            f"v{j}",
            "0",
            "0",
            shift,
            seats=cap,
            cost_per_km=1000.0 / scale,
            cost_per_hour=0.0,
            fixed_cost=VEHICLE_FIXED_COST,
        )
        for j in range(k)
    )


# --------------------------------------------------------------------------------------------
# Solomon VRPTW
# --------------------------------------------------------------------------------------------


def read_solomon(
    path: Path, scale: int = DEFAULT_SCALE, bks: tuple[float, int | None] | None = None
) -> Instance:
    """A Solomon VRPTW file as an Instance; customer c becomes request ``c`` from the depot."""
    rows = _rows(path)
    where = str(path)
    k = cap = None
    custs: list[tuple[int, float, float, int, int, int, int]] = []
    at = _lines(path)
    for j, a in enumerate(rows):
        if not a[0].lstrip("-").replace(".", "", 1).isdigit():
            continue
        w = f"{where}: line {at[j]}"
        if len(a) == 2 and k is None:
            k, cap = _to_int(a[0], w), _to_int(a[1], w)
        elif len(a) >= 7:
            custs.append(
                (
                    _to_int(a[0], w),
                    _to_float(a[1], w),
                    _to_float(a[2], w),
                    _to_int(a[3], w),
                    _to_int(a[4], w),
                    _to_int(a[5], w),
                    _to_int(a[6], w),
                )
            )
    if k is None or cap is None:
        raise DataError("vehicle line 'NUMBER CAPACITY' missing", where)
    if not custs or custs[0][0] != 0 or [c[0] for c in custs] != list(range(len(custs))):
        raise DataError("customer lines must number 0 (depot) .. m", where)
    coords = tuple((c[1], c[2]) for c in custs)
    S = scale
    depot = custs[0]
    horizon = depot[5]
    reqs = []
    node_stops: dict[int, StopRef] = {}
    for c in custs[1:]:
        i, _, _, q, ready, due, s = c
        if q <= 0:
            raise DataError(
                f"customer {i} has demand {q}; the model carries at least one unit", where
            )
        rid = str(i)
        reqs.append(
            Request(
                rid,
                "0",
                str(i),
                seats=q,
                pickup_window=TimeWindow(depot[4] * S, depot[4] * S),  # every pickup at the start
                arrive_by_s=due * S,
                not_before_s=ready * S,
                boarding_s=0,
                alighting_s=s * S,
                max_ride_s=horizon * S,
            )
        )
        node_stops[i] = (rid, "dropoff")
    fleet = _fleet(k, cap, TimeWindow(depot[4] * S, depot[5] * S), S)
    return _hierarchical_instance(path, "vrptw", coords, S, reqs, fleet, horizon, node_stops, bks)


READERS = {"darp": read_cordeau, "pdptw": read_li_lim, "vrptw": read_solomon}


# --------------------------------------------------------------------------------------------
# scoring like the literature
# --------------------------------------------------------------------------------------------


def plan_cost(instance: Instance, plan: Plan) -> float:
    """Total distance of the plan's used routes, recomputed from the unrounded distances."""
    p = instance.problem
    total = 0.0
    for route in plan.routes:
        if not route.visits:
            continue
        v = p.vehicle(route.vehicle_id)
        ids = [v.start, *(vis.location_id for vis in route.visits), v.end]
        idx = [p.index(i) for i in ids]
        total += float(sum(instance.euclid[a, b] for a, b in zip(idx, idx[1:], strict=False)))
    return total


def vehicles_used(plan: Plan) -> int:
    return sum(1 for r in plan.routes if r.visits)


def extra_violations(instance: Instance, plan: Plan) -> list[str]:
    """The instance's route duration limit T re-checked from the file's value, beside the
    project's checker (which holds it as the vehicles' ``max_duration_s``)."""
    out: list[str] = []
    if instance.max_route_duration is not None:
        limit = instance.max_route_duration * instance.scale
        for r in plan.routes:
            if r.visits and r.end_s - r.start_s > limit:
                out.append(
                    f"route {r.vehicle_id}: "
                    f"duration {(r.end_s - r.start_s) / instance.scale:.3f} "
                    f"> T={instance.max_route_duration:g}"
                )
    return out


def read_li_lim_solution(path: Path) -> list[list[int]]:
    """Routes of a Li & Lim solution file (``Route k : t1 t2 ...``), task ids, depot omitted."""
    routes = []
    for ln in path.read_text().splitlines():
        if ln.strip().lower().startswith("route") and ":" in ln:
            routes.append([int(x) for x in ln.split(":", 1)[1].split()])
    if not routes:
        raise DataError("no 'Route k : ...' line", str(path))
    return routes


def route_stops(instance: Instance, nodes: Sequence[int]) -> list[StopRef]:
    """The stops of a route given by the file's node/task ids (depots omitted or ignored).
    For VRPTW the pickups at the depot of the route's customers come first."""
    stops = [instance.node_stops[i] for i in nodes if i in instance.node_stops]
    if instance.family == "vrptw":
        stops = [(rid, "pickup") for rid, _ in stops] + stops
    return stops


def gap_percent(cost: float, bks: float | None) -> float | None:
    if bks is None or not math.isfinite(cost) or bks <= 0:
        return None
    return 100.0 * (cost - bks) / bks


@dataclass(frozen=True)
class Verdict:
    """A benchmark plan judged: the project's checker, the instance's extra rules, every
    request served, and the cost from unrounded distances."""

    feasible: bool
    served: int
    requests: int
    vehicles: int
    cost: float
    gap_pct: float | None
    problems: tuple[str, ...]


def judge(instance: Instance, plan: Plan) -> Verdict:
    """The one way the runner and the tuner score a plan; the checker is the judge of its rules."""
    from dispatcher.solver.checker import check_plan

    n = len(instance.problem.requests)
    report = check_plan(instance.problem, plan)
    extra = extra_violations(instance, plan)
    served = int(report.recomputed.get("served", 0))
    problems = [str(v) for v in report.violations] + extra
    if served < n:
        problems.append(f"{n - served} request(s) not served")
    cost = plan_cost(instance, plan)
    return Verdict(
        report.ok and not extra and served == n,
        served,
        n,
        vehicles_used(plan),
        cost,
        gap_percent(cost, instance.bks_cost),
        tuple(problems),
    )


__all__ = [
    "DEFAULT_SCALE",
    "FAMILIES",
    "Instance",
    "find_instances_dir",
    "cordeau_layout",
    "extra_violations",
    "gap_percent",
    "judge",
    "Verdict",
    "instance_paths",
    "load_bks",
    "load_instance",
    "plan_cost",
    "read_cordeau",
    "read_li_lim",
    "read_li_lim_solution",
    "read_solomon",
    "route_stops",
    "vehicles_used",
]
