"""Real-time insertion on the tiny instance and on generated ones: every answer is judged by the
independent checker; the queue-based timing agrees with the plain Bellman-Ford sweep."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.model import Plan, Problem, Request, TimeWindow
from dispatcher.solver.checker import check_plan
from dispatcher.solver.insertion import (
    find_insertion,
    remove_from_plan,
    with_request,
    without_request,
)
from dispatcher.solver.schedule import RouteTimer, schedule_route

from .conftest import hm, tiny_plan, tiny_problem
from .strategies import problems


def _empty(problem: Problem) -> tuple[Problem, Plan]:
    return replace(problem, requests=()), Plan(routes=())


def test_insert_into_empty_day_is_checked_valid() -> None:
    base, plan = _empty(tiny_problem())
    r1 = tiny_problem().request("r1")
    p1 = with_request(base, r1)
    ins = find_insertion(p1, plan, r1)
    assert ins is not None
    assert check_plan(p1, ins.plan).ok, check_plan(p1, ins.plan).summary()
    assert p1.pickup_tw(r1).contains(ins.pickup_s)
    r2 = tiny_problem().request("r2")
    p2 = with_request(p1, r2)
    ins2 = find_insertion(p2, ins.plan, r2)
    assert ins2 is not None
    assert check_plan(p2, ins2.plan).ok, check_plan(p2, ins2.plan).summary()
    assert set(ins2.plan.served_ids) == {"r1", "r2"}


def test_insert_into_the_hand_made_plan() -> None:
    problem = tiny_problem()
    r3 = Request("r3", "A", "B", seats=1, pickup_window=TimeWindow(hm(8, 40), hm(8, 55)))
    p = with_request(problem, r3)
    ins = find_insertion(p, tiny_plan(), r3)
    assert ins is not None
    rep = check_plan(p, ins.plan)
    assert rep.ok, rep.summary()
    # the other passengers are still served, at times inside their windows (checked above)
    assert set(ins.plan.served_ids) == {"r1", "r2", "r3"}


def test_no_insertion_when_no_vehicle_has_room() -> None:
    problem = tiny_problem()
    big = Request("r9", "A", "C", seats=4, pickup_window=TimeWindow(hm(8, 0), hm(8, 15)))
    p = with_request(problem, big)
    assert find_insertion(p, tiny_plan(), big) is None


def test_no_insertion_before_now() -> None:
    """With the clock at 08:05 r1's pickup is done; a request whose window closes before the
    next free position cannot go before it."""
    problem = tiny_problem(with_van=False)
    r3 = Request("r3", "A", "B", seats=1, pickup_window=TimeWindow(hm(7, 30), hm(8, 4)))
    p = with_request(problem, r3)
    assert find_insertion(p, tiny_plan(), r3, now_s=hm(8, 5)) is None


def test_removal_leaves_a_valid_plan() -> None:
    problem = tiny_problem()
    p = without_request(problem, "r2")
    plan = remove_from_plan(p, tiny_plan(), "r2")
    rep = check_plan(p, plan)
    assert rep.ok, rep.summary()
    assert plan.served_ids == ["r1"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_requests=6, max_vehicles=2), st.randoms(use_true_random=False))
def test_queue_shortest_paths_agree_with_the_sweep(problem: Problem, rnd: object) -> None:
    """Same network, same answer: the queue-based Bellman-Ford of RouteTimer gives the plain
    sweep's greatest and least solutions and the same infeasibility verdict, for every leg of
    the first break; a break-leg hint never makes a timeable order untimeable."""
    import random

    assert isinstance(rnd, random.Random)
    for v in problem.vehicles:
        reqs = [
            r for r in problem.requests if r.seats <= v.seats and r.wheelchairs <= v.wheelchairs
        ][:4]
        order: list[tuple[Request, str]] = []
        for r in reqs:
            i = rnd.randint(0, len(order))
            j = rnd.randint(i, len(order))
            order = order[:i] + [(r, "pickup")] + order[i:j] + [(r, "dropoff")] + order[j:]
        timer = RouteTimer(problem, v, order)  # type: ignore[arg-type]
        nb = len(timer.breaks or ())
        for g in range(len(order) + 1):
            net = timer._network([g] * nb)
            if net is None:
                continue
            assert RouteTimer._latest(net) == RouteTimer._latest_sweep(net)
            rev = type(net)(net.n_vars, [(b, a, c) for a, b, c in net.edges])
            assert RouteTimer._latest(rev) == RouteTimer._latest_sweep(rev)
        plain = schedule_route(problem, v, order)  # type: ignore[arg-type]
        hinted = schedule_route(problem, v, order, hint_gaps=[rnd.randint(0, len(order))] * nb)  # type: ignore[arg-type]
        assert (plain is None) == (hinted is None)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_requests=7, max_vehicles=3))
def test_sequential_insertion_is_always_valid(problem: Problem) -> None:
    """Booking every request of a generated day one by one: each accepted one stays, and the
    plan passes the checker after every step."""
    live, plan = _empty(problem)
    accepted: list[str] = []
    for r in problem.requests:
        p = with_request(live, r)
        ins = find_insertion(p, plan, r)
        if ins is None:
            continue
        live, plan = p, ins.plan
        accepted.append(r.id)
        rep = check_plan(live, plan)
        assert rep.ok, rep.summary()
        assert set(plan.served_ids) == set(accepted)
