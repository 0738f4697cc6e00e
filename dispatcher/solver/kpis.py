"""Key figures of a plan, derived from the Problem and the routes alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dispatcher.model import KPIs, Problem, Rejection, Route, Vehicle

MODES = ("minibus", "volunteer", "carpool")  # how a route carries its riders, in display order


def route_mode(route: Route, vehicle: Vehicle) -> str:
    """How a route carries its riders: its stated mode, else from the vehicle kind ("car" and
    "minibus" are the operator's fleet: "minibus")."""
    if route.mode:
        return route.mode
    return vehicle.kind if vehicle.kind in ("volunteer", "carpool") else "minibus"


def vehicle_mode(vehicle: Vehicle) -> str:
    """The mode a vehicle works in: "volunteer", "carpool", else the operator's "minibus"."""
    return vehicle.kind if vehicle.kind in ("volunteer", "carpool") else "minibus"


@dataclass(frozen=True)
class Baselines:
    """The plan beside what the same trips would have needed another way, per mode.

    * On-demand transport (minibus and volunteer routes, depot to depot, empty legs included)
      beside the same trips each made by a dedicated taxi: from the nearest depot of the fleet
      to the pickup, the direct trip, and back to that depot; CO2 at the "car" rate.
    * Carpool (the km the drivers drove beyond their own direct trip) beside each carpool
      passenger driving alone the direct way, at the "car" rate. Only carpool passengers are
      compared with driving alone: many riders of on-demand transport cannot drive.

    A comparison with no served request of its mode is None (``tad_*`` or ``carpool_*``).
    ``vehicles`` is (used, available) per mode.
    """

    vehicles: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    tad_served: int = 0
    tad_km: float = 0.0
    taxi_km: float = 0.0
    tad_co2_kg: float = 0.0
    taxi_co2_kg: float = 0.0
    carpool_served: int = 0
    carpool_km: float = 0.0
    solo_km: float = 0.0
    carpool_co2_kg: float = 0.0
    solo_co2_kg: float = 0.0

    @property
    def tad_km_saved(self) -> float | None:
        """Taxi km minus on-demand km (positive: the shared service drives less)."""
        return round(self.taxi_km - self.tad_km, 3) if self.tad_served else None

    @property
    def tad_co2_saved_kg(self) -> float | None:
        return round(self.taxi_co2_kg - self.tad_co2_kg, 3) if self.tad_served else None

    @property
    def carpool_km_saved(self) -> float | None:
        """Solo-driving km minus the carpool drivers' extra km (positive: km avoided)."""
        return round(self.solo_km - self.carpool_km, 3) if self.carpool_served else None

    @property
    def carpool_co2_saved_kg(self) -> float | None:
        return round(self.solo_co2_kg - self.carpool_co2_kg, 3) if self.carpool_served else None


def compare_with_baselines(problem: Problem, routes: Sequence[Route]) -> Baselines:
    """The :class:`Baselines` of a plan's routes (see there for the definitions)."""
    rates = problem.rules.co2_g_per_km
    car_rate = float(rates.get("car", 0.0))
    available: dict[str, int] = {}
    for v in problem.vehicles:
        available[vehicle_mode(v)] = available.get(vehicle_mode(v), 0) + 1
    used: dict[str, int] = {}
    depots = sorted({v.start for v in problem.vehicles if vehicle_mode(v) == "minibus"})
    depots = depots or sorted({v.start for v in problem.vehicles})
    acc = dict.fromkeys(
        ("tad_km", "taxi_km", "tad_co2", "carpool_km", "solo_km", "carpool_co2"), 0.0
    )
    tad_served = carpool_served = 0
    for route in routes:
        if not route.visits:
            continue
        v = problem.vehicle(route.vehicle_id)
        mode = route_mode(route, v)
        used[mode] = used.get(mode, 0) + 1
        places = [v.start] + [x.location_id for x in route.visits] + [v.end]
        km = sum(problem.travel_m(a, b) for a, b in zip(places, places[1:], strict=False)) / 1e3
        riders = [problem.request(x.request_id) for x in route.visits if x.kind == "pickup"]
        direct = [problem.travel_m(r.pickup, r.dropoff) / 1e3 for r in riders]
        if mode == "carpool":
            km = max(0.0, km - problem.travel_m(v.start, v.end) / 1e3)
            acc["carpool_km"] += km
            acc["carpool_co2"] += km * float(rates.get("carpool", car_rate)) / 1e3
            acc["solo_km"] += sum(direct)
            carpool_served += len(riders)
            continue
        acc["tad_km"] += km
        acc["tad_co2"] += km * float(rates.get(v.kind, 0.0)) / 1e3
        tad_served += len(riders)
        for r, d in zip(riders, direct, strict=True):
            acc["taxi_km"] += d + min(
                (problem.travel_m(p, r.pickup) + problem.travel_m(r.dropoff, p)) / 1e3
                for p in depots
            )
    return Baselines(
        vehicles={m: (used.get(m, 0), available[m]) for m in MODES if m in available},
        tad_served=tad_served,
        tad_km=round(acc["tad_km"], 3),
        taxi_km=round(acc["taxi_km"], 3),
        tad_co2_kg=round(acc["tad_co2"], 3),
        taxi_co2_kg=round(acc["taxi_km"] * car_rate / 1e3, 3),
        carpool_served=carpool_served,
        carpool_km=round(acc["carpool_km"], 3),
        solo_km=round(acc["solo_km"], 3),
        carpool_co2_kg=round(acc["carpool_co2"], 3),
        solo_co2_kg=round(acc["solo_km"] * car_rate / 1e3, 3),
    )


def compute_kpis(
    problem: Problem, routes: Sequence[Route], rejections: Sequence[Rejection]
) -> KPIs:
    """Served and refused counts, vehicle km/hours (depot to depot), empty km (legs with nobody
    on board, depot legs included), occupancy (passenger-km / vehicle-km, passengers = seats +
    wheelchairs), ride times, detour (ride / direct, over requests with a direct time > 0), CO2
    (``rules.co2_g_per_km`` by vehicle kind) and cost (km, hours, fixed cost of used vehicles,
    per-passenger-km incentive on each served request's direct km).

    A carpool driver drives from origin to destination anyway: only the km and hours beyond
    that direct trip count as vehicle km/hours, CO2 (at the "carpool" rate, else "car") and cost
    per km/hour, and the driver's km are left out of empty km and occupancy.
    Mixed-dispatch figures: ``mode_share`` (served requests per mode), ``car_km_avoided`` (the
    served requests' direct km, each rider driving alone, minus the km driven for them) and
    ``co2_saved_kg`` (the CO2 of those solo drives at the "car" rate minus the CO2 counted above).
    Linked trips (an outbound and its return): ``linked_pairs_served`` both halves served,
    ``linked_pairs_refused`` neither.
    """
    served_ids: set[str] = set()
    passengers = 0
    vehicles_used = 0
    km = hours = empty_km = pkm = co2 = cost = 0.0
    solo_km = 0.0
    per_mode: dict[str, int] = {}
    co2_rates = problem.rules.co2_g_per_km
    car_rate = float(co2_rates.get("car", 0.0))
    rides: list[float] = []
    detours: list[float] = []
    for route in routes:
        if not route.visits:
            continue
        vehicles_used += 1
        v = problem.vehicle(route.vehicle_id)
        mode = route_mode(route, v)
        carpool = v.kind == "carpool"
        places = [v.start] + [vis.location_id for vis in route.visits] + [v.end]
        loads = [0] + [vis.seats + vis.wheelchairs for vis in route.visits]
        route_km = 0.0
        for g in range(len(places) - 1):
            leg_km = problem.travel_m(places[g], places[g + 1]) / 1000.0
            route_km += leg_km
            if not carpool:
                pkm += loads[g] * leg_km
                if loads[g] == 0:
                    empty_km += leg_km
        route_h = (route.end_s - route.start_s) / 3600.0
        rate = float(co2_rates.get(v.kind, 0.0))
        if carpool:  # only the detour is driven for the riders
            route_km = max(0.0, route_km - problem.travel_m(v.start, v.end) / 1000.0)
            route_h = max(0.0, route_h - problem.travel_s(v.start, v.end) / 3600.0)
            rate = float(co2_rates.get("carpool", car_rate))
        km += route_km
        hours += route_h
        co2 += route_km * rate / 1000.0
        cost += route_km * v.cost_per_km + route_h * v.cost_per_hour + v.fixed_cost
        for vis in route.visits:
            if vis.kind == "pickup":
                if vis.request_id not in served_ids:
                    served_ids.add(vis.request_id)
                    r = problem.request(vis.request_id)
                    passengers += r.seats + r.wheelchairs
                    direct_km = problem.travel_m(r.pickup, r.dropoff) / 1000.0
                    solo_km += direct_km
                    cost += v.cost_per_passenger_km * (r.seats + r.wheelchairs) * direct_km
                    per_mode[mode] = per_mode.get(mode, 0) + 1
            elif vis.ride_time_s is not None:
                rides.append(vis.ride_time_s)
                direct = problem.direct_s(problem.request(vis.request_id))
                if direct > 0:
                    detours.append(vis.ride_time_s / direct)
    pairs = problem.linked_pairs()
    pairs_served = sum(1 for o, r in pairs if o.id in served_ids and r.id in served_ids)
    pairs_refused = sum(1 for o, r in pairs if o.id not in served_ids and r.id not in served_ids)
    return KPIs(
        requests=len(problem.requests),
        served=len(served_ids),
        refused=len(rejections),
        passengers_served=passengers,
        vehicles_used=vehicles_used,
        vehicle_km=round(km, 3),
        vehicle_hours=round(hours, 3),
        empty_km=round(empty_km, 3),
        mean_occupancy=round(pkm / km, 4) if km > 0 else 0.0,
        mean_ride_min=round(sum(rides) / len(rides) / 60.0, 3) if rides else 0.0,
        max_ride_min=round(max(rides) / 60.0, 3) if rides else 0.0,
        mean_detour=round(sum(detours) / len(detours), 4) if detours else 0.0,
        co2_kg=round(co2, 3),
        cost_eur=round(cost, 2),
        mode_share={m: round(c / len(served_ids), 4) for m, c in sorted(per_mode.items())}
        if served_ids
        else {},
        car_km_avoided=round(solo_km - km, 3),
        co2_saved_kg=round(solo_km * car_rate / 1000.0 - co2, 3),
        linked_pairs_served=pairs_served,
        linked_pairs_refused=pairs_refused,
    )
