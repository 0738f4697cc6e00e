"""The fares of a plan's trips and their key figures: revenue, subsidy per passenger (the
operator's cost minus revenue, per passenger) and what carpool drivers receive."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dispatcher.fares.pricing import CARPOOL_MODE, Fare, trip_fare
from dispatcher.fares.rules import FareRules
from dispatcher.model import Plan, Problem, Request

ZoneOf = Callable[[str], str | None]
"""A location id -> its fare zone (an intercommunality's SIREN), None when unknown."""


def request_fare(
    rules: FareRules,
    problem: Problem,
    request: Request,
    mode: str = "minibus",
    zone_of: ZoneOf | None = None,
) -> Fare:
    """The fare of ``request`` carried by ``mode`` on ``problem``'s road distances."""
    zones = (zone_of(request.pickup), zone_of(request.dropoff)) if zone_of else (None, None)
    return trip_fare(
        rules,
        request_id=request.id,
        category=request.rider_category,
        product=request.fare_product,
        seats=request.seats,
        wheelchairs=request.wheelchairs,
        distance_m=problem.travel_m(request.pickup, request.dropoff),
        zones=zones,
        mode=mode,
    )


def trip_mode(problem: Problem, vehicle_id: str) -> str:
    kind = problem.vehicle(vehicle_id).kind
    return kind if kind in ("volunteer", CARPOOL_MODE) else "minibus"


def plan_fares(
    rules: FareRules, problem: Problem, plan: Plan, zone_of: ZoneOf | None = None
) -> dict[str, Fare]:
    """The fare of every trip the plan serves, by request id."""
    out: dict[str, Fare] = {}
    for route in plan.routes:
        mode = None
        for v in route.visits:
            if v.kind == "pickup" and v.request_id not in out:
                mode = mode or trip_mode(problem, route.vehicle_id)
                r = problem.request(v.request_id)
                out[v.request_id] = request_fare(rules, problem, r, mode, zone_of)
    return out


@dataclass(frozen=True)
class FareKPIs:
    """``revenue_cents``: what riders pay the operator (carpool contributions go to the
    drivers, not counted); ``subsidy_cents``: the operator's cost (the plan's ``cost_eur``) minus
    revenue; ``subsidy_per_passenger_cents``: over the passengers of the operator's vehicles
    (rounded to the cent); ``carpool_*``: contributions, the territory's incentives and their
    sum, what carpool drivers receive. ``by_product`` and ``by_category``: revenue split."""

    trips: int = 0
    passengers: int = 0
    revenue_cents: int = 0
    cost_cents: int = 0
    subsidy_cents: int = 0
    subsidy_per_passenger_cents: int = 0
    carpool_trips: int = 0
    carpool_contribution_cents: int = 0
    carpool_incentive_cents: int = 0
    carpool_drivers_cents: int = 0
    by_product: Mapping[str, int] | None = None
    by_category: Mapping[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fares_section(
    rules: FareRules, problem: Problem, plan: Plan, zone_of: ZoneOf | None = None
) -> dict[str, Any]:
    """The ``fares`` part of a plan's JSON: the rules' name, each served trip's fare, the KPIs."""
    fares = plan_fares(rules, problem, plan, zone_of)
    return {
        "rules": rules.name,
        "trips": {rid: f.to_dict() for rid, f in sorted(fares.items())},
        "kpis": fare_kpis(fares, plan.kpis.cost_eur).to_dict(),
    }


def fare_kpis(fares: Mapping[str, Fare], cost_eur: float) -> FareKPIs:
    """The key figures of the trips' ``fares`` under the operator's cost ``cost_eur``."""
    op = [f for f in fares.values() if not f.carpool]
    car = [f for f in fares.values() if f.carpool]
    revenue = sum(f.amount_cents for f in op)
    passengers = sum(f.passengers for f in op)
    cost = round(cost_eur * 100)
    subsidy = cost - revenue
    by_product: dict[str, int] = {}
    by_category: dict[str, int] = {}
    for f in op:
        by_product[f.product] = by_product.get(f.product, 0) + f.amount_cents
        by_category[f.category] = by_category.get(f.category, 0) + f.amount_cents
    contribution = sum(f.amount_cents for f in car)
    incentive = sum(f.incentive_cents for f in car)
    return FareKPIs(
        trips=len(op),
        passengers=passengers,
        revenue_cents=revenue,
        cost_cents=cost,
        subsidy_cents=subsidy,
        subsidy_per_passenger_cents=round(subsidy / passengers) if passengers else 0,
        carpool_trips=len(car),
        carpool_contribution_cents=contribution,
        carpool_incentive_cents=incentive,
        carpool_drivers_cents=contribution + incentive,
        by_product=dict(sorted(by_product.items())),
        by_category=dict(sorted(by_category.items())),
    )
