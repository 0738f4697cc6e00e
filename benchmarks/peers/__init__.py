"""Peer engines (PyVRP, VROOM) behind the project's ``Solver`` protocol, and the one way every
route order (a peer's, a best-known solution's) becomes a project ``Plan``.

A peer only decides who serves what in which order. Times are then computed by the model's
conventions: :func:`timed_route` first asks the project's route timer
(``dispatcher.solver.schedule``: earliest start, pickups delayed where it shortens ride times);
if the order cannot be timed within every rule (a peer that ignores ride-time limits), it falls
back to the plain earliest schedule (waiting allowed) so that the checker sees, and names, what
is broken instead of the plan being hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

from dispatcher.errors import SolverError
from dispatcher.model import (
    REASON_MESSAGES,
    Plan,
    Problem,
    Reason,
    Rejection,
    Request,
    Route,
    SolverStats,
    Vehicle,
    Visit,
)
from dispatcher.solver import InitialRoutes, Pins
from dispatcher.solver.schedule import schedule_route, stop_service_s

StopRef = tuple[str, str]  # (request id, "pickup" | "dropoff")


def refuse_live(engine: str, initial_routes: InitialRoutes | None, pinned: Pins | None) -> None:
    """Peers plan a day from scratch: a live re-optimisation (initial routes, pins) is not
    theirs to do, and saying so beats ignoring them."""
    if initial_routes or pinned:
        raise SolverError("plans from scratch: no initial routes or pinned requests", engine)


def earliest_route(
    problem: Problem, vehicle: Vehicle, stops: Sequence[tuple[Request, str]]
) -> Route:
    """Earliest-start schedule of a fixed order (leave at the shift start, wait where early).
    May break windows or ride limits: the checker judges it."""
    t = vehicle.shift.start_s
    start_s = t
    prev = vehicle.start
    visits: list[Visit] = []
    seats = wheel = 0
    board_end: dict[str, int] = {}
    dist = 0
    for r, kind in stops:
        loc = r.pickup if kind == "pickup" else r.dropoff
        arrival = t + problem.travel_s(prev, loc)
        dist += problem.travel_m(prev, loc)
        tw = problem.pickup_tw(r) if kind == "pickup" else problem.dropoff_tw(r)
        start = max(arrival, tw.start_s, problem.rules.service_hours.start_s)
        dep = start + stop_service_s(problem, r, kind)  # type: ignore[arg-type]
        ride = None
        if kind == "pickup":
            seats += r.seats
            wheel += r.wheelchairs
            board_end[r.id] = dep
        else:
            seats -= r.seats
            wheel -= r.wheelchairs
            ride = start - board_end[r.id] if r.id in board_end else None
        visits.append(Visit(r.id, kind, loc, arrival, start, dep, seats, wheel, ride))  # type: ignore[arg-type]
        t, prev = dep, loc
    end = t + problem.travel_s(prev, vehicle.end)
    dist += problem.travel_m(prev, vehicle.end)
    return Route(vehicle.id, start_s, end, tuple(visits), (), dist)


def timed_route(problem: Problem, vehicle: Vehicle, stops: Sequence[StopRef]) -> tuple[Route, bool]:
    """The route of ``vehicle`` through ``stops`` with times; the flag says whether the project's
    timer found a timing satisfying every rule (False: earliest-start fallback)."""
    reqs = {r.id: r for r in problem.requests}
    seq = [(reqs[rid], kind) for rid, kind in stops]
    route = schedule_route(problem, vehicle, seq)  # type: ignore[arg-type]
    if route is not None:
        return route, True
    return earliest_route(problem, vehicle, seq), False


def build_plan(
    problem: Problem,
    orders: Sequence[tuple[str, Sequence[StopRef]]],
    stats: SolverStats | None = None,
) -> tuple[Plan, int]:
    """A Plan from route orders ``(vehicle id, stops)``; requests on no route are refused as
    DISPLACED (a peer gives no reasons). Returns the plan and the number of routes that had to
    fall back to the earliest schedule."""
    routes: list[Route] = []
    fallbacks = 0
    served: set[str] = set()
    for vid, stops in orders:
        if not stops:
            continue
        route, ok = timed_route(problem, problem.vehicle(vid), stops)
        fallbacks += not ok
        routes.append(route)
        served.update(rid for rid, _ in stops)
    msg = REASON_MESSAGES[Reason.DISPLACED]
    rejections = tuple(
        Rejection(r.id, Reason.DISPLACED, msg["fr"], msg["en"])
        for r in problem.requests
        if r.id not in served
    )
    return Plan(tuple(routes), rejections, stats=stats or SolverStats()), fallbacks


__all__ = ["StopRef", "build_plan", "earliest_route", "timed_route"]
