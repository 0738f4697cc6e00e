"""Fixtures for the solver tests: a tiny hand-checkable instance and its valid plan.

Places D (depot), A, B, C; durations in seconds (distances are ten times them, in metres):

        D     A     B     C
  D     0   600   900  1200
  A   600     0   600   900
  B   900   600     0   600
  C  1200   900   600     0

bus-1: 3 seats, no wheelchair place, shift 07:00-12:00, a 20 min break in 09:00-10:30.
van-2: 2 seats, 1 wheelchair place, shift 07:00-12:00, no break.
r1: A -> C, 1 seat, pickup 08:00-08:15.  r2: B -> C, 2 seats, pickup 08:10-08:30.
Boarding and alighting 60 s; max ride = min(1.5 t + 600, t + 1800): 1950 s for r1, 1500 s for r2.

The valid plan (times by hand):
  bus-1 leaves D 07:50, A arr 08:00 start 08:00 dep 08:01 (r1 pickup, load 1),
  B arr 08:11 start 08:11 dep 08:12 (r2 pickup, load 3), C arr 08:22 start 08:22 dep 08:23
  (r1 drop-off, load 2, ride 08:22 - 08:01 = 1260 s), C arr 08:23 start 08:23 dep 08:24
  (r2 drop-off, load 0, ride 08:23 - 08:12 = 660 s), break 09:00-09:20 on the last leg, back at
  D 09:20
  (36 min between 08:24 and 09:20 off break for a 20 min drive).
  Distance 6000 + 6000 + 6000 + 0 + 12000 = 30000 m.
"""

from __future__ import annotations

import pytest

from dispatcher.model import (
    Break,
    BreakTaken,
    Location,
    Plan,
    Problem,
    Request,
    Route,
    TimeWindow,
    Vehicle,
    Visit,
)

H = 3600
M = 60

DURATIONS = [
    [0, 600, 900, 1200],
    [600, 0, 600, 900],
    [900, 600, 0, 600],
    [1200, 900, 600, 0],
]


def hm(h: int, m: int, s: int = 0) -> int:
    return h * H + m * M + s


def tiny_problem(
    *,
    r1: dict[str, object] | None = None,
    r2: dict[str, object] | None = None,
    bus: dict[str, object] | None = None,
    van: dict[str, object] | None = None,
    with_van: bool = True,
    durations: list[list[int]] | None = None,
    extra_requests: tuple[Request, ...] = (),
    rules: object = None,
) -> Problem:
    """The tiny instance, with fields of r1/r2/bus-1 overridden for variants."""
    locs = tuple(Location(x, float(i), 0.0) for i, x in enumerate("DABC"))
    dur = DURATIONS if durations is None else durations
    dist = [[10 * d for d in row] for row in dur]
    req1 = {
        "id": "r1",
        "pickup": "A",
        "dropoff": "C",
        "seats": 1,
        "pickup_window": TimeWindow(hm(8, 0), hm(8, 15)),
    }
    req2 = {
        "id": "r2",
        "pickup": "B",
        "dropoff": "C",
        "seats": 2,
        "pickup_window": TimeWindow(hm(8, 10), hm(8, 30)),
    }
    req1.update(r1 or {})
    req2.update(r2 or {})
    b = {
        "id": "bus-1",
        "start": "D",
        "end": "D",
        "shift": TimeWindow(hm(7, 0), hm(12, 0)),
        "seats": 3,
        "wheelchairs": 0,
        "breaks": (Break(TimeWindow(hm(9, 0), hm(10, 30)), 20 * M),),
    }
    b.update(bus or {})
    v2 = {
        "id": "van-2",
        "start": "D",
        "end": "D",
        "shift": TimeWindow(hm(7, 0), hm(12, 0)),
        "seats": 2,
        "wheelchairs": 1,
    }
    v2.update(van or {})
    fleet = (Vehicle(**b), Vehicle(**v2)) if with_van else (Vehicle(**b),)  # type: ignore[arg-type]
    kwargs = {} if rules is None else {"rules": rules}
    return Problem(
        locs,
        dur,
        dist,
        (Request(**req1), Request(**req2), *extra_requests),  # type: ignore[arg-type]
        fleet,
        name="tiny",
        **kwargs,  # type: ignore[arg-type]
    )


def tiny_plan() -> Plan:
    visits = (
        Visit("r1", "pickup", "A", hm(8, 0), hm(8, 0), hm(8, 1), 1, 0),
        Visit("r2", "pickup", "B", hm(8, 11), hm(8, 11), hm(8, 12), 3, 0),
        Visit("r1", "dropoff", "C", hm(8, 22), hm(8, 22), hm(8, 23), 2, 0, ride_time_s=1260),
        Visit("r2", "dropoff", "C", hm(8, 23), hm(8, 23), hm(8, 24), 0, 0, ride_time_s=660),
    )
    route = Route("bus-1", hm(7, 50), hm(9, 20), visits, (BreakTaken(hm(9, 0), 20 * M, 3),), 30000)
    return Plan((route,))


@pytest.fixture
def problem() -> Problem:
    return tiny_problem()


@pytest.fixture
def plan() -> Plan:
    return tiny_plan()
