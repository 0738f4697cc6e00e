"""VROOM (pyvroom 1.15) as a peer: the project's Problem as a ``vroom.Input``, its solution back
as a project Plan (timed by the model's conventions, judged by the project's checker).

Mapping. The Problem's integer matrices are given as VROOM's duration and distance matrices of
one profile (location index = position in ``problem.locations``). A request becomes a
``Shipment`` (pickup and delivery steps with ``problem.pickup_tw``/``dropoff_tw``, boarding and
alighting as service, ``[seats, wheelchairs]`` as amount); when every request is picked up at
the common depot (Solomon's VRPTW read as requests) it becomes a delivery ``Job``. Costs are
integers in milli-euros: ``per_km = cost_per_km * 1000`` (so a metre costs ``cost_per_km``
milli-euros), ``per_hour = cost_per_hour * 1000``, ``fixed = fixed_cost * 1000``.

Not expressed: ride-time limits (VROOM has none: on DARP this is a relaxation, labelled as such by
the runner). Breaks are not passed either. VROOM runs on one thread, exploration level 5, with
the time limit as its timeout (it may stop earlier when its search is exhausted).
"""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np

from benchmarks.peers import StopRef, build_plan, refuse_live
from benchmarks.peers.pyvrp_adapter import is_depot_delivery
from dispatcher.model import Plan, Problem, SolverParams, SolverStats, SolveStatus
from dispatcher.solver import InitialRoutes, Pins
from dispatcher.solver.schedule import stop_window

NAME = "vroom"
PROFILE = "car"


class VroomSolver:
    """Implements ``dispatcher.solver.Solver`` with VROOM."""

    name = NAME

    def __init__(
        self, params: SolverParams | None = None, exploration_level: int = 5, threads: int = 1
    ) -> None:
        self.params = params
        self.exploration_level = exploration_level
        self.threads = threads
        self.fallbacks = 0

    def solve(
        self,
        problem: Problem,
        *,
        initial_routes: InitialRoutes | None = None,
        pinned: Pins | None = None,
    ) -> Plan:
        refuse_live(NAME, initial_routes, pinned)
        import vroom

        params = self.params or problem.params
        t0 = time.perf_counter()
        inp = vroom.Input()
        inp.set_durations_matrix(PROFILE, np.asarray(problem.duration_s, dtype=np.uint32))
        inp.set_distances_matrix(PROFILE, np.asarray(problem.distance_m, dtype=np.uint32))
        dims = 2 if any(r.wheelchairs for r in problem.requests) else 1

        def amount(seats: int, wheelchairs: int) -> vroom.Amount:
            return vroom.Amount([seats, wheelchairs][:dims])

        for k, v in enumerate(problem.vehicles):
            inp.add_vehicle(
                vroom.Vehicle(
                    k,
                    start=problem.index(v.start),
                    end=problem.index(v.end),
                    profile=PROFILE,
                    capacity=amount(v.seats, v.wheelchairs),
                    time_window=vroom.TimeWindow(v.shift.start_s, v.shift.end_s),
                    costs=vroom.VehicleCosts(
                        fixed=round(v.fixed_cost * 1000),
                        per_hour=round(v.cost_per_hour * 1000),
                        per_km=round(v.cost_per_km * 1000),
                    ),
                )
            )
        delivery_only = is_depot_delivery(problem)
        req_ids: list[str] = []
        for r in problem.requests:
            ptw, dtw = stop_window(problem, r, "pickup"), stop_window(problem, r, "dropoff")
            if ptw is None or dtw is None:
                continue
            q = len(req_ids)
            req_ids.append(r.id)
            if delivery_only:
                inp.add_job(
                    vroom.Job(
                        q,
                        problem.index(r.dropoff),
                        default_service=problem.alighting_s(r),
                        delivery=amount(r.seats, r.wheelchairs),
                        time_windows=[vroom.TimeWindow(dtw.start_s, dtw.end_s)],
                    )
                )
            else:
                inp.add_shipment(
                    vroom.ShipmentStep(
                        q,
                        problem.index(r.pickup),
                        default_service=problem.boarding_s(r),
                        time_windows=[vroom.TimeWindow(ptw.start_s, ptw.end_s)],
                    ),
                    vroom.ShipmentStep(
                        q,
                        problem.index(r.dropoff),
                        default_service=problem.alighting_s(r),
                        time_windows=[vroom.TimeWindow(dtw.start_s, dtw.end_s)],
                    ),
                    amount=amount(r.seats, r.wheelchairs),
                )
        limit = params.effective_time_limit_s - (time.perf_counter() - t0)
        sol = inp.solve(
            exploration_level=self.exploration_level,
            nb_threads=self.threads,
            timeout=timedelta(seconds=max(0.05, limit)),
        )
        frame = sol.routes
        orders: list[tuple[str, list[StopRef]]] = []
        for vk, rows in frame.groupby("vehicle_id", sort=True):
            stops: list[StopRef] = []
            for typ, jid in zip(rows["type"], rows["id"], strict=True):
                if typ == "pickup":
                    stops.append((req_ids[int(jid)], "pickup"))
                elif typ in ("delivery", "job"):
                    stops.append((req_ids[int(jid)], "dropoff"))
            if delivery_only:
                stops = [(rid, "pickup") for rid, _ in stops] + stops
            orders.append((problem.vehicles[int(vk)].id, stops))
        stats = SolverStats(
            status=SolveStatus.SOLVED,
            status_detail=f"UNASSIGNED_{sol.summary.unassigned}" if sol.summary.unassigned else "",
            objective=sol.summary.cost / 1000.0,
            first_solution_s=None,
            total_s=time.perf_counter() - t0,
            solver=NAME,
        )
        plan, self.fallbacks = build_plan(problem, orders, stats)
        return plan


__all__ = ["NAME", "VroomSolver"]
