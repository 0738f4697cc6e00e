"""Route elimination after the search: a route goes only when every one of its requests fits
elsewhere and the day costs less; the checker judges the result."""

from __future__ import annotations

from dispatcher.model import Plan, Request, TimeWindow, Vehicle
from dispatcher.solver.checker import check_plan
from tests.solver.test_routing import H, problem, pw


def served(plan: Plan) -> set[str]:
    return {v.request_id for r in plan.routes for v in r.visits}


def test_eliminate_routes_moves_a_lone_request_onto_another_bus() -> None:
    from dispatcher.solver.route_elimination import eliminate_routes, plan_cost_eur
    from dispatcher.solver.schedule import schedule_route

    r1 = Request("r1", "A", "C", pickup_window=pw(8))
    r2 = Request("r2", "B", "E", pickup_window=pw(8))
    a = Vehicle("a", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, fixed_cost=50.0)
    b = Vehicle("b", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, fixed_cost=50.0)
    p = problem([r1, r2], [a, b])
    ra = schedule_route(p, a, [(r1, "pickup"), (r1, "dropoff")])
    rb = schedule_route(p, b, [(r2, "pickup"), (r2, "dropoff")])
    assert ra is not None and rb is not None
    routes, gone = eliminate_routes(p, [ra, rb])
    assert gone == 1
    assert len([r for r in routes if r.visits]) == 1
    plan = Plan(routes=tuple(routes))
    assert check_plan(p, plan).ok
    assert served(plan) == {"r1", "r2"}
    assert plan_cost_eur(p, routes) < plan_cost_eur(p, [ra, rb])


def test_eliminate_routes_keeps_routes_whose_requests_fit_nowhere_else() -> None:
    from dispatcher.solver.route_elimination import eliminate_routes
    from dispatcher.solver.schedule import schedule_route

    ra_req = Request("a", "A", "G", pickup_window=pw(8, 5))
    rb_req = Request("b", "G", "A", pickup_window=pw(8, 5))
    va = Vehicle("va", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, fixed_cost=50.0)
    vb = Vehicle("vb", "D", "D", TimeWindow(7 * H, 12 * H), seats=8, fixed_cost=50.0)
    p = problem([ra_req, rb_req], [va, vb])
    ra = schedule_route(p, va, [(ra_req, "pickup"), (ra_req, "dropoff")])
    rb = schedule_route(p, vb, [(rb_req, "pickup"), (rb_req, "dropoff")])
    assert ra is not None and rb is not None
    routes, gone = eliminate_routes(p, [ra, rb])
    assert gone == 0
    assert served(Plan(routes=tuple(routes))) == {"a", "b"}
