"""Benchmark readers: the three families as Problems, layout detection, and the published
solutions (a2-16 optimum, Li & Lim best-known) re-evaluated by the project's checker."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.peers import build_plan
from dispatcher.errors import DataError
from dispatcher.solver.checker import check_plan
from dispatcher.tuning.instances import (
    DEFAULT_SCALE,
    cordeau_layout,
    extra_violations,
    load_bks,
    load_instance,
    plan_cost,
    read_cordeau,
    read_li_lim_solution,
    route_stops,
)

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "benchmarks"
S = DEFAULT_SCALE

needs_shared = pytest.mark.skipif(
    not (SHARED / "bks.csv").exists(), reason=f"shared benchmark data not found under {SHARED}"
)


# ---- layouts, on tiny files written here (no shared data needed) ------------------------------

PR_TINY = """1 4 480 6 90
0 0.0 0.0 0 0 0 1440
1 3.0 4.0 10 1 60 90
2 -3.0 0.0 10 1 0 1440
3 6.0 8.0 10 -1 0 1440
4 0.0 0.0 10 -1 100 130
"""

AB_TINY = """1 2 480 3 30
0 0.0 0.0 0 0 0 480
1 3.0 4.0 3 1 60 90
2 -3.0 0.0 3 1 0 1440
3 6.0 8.0 3 -1 0 1440
4 0.0 1.0 3 -1 100 130
5 0.0 0.0 0 0 0 480
"""


def test_pr_layout_is_detected_and_read(tmp_path: Path) -> None:
    f = tmp_path / "pr00.txt"
    f.write_text(PR_TINY)
    inst = read_cordeau(f)
    assert inst.layout == "pr"
    p = inst.problem
    assert [r.id for r in p.requests] == ["1", "2"]
    assert (p.requests[0].pickup, p.requests[0].dropoff) == ("1", "3")
    assert (p.requests[1].pickup, p.requests[1].dropoff) == ("2", "4")
    v = p.vehicles[0]
    assert (v.start, v.end, v.seats) == ("0", "0", 6)  # node 0 closes the route
    assert (v.shift.start_s, v.shift.end_s) == (0, 1440 * S)  # the depot window, not T
    assert inst.max_route_duration == 480  # T as read, re-checked beside the checker
    assert all(v.max_duration_s == 480 * S for v in p.vehicles)  # and held by the model
    r1 = p.requests[0]
    assert p.max_ride_s(r1) == 90 * S and p.boarding_s(r1) == 10 * S and p.alighting_s(r1) == 10 * S
    assert p.pickup_tw(r1).start_s == 60 * S and p.pickup_tw(r1).end_s == 90 * S
    # 3-4-5 triangle: exact integer distance stays exact
    assert p.duration_s[p.index("0")][p.index("1")] == 5 * S
    assert inst.euclid[0][1] == pytest.approx(5.0)


def test_pr_route_duration_is_checked_beside_the_problem(tmp_path: Path) -> None:
    f = tmp_path / "pr00.txt"
    f.write_text(PR_TINY)
    inst = read_cordeau(f)
    plan, _ = build_plan(
        inst.problem,
        [("v0", [("2", "pickup"), ("1", "pickup"), ("1", "dropoff"), ("2", "dropoff")])],
    )
    route = plan.routes[0]
    assert check_plan(inst.problem, plan).ok
    within = extra_violations(inst, plan)
    assert (route.end_s - route.start_s <= 480 * S) == (not within)
    short = read_cordeau(f)
    object.__setattr__(short, "max_route_duration", (route.end_s - route.start_s) / S - 1)
    assert extra_violations(short, plan) and "duration" in extra_violations(short, plan)[0]


def test_ab_layout_is_detected_and_read(tmp_path: Path) -> None:
    f = tmp_path / "a1-2.txt"
    f.write_text(AB_TINY)
    inst = read_cordeau(f)
    assert inst.layout == "ab"
    v = inst.problem.vehicles[0]
    assert (v.start, v.end, v.shift.end_s) == ("0", "5", 480 * S)
    assert inst.max_route_duration is None  # depot window [0, T] is the duration limit
    assert v.max_duration_s is None


def test_layout_mismatch_is_a_named_data_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text(AB_TINY.rsplit("\n", 2)[0] + "\n")  # drop the end-depot line: 5 lines for n=2
    with pytest.raises(DataError) as e:
        read_cordeau(f)
    assert "bad.txt" in str(e.value) and "layout" in str(e.value)
    assert cordeau_layout([["1", "4", "480", "6", "90"]] + [["x"]] * 5) == ("pr", 2)
    assert cordeau_layout([["1", "2", "480", "3", "30"]] + [["x"]] * 6) == ("ab", 2)


# ---- the shared instances ----------------------------------------------------------------------


@pytest.mark.shared
@needs_shared
def test_read_a2_16() -> None:
    inst = load_instance("darp", "a2-16", SHARED)
    p = inst.problem
    assert (len(p.requests), len(p.vehicles), inst.layout) == (16, 2, "ab")
    assert inst.bks_cost == pytest.approx(294.25) and inst.bks_vehicles is None
    assert all(v.seats == 3 and v.shift.end_s == 480 * S for v in p.vehicles)
    assert all(p.max_ride_s(r) == 30 * S and p.boarding_s(r) == 3 * S for r in p.requests)
    # outbound request 1: free pickup, tight drop-off; inbound request 9: tight pickup
    r1, r9 = p.request("1"), p.request("9")
    assert p.dropoff_tw(r1).end_s - p.dropoff_tw(r1).start_s == 15 * S
    assert p.pickup_tw(r9).end_s - p.pickup_tw(r9).start_s == 15 * S
    # travel times rounded up, never down; distances to the nearest unit
    for i in range(len(p.locations)):
        for j in range(len(p.locations)):
            d = inst.euclid[i][j] * S
            assert d - 1e-6 <= p.duration_s[i][j] < d + 1
            assert abs(p.distance_m[i][j] - d) <= 0.5


@pytest.mark.shared
@needs_shared
def test_read_lc101() -> None:
    inst = load_instance("pdptw", "lc101", SHARED)
    p = inst.problem
    assert (len(p.requests), len(p.vehicles)) == (53, 25)
    assert (inst.bks_cost, inst.bks_vehicles) == (pytest.approx(828.9369), 10)
    r = p.request("3")  # task 3 picks up 10 units delivered at task 75
    assert (r.pickup, r.dropoff, r.seats) == ("3", "75", 10)
    assert (r.pickup_window.start_s, r.pickup_window.end_s) == (65 * S, 146 * S)  # type: ignore[union-attr]
    assert p.boarding_s(r) == 90 * S
    assert all(
        v.seats == 200 and v.fixed_cost > 0 and v.shift.end_s == 1236 * S for v in p.vehicles
    )


@pytest.mark.shared
@needs_shared
def test_read_solomon_c101() -> None:
    inst = load_instance("vrptw", "C101", SHARED)
    p = inst.problem
    assert (len(p.requests), len(p.vehicles)) == (100, 25)
    assert inst.bks_vehicles == 10 and inst.bks_cost == pytest.approx(828.94)
    assert all(
        r.pickup == "0" and p.pickup_tw(r).start_s == p.pickup_tw(r).end_s == 0 for r in p.requests
    )
    r5 = p.request("5")
    assert (r5.dropoff, r5.seats, r5.not_before_s, r5.arrive_by_s, p.alighting_s(r5)) == (
        "5",
        10,
        15 * S,
        67 * S,
        90 * S,
    )
    # the drop-off window is tightened by the drive from the depot (15.13 units)
    assert p.dropoff_tw(r5).start_s == p.duration_s[0][5] == math.ceil(inst.euclid[0][5] * S)


@pytest.mark.shared
@needs_shared
def test_vrptw_reload_mid_route_is_refused_by_the_checker() -> None:
    """A pickup at the depot after a drop-off (a reload) breaks the [0, 0] pickup window."""
    inst = load_instance("vrptw", "C101", SHARED)
    upfront = [("5", "pickup"), ("3", "pickup"), ("5", "dropoff"), ("3", "dropoff")]
    reload = [("5", "pickup"), ("5", "dropoff"), ("3", "pickup"), ("3", "dropoff")]
    ok, _ = build_plan(inst.problem, [("v0", upfront)])
    bad, _ = build_plan(inst.problem, [("v0", reload)])
    assert "time_window" not in check_plan(inst.problem, ok).codes
    assert "time_window" in check_plan(inst.problem, bad).codes


@pytest.mark.shared
@needs_shared
def test_a2_16_reference_solution_is_feasible_at_its_cost() -> None:
    inst = load_instance("darp", "a2-16", SHARED)
    data = json.loads(
        (SHARED / "darp" / "reference_solutions" / "a2-16_mip_brenobeirigo.json").read_text()
    )
    orders = [
        (f"v{k}", route_stops(inst, [node for node, _ in seq]))
        for k, seq in enumerate(data["routes"])
    ]
    plan, fallbacks = build_plan(inst.problem, orders)
    report = check_plan(inst.problem, plan)
    assert report.ok, report.summary()
    assert fallbacks == 0 and report.recomputed["served"] == 16
    assert plan_cost(inst, plan) == pytest.approx(294.248, abs=1e-3)
    assert plan_cost(inst, plan) == pytest.approx(data["claimed_cost"], abs=1e-9)


@pytest.mark.shared
@needs_shared
@pytest.mark.parametrize("name", ["lc101", "lrc105"])
def test_li_lim_best_known_solutions_reevaluate(name: str) -> None:
    files = list((SHARED / "pdptw" / "li_lim_100_bks_solutions").glob(f"{name}.*.txt"))
    assert len(files) == 1
    routes_s, dist_s = files[0].name[len(name) + 1 : -4].split("_")
    inst = load_instance("pdptw", name, SHARED)
    seqs = read_li_lim_solution(files[0])
    plan, _ = build_plan(
        inst.problem, [(f"v{k}", route_stops(inst, s)) for k, s in enumerate(seqs)]
    )
    report = check_plan(inst.problem, plan)
    assert report.ok, report.summary()
    assert report.recomputed["served"] == len(inst.problem.requests)
    assert report.recomputed["vehicles_used"] == int(routes_s) == inst.bks_vehicles
    cost = plan_cost(inst, plan)
    assert math.isclose(cost, float(dist_s), rel_tol=5e-5)
    assert math.isclose(cost, inst.bks_cost or 0.0, rel_tol=5e-5)


@pytest.mark.shared
@needs_shared
def test_bks_table_covers_every_family() -> None:
    bks = load_bks(SHARED)
    fams = {f for f, _ in bks}
    assert fams == {"darp", "pdptw", "vrptw"}
    assert sum(1 for f, _ in bks if f == "darp") == 24
    assert all(v is None for (f, _), (_, v) in bks.items() if f == "darp")


def test_a_broken_instance_line_is_named_as_an_editor_counts(tmp_path: Path) -> None:
    from dispatcher.errors import DataError
    from dispatcher.tuning.instances import read_li_lim

    f = tmp_path / "lc101.txt"
    f.write_text("25 200 1\n\n0 40 50 0 0 1236 0 0 0\n1 45 68\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_li_lim(f)
    assert e.value.where == f"{f}: line 4"  # the header is line 1, the empty line 2 counts
