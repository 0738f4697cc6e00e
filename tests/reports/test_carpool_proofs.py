"""Carpool proof records: one journey per passenger of a carpool driver, identities as salted
hashes, the fare rules' contribution and incentive, written by the command line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from dispatcher.cli import app
from dispatcher.fares import load_fare_rules
from dispatcher.fares.plan import plan_fares
from dispatcher.io.files import write_json
from dispatcher.io.plan import plan_to_dict
from dispatcher.io.problem import problem_to_dict
from dispatcher.model import Location, Plan, Problem, Request, Route, TimeWindow, Vehicle, Visit
from dispatcher.reports.carpool_proofs import carpool_proofs, identity_key

H = 3600


def day() -> tuple[Problem, Plan]:
    locs = (
        Location("home", 2.70, 50.05, "Home"),
        Location("a", 2.60, 50.00, "A"),
        Location("b", 2.65, 50.01, "B"),
        Location("work", 2.64, 50.00, "Work"),
    )
    d = np.array(
        [
            [0, 8000, 9000, 10000],
            [8000, 0, 23400, 5000],
            [9000, 23400, 0, 4000],
            [10000, 5000, 4000, 0],
        ],
        dtype=np.int32,
    )
    reqs = (
        Request("r1", "a", "b", pickup_window=TimeWindow(8 * H, 9 * H), phone="03 22 11 22 33"),
        Request("r2", "b", "work", seats=2, pickup_window=TimeWindow(8 * H, 9 * H)),
        Request("r3", "a", "work", pickup_window=TimeWindow(8 * H, 9 * H)),
    )
    vehs = (
        Vehicle(
            "car-1", "home", "work", TimeWindow(7 * H, 10 * H), kind="carpool", phone="0611223344"
        ),
        Vehicle("bus", "home", "home", TimeWindow(7 * H, 10 * H)),
    )
    p = Problem(locs, d // 10, d, reqs, vehs, day=date(2030, 1, 8))
    t = 8 * H
    car = Route(
        "car-1",
        7 * H,
        10 * H,
        (
            Visit("r1", "pickup", "a", t, t, t + 60, 1, 0),
            Visit("r2", "pickup", "b", t + 2400, t + 2400, t + 2460, 3, 0),
            Visit("r1", "dropoff", "b", t + 2460, t + 2460, t + 2520, 2, 0, 2400),
            Visit("r2", "dropoff", "work", t + 2900, t + 2900, t + 2960, 0, 0, 440),
        ),
    )
    bus = Route(
        "bus",
        7 * H,
        10 * H,
        (
            Visit("r3", "pickup", "a", t, t, t + 60, 1, 0),
            Visit("r3", "dropoff", "work", t + 600, t + 600, t + 660, 0, 0, 540),
        ),
    )
    return p, Plan(routes=(car, bus))


def test_one_record_per_carpool_passenger() -> None:
    p, plan = day()
    rules = load_fare_rules()
    salt = b"s" * 32
    out = carpool_proofs(
        p,
        plan,
        plan_fares(rules, p, plan),
        operator_id="op",
        salt=salt,
        incentive_siren="248000747",
    )
    j = {x["operator_journey_id"]: x for x in out["journeys"]}
    assert set(j) == {"2030-01-08:car-1:r1", "2030-01-08:car-1:r2"}  # the bus rider is not one
    r1, r2 = j["2030-01-08:car-1:r1"], j["2030-01-08:car-1:r2"]
    # r1: 23,4 km direct -> 2,34 € (0,10 €/km); r2: 4 km -> the 1,00 € minimum, per passenger (2)
    assert (r1["passenger"]["contribution"], r2["passenger"]["contribution"]) == (234, 200)
    assert r1["incentives"] == [{"index": 0, "siret": "248000747", "amount": 150}]
    assert r2["incentives"][0]["amount"] == 300 and r2["passenger"]["seats"] == 2
    assert r1["driver"]["revenue"] == 234 + 150
    # times in UTC (08:00 in Paris is 07:00Z in January), planned positions, distance on board
    assert r1["start"] == {"datetime": "2030-01-08T07:00:00Z", "lat": 50.0, "lon": 2.6}
    assert r1["end"]["datetime"] == "2030-01-08T07:41:00Z"
    assert r1["distance"] == 23400  # a -> b (r2 boards at b, after)
    # pseudonyms: the salted hash of the E.164 phone number, the same for the same person
    assert r1["passenger"]["identity"]["identity_key"] == identity_key(salt, "+33322112233")
    assert r1["driver"]["identity"] == r2["driver"]["identity"]
    text = json.dumps(out)
    assert "0611223344" not in text and "22 11 22 33" not in text and "+33611223344" not in text
    other = carpool_proofs(p, plan, {}, operator_id="op", salt=b"t" * 32)
    assert other["journeys"][0]["driver"]["identity"] != r1["driver"]["identity"]  # per operator


def test_the_command_writes_them(tmp_path: Path) -> None:
    p, plan = day()
    write_json(tmp_path / "problem.json", problem_to_dict(p))
    write_json(tmp_path / "plan.json", plan_to_dict(plan, p))
    salt = tmp_path / "salt"
    r = CliRunner().invoke(
        app,
        [
            "report",
            "carpool-proofs",
            str(tmp_path / "problem.json"),
            str(tmp_path / "plan.json"),
            "--out",
            str(tmp_path / "proofs.json"),
            "--salt-file",
            str(salt),
            "--operator-id",
            "cc-coquelicot",
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "proofs.json").read_text())
    assert data["operator_id"] == "cc-coquelicot" and len(data["journeys"]) == 2
    assert salt.stat().st_mode & 0o777 == 0o600
