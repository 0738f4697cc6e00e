"""The edges: times, place resolution, JSON round trips, CSV, bad input naming its field."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.errors import InputError, NotFoundError
from dispatcher.io.plan import plan_from_dict, plan_to_dict
from dispatcher.io.problem import problem_from_dict, problem_from_dicts, problem_to_dict
from dispatcher.io.tables import load_fleet, load_requests
from dispatcher.io.times import format_time, parse_time
from dispatcher.model import (
    BreakTaken,
    KPIs,
    Plan,
    Reason,
    Rejection,
    Route,
    SolverStats,
    SolveStatus,
    Visit,
)
from dispatcher.territory import Territory

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 12, 1)


class CrowFly:
    """Matrices given directly: straight-line distance at 60 km/h (a legitimate matrix source)."""

    def matrices(self, points, labels=None):
        n = len(points)
        dist = [[0] * n for _ in range(n)]
        for i, (a, b) in enumerate(points):
            for j, (c, d) in enumerate(points):
                dx = (c - a) * 111_320 * math.cos(math.radians(50.0))
                dy = (d - b) * 110_574
                dist[i][j] = int(round(math.hypot(dx, dy)))
        return [[x * 60 // 1000 for x in row] for row in dist], dist


@pytest.fixture(scope="module")
def territory() -> Territory:
    return Territory.load()


def test_times_round_trip_in_winter_and_summer() -> None:
    assert format_time(8 * 3600 + 30 * 60, DAY) == "2026-12-01T08:30:00+01:00"
    assert format_time(8 * 3600, date(2026, 7, 1)) == "2026-07-01T08:00:00+02:00"
    assert parse_time("2026-12-01T08:30:00+01:00", "t", DAY) == 8 * 3600 + 30 * 60
    # the same instant given in UTC is converted to local time
    assert parse_time("2026-12-01T07:30:00+00:00", "t", DAY) == 8 * 3600 + 30 * 60
    assert parse_time("08:30", "t") == 30600
    assert parse_time("8h30", "t") == 30600
    assert format_time(30600, None) == 30600


@given(st.integers(min_value=0, max_value=2 * 86400 - 1))
def test_format_then_parse_is_identity(seconds: int) -> None:
    assert parse_time(format_time(seconds, DAY), "t", DAY) == seconds


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("25:99", "not a valid time"),
        ("tomorrow", "not a time"),
        ("³", "not a time"),
        ("2026-12-05T08:00:00+01:00", "not on the service day"),
        (None, "expected a time"),
    ],
)
def test_bad_times_name_the_field(value: object, fragment: str) -> None:
    with pytest.raises(InputError) as e:
        parse_time(value, "requests[3].arrive_by", DAY)
    assert e.value.where == "requests[3].arrive_by"
    assert fragment in e.value.message


def _problem(territory: Territory):
    reqs = load_requests(ROOT / "examples" / "requests.csv")
    fleet = load_fleet(ROOT / "examples" / "fleet.csv")
    return problem_from_dicts(reqs, fleet, territory, CrowFly(), day=DAY, name="example")


def test_example_csvs_compile_to_a_problem(territory: Territory) -> None:
    p = _problem(territory)
    assert len(p.requests) == 8 and len(p.vehicles) == 2
    r1 = p.request("r1")
    assert r1.pickup == territory.stop("Mailly-Maillet").id
    assert r1.arrive_by_s == 9 * 3600 and r1.pickup_window is None
    assert p.request("r2").return_of == "r1"
    assert p.request("r5").wheelchairs == 1
    assert p.vehicle("bus-2").breaks[0].duration_s == 45 * 60
    # every place appears once among the locations, matrices are square
    assert len({loc.id for loc in p.locations}) == len(p.locations) == len(p.duration_s)


def test_problem_json_round_trip(territory: Territory) -> None:
    p = _problem(territory)
    d = json.loads(json.dumps(problem_to_dict(p)))
    q = problem_from_dict(d)
    assert q.requests == p.requests
    assert q.vehicles == p.vehicles
    assert q.locations == p.locations
    assert q.rules == p.rules and q.params == p.params and q.weights == p.weights
    assert [list(map(int, r)) for r in q.duration_s] == [list(map(int, r)) for r in p.duration_s]
    assert d["requests"][1]["pickup_window"]["start"] == "2026-12-01T11:30:00+01:00"


def test_plan_json_round_trip(territory: Territory) -> None:
    p = _problem(territory)
    r = p.request("r3")
    plan = Plan(
        routes=(
            Route(
                "bus-1",
                25000,
                30000,
                (
                    Visit("r3", "pickup", r.pickup, 26000, 26100, 26160, 1, 0),
                    Visit("r3", "dropoff", r.dropoff, 27000, 27000, 27060, 0, 0, ride_time_s=840),
                ),
                (BreakTaken(28000, 2700, 1),),
                12345,
            ),
        ),
        rejections=(Rejection("r5", Reason.DISPLACED, "msg", "msg en", {"vehicles": ["bus-2"]}),),
        kpis=KPIs(requests=8, served=1, refused=1),
        stats=SolverStats(
            status=SolveStatus.SOLVED,
            status_detail="ROUTING_SUCCESS",
            objective=12.5,
            first_solution_s=0.1,
            total_s=1.0,
        ),
    )
    d = json.loads(json.dumps(plan_to_dict(plan, p)))
    assert d["routes"][0]["visits"][0]["start"] == format_time(26100, DAY)
    assert d["stats"]["status"] == "solved" and d["stats"]["status_detail"] == "ROUTING_SUCCESS"
    assert plan_from_dict(d, p) == plan


@pytest.mark.parametrize(
    ("old", "status"),
    [
        ("ROUTING_SUCCESS", SolveStatus.SOLVED),
        ("ALNS_ROUTING_SUCCESS_PATH_CHEAPEST_ARC_RETIMED", SolveStatus.SOLVED),
        ("ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED_ELIMINATED_1", SolveStatus.SOLVED),
        ("ROUTING_SUCCESS_FALLBACK_FIRST_PLAN", SolveStatus.SOLVED),
        ("ROUTING_OPTIMAL", SolveStatus.OPTIMAL),
        ("ROUTING_FAIL_TIMEOUT_FALLBACK_FIRST_PLAN", SolveStatus.NO_PLAN),
        ("CARPOOL_OPTIMAL+ALNS_ROUTING_SUCCESS", SolveStatus.SOLVED),
        ("CARPOOL_FEASIBLE+NO_REQUESTS", SolveStatus.SOLVED),
        ("CARPOOL_OPTIMAL+NO_VEHICLES", SolveStatus.NO_VEHICLES),
        ("UNASSIGNED_3", SolveStatus.SOLVED),
        ("something else", SolveStatus.UNKNOWN),
    ],
)
def test_a_plan_written_before_the_status_enum_still_reads(old: str, status: SolveStatus) -> None:
    """Plans used to hold one concatenated status string: it gives the outcome, and is kept
    whole as the detail."""
    d = {"schema": "dispatcher/plan/1", "routes": [], "stats": {"status": old, "total_s": 1.0}}
    plan = plan_from_dict(d)
    assert (plan.stats.status, plan.stats.status_detail, plan.stats.total_s) == (status, old, 1.0)


@pytest.mark.parametrize(
    ("old", "status"),
    [
        ("", SolveStatus.UNKNOWN),
        ("NO_REQUESTS", SolveStatus.NO_REQUESTS),
        ("NOTHING_FEASIBLE", SolveStatus.NOTHING_FEASIBLE),
    ],
)
def test_plain_old_statuses_read_without_detail(old: str, status: SolveStatus) -> None:
    plan = plan_from_dict({"routes": [], "stats": {"status": old}})
    assert (plan.stats.status, plan.stats.status_detail) == (status, "")


def test_a_status_that_is_not_a_string_is_named() -> None:
    with pytest.raises(InputError) as ei:
        plan_from_dict({"routes": [], "stats": {"status": 3}})
    assert ei.value.where == "stats.status"


@pytest.mark.parametrize(
    "change, where",
    [
        ({"seats": -1}, "requests[0].seats"),
        ({"seats": "two"}, "requests[0].seats"),
        ({"pickup": "Atlantis"}, "requests[0].pickup"),
        ({"pickup_window": ["09:00", "08:00"]}, "requests[0].pickup_window"),
        ({"arrive_by": "07:50"}, "requests[0].arrive_by"),
        ({"dropoff": "Albert", "pickup": "albert"}, "requests[0].dropoff"),
        ({"colour": "red"}, "requests[0]"),
    ],
)
def test_bad_requests_name_the_field(territory: Territory, change: dict, where: str) -> None:
    req = {
        "id": "r1",
        "pickup": "Méaulte",
        "dropoff": "Albert",
        "pickup_window": ["08:00", "08:15"],
    }
    req.update(change)
    fleet = [{"id": "bus", "start": "Albert", "shift": ["07:00", "19:00"]}]
    with pytest.raises(InputError) as e:
        problem_from_dicts([req], fleet, territory, CrowFly(), day=DAY)
    assert e.value.where == where, str(e.value)


def test_unknown_stop_suggests_nearest_names(territory: Territory) -> None:
    req = {
        "id": "r1",
        "pickup": "Meaulté-sur-Somme",
        "dropoff": "Albert",
        "pickup_window": ["08:00", "08:15"],
    }
    with pytest.raises(NotFoundError) as e:
        problem_from_dicts([req], [], territory, CrowFly(), day=DAY)
    assert "Méaulte" in e.value.message


@pytest.mark.parametrize(
    "change, where",
    [
        ({"shift": ["19:00", "07:00"]}, "vehicles[0].shift"),
        ({"seats": -3}, "vehicles[0].seats"),
        ({"kind": "rocket"}, "vehicles[0].kind"),
        (
            {"breaks": [{"window": ["12:00", "12:30"], "duration_s": 3600}]},
            "vehicles[0].breaks[0].window",
        ),
    ],
)
def test_bad_vehicles_name_the_field(territory: Territory, change: dict, where: str) -> None:
    veh = {"id": "bus", "start": "Albert", "shift": ["07:00", "19:00"]}
    veh.update(change)
    with pytest.raises(InputError) as e:
        problem_from_dicts([], [veh], territory, CrowFly(), day=DAY)
    assert e.value.where == where, str(e.value)


def test_csv_with_unknown_column_or_missing_column_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "r.csv"
    bad.write_text("id,pickup,dropof\nr1,Albert,Méaulte\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_requests(bad)
    assert "dropoff" in e.value.message and str(bad) in e.value.where


def test_semicolon_csv_from_a_french_spreadsheet(tmp_path: Path, territory: Territory) -> None:
    f = tmp_path / "r.csv"
    f.write_text(
        "id;pickup;dropoff;pickup_from;pickup_to\nr1;Méaulte;Albert;08:00;08:15\n", encoding="utf-8"
    )
    p = problem_from_dicts(load_requests(f), [], territory, CrowFly(), day=DAY)
    assert (
        p.requests[0].pickup_window is not None and p.requests[0].pickup_window.start_s == 8 * 3600
    )


def test_bad_problem_json_names_the_field(territory: Territory) -> None:
    d = problem_to_dict(_problem(territory))
    d["duration_s"][2][3] = -5
    with pytest.raises(InputError) as e:
        problem_from_dict(d)
    assert e.value.where == "duration_s[2][3]"
    d = problem_to_dict(_problem(territory))
    d["requests"][0]["dropoff"] = "nowhere"
    with pytest.raises(InputError) as e:
        problem_from_dict(d)
    assert e.value.where == "requests[0].dropoff"
    d = problem_to_dict(_problem(territory))
    d["params"]["first_solution"] = "FASTEST"  # not an OR-Tools strategy
    with pytest.raises(InputError) as e:
        problem_from_dict(d)
    assert e.value.where == "params.first_solution"


def test_vehicle_limits_survive_the_problem_json(territory: Territory) -> None:
    """Carpool and volunteer limits are part of the problem a checker reads back."""
    veh = {
        "id": "carpool-1",
        "start": "Mailly-Maillet",
        "end": "Méaulte",
        "shift": ["07:00", "09:00"],
        "seats": 3,
        "kind": "carpool",
        "max_duration_s": 1800,
        "start_window": ["07:15", "07:45"],
        "end_window": ["07:30", "08:30"],
        "allowed_stops": ["Albert", "Mailly-Maillet"],
        "cost_per_passenger_km": 0.1,
    }
    vol = {
        "id": "vol-1/am",
        "start": "Acheux-en-Amiénois",
        "shift": ["07:00", "12:30"],
        "kind": "volunteer",
        "home": "Acheux-en-Amiénois",
        "max_km_from_home": 20,
    }
    p = problem_from_dicts([], [veh, vol], territory, CrowFly(), day=DAY)
    assert p.vehicle("carpool-1").allowed_stops == (
        territory.stop("Albert").id,
        territory.stop("Mailly-Maillet").id,
    )
    assert p.vehicle("vol-1/am").home == territory.stop("Acheux-en-Amiénois").id
    q = problem_from_dict(json.loads(json.dumps(problem_to_dict(p))))
    assert q.vehicles == p.vehicles


# ---- linked trips at the edges -------------------------------------------------------------

OUT = {"id": "out", "pickup": "Méaulte", "dropoff": "Albert", "pickup_window": ["08:00", "08:15"]}
BACK = {
    "id": "back",
    "pickup": "Albert",
    "dropoff": "Méaulte",
    "pickup_window": ["11:00", "11:15"],
    "return_of": "out",
}


@pytest.mark.parametrize(
    "back, where",
    [
        ({"return_of": "back"}, "requests[1].return_of"),
        ({"return_of": "r-of-another-day"}, "requests[1].return_of"),
        ({"pickup_window": ["07:30", "07:45"]}, "requests[1].pickup_window"),
        ({"min_stay_s": -1}, "requests[1].min_stay_s"),
        ({"min_stay_s": "long"}, "requests[1].min_stay_s"),
    ],
)
def test_bad_returns_name_the_field(territory: Territory, back: dict, where: str) -> None:
    fleet = [{"id": "bus", "start": "Albert", "shift": ["07:00", "19:00"]}]
    with pytest.raises(InputError) as e:
        problem_from_dicts([OUT, {**BACK, **back}], fleet, territory, CrowFly(), day=DAY)
    assert e.value.where == where, str(e.value)


def test_min_stay_in_csv_minutes_and_json_seconds(tmp_path: Path, territory: Territory) -> None:
    f = tmp_path / "r.csv"
    f.write_text(
        "id,pickup,dropoff,pickup_from,pickup_to,arrive_by,return_of,min_stay_min\n"
        "out,Méaulte,Albert,,,09:00,,\n"
        "back,Albert,Méaulte,09:30,09:45,,out,25\n"
        "plain,Albert,Méaulte,16:00,16:15,,,\n",
        encoding="utf-8",
    )
    rows = load_requests(f)
    assert rows[1]["min_stay_s"] == 25 * 60 and "min_stay_s" not in rows[2]
    p = problem_from_dicts(rows, [], territory, CrowFly(), day=DAY)
    assert p.request("back").min_stay_s == 1500 and p.request("plain").min_stay_s == 900
    q = problem_from_dict(json.loads(json.dumps(problem_to_dict(p))))
    assert q.request("back").min_stay_s == 1500 and q.request("back").return_of == "out"
    f.write_text(
        "id,pickup,dropoff,pickup_from,pickup_to,return_of,min_stay_min\n"
        "back,Albert,Méaulte,09:30,09:45,,quarter\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as e:
        load_requests(f)
    assert "must be whole minutes" in e.value.message
    assert e.value.where.endswith("r.csv: line 2, column min_stay_min")
