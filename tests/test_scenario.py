"""Scenario files: the example parses, variants override the base, and every bad file gets an
error naming the key; a tiny scenario runs in-process, on local processes and on Dask."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from dispatcher.errors import InputError
from dispatcher.scenario import load_scenario, run_scenario, scenario_from_dict

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "scenarios" / "coquelicot.toml"

TINY = """
name = "tiny"
day = 2026-12-01
seeds = [1, 2]
time_limit_s = 0.5
reach_minutes = 15

[base]
territory = ["coquelicot"]
demand = { requests = 8 }
fleet = { vehicles = 2, wheelchair = 1 }

[[variants]]
name = "two buses"

[[variants]]
name = "one bus, one volunteer"
fleet.vehicles = 1
fleet.volunteers = 1
rules.service_hours = ["08:00", "18:00"]
"""


def test_example_parses_with_pilot_and_neighbours() -> None:
    sc = load_scenario(EXAMPLE)
    assert len(sc.variants) >= 2 and len(sc.seeds) >= 1
    assert sc.variants[0].territory == ("coquelicot",)
    big = sc.variants[-1]
    assert set(big.territory) == {"coquelicot", "val-de-somme", "haute-somme", "amiens"}
    # variants inherit the base key by key
    assert big.demand.wheelchair_share == sc.variants[0].demand.wheelchair_share
    assert big.fleet.break_min == sc.variants[0].fleet.break_min
    assert big.fleet.vehicles != sc.variants[0].fleet.vehicles


def test_overrides(tmp_path: Path) -> None:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY, encoding="utf-8")
    sc = load_scenario(p)
    a, b = sc.variants
    assert (a.fleet.vehicles, a.fleet.wheelchair, a.fleet.volunteers) == (2, 1, 0)
    assert (b.fleet.vehicles, b.fleet.wheelchair, b.fleet.volunteers) == (1, 1, 1)
    assert b.rules.service_hours.start_s == 8 * 3600 and a.rules.service_hours.start_s == 7 * 3600
    assert sc.time_limit_s == 0.5 and sc.seeds == (1, 2)


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (
            lambda t: t.replace("fleet.vehicles = 1", "fleet.vehicls = 1"),
            "variants[1].fleet.vehicls",
            "unknown key",
        ),
        (
            lambda t: t.replace("fleet.vehicles = 1", 'fleet.vehicles = "one"'),
            "variants[1].fleet.vehicles",
            "must be an integer",
        ),
        (
            lambda t: t.replace("fleet.vehicles = 1", "fleet.vehicles = -1"),
            "variants[1].fleet.vehicles",
            "must be an integer >= 0",
        ),
        (
            lambda t: t.replace("requests = 8", "requests = 8.5"),
            "base.demand.requests",
            "must be an integer",
        ),
        (
            lambda t: t.replace(
                'territory = ["coquelicot"]', 'territory = ["coquelicot", "picardie"]'
            ),
            "base.territory",
            "unknown intercommunality",
        ),
        (
            lambda t: t.replace('"08:00", "18:00"', '"18:00", "08:00"'),
            "variants[1].rules.service_hours",
            "ends before it starts",
        ),
        (
            lambda t: t.replace('"08:00", "18:00"', '"8h", "18:00"'),
            "variants[1].rules.service_hours[0]",
            "not a time",
        ),
        (
            lambda t: t.replace("fleet.vehicles = 1", "fleet.vehicles = 0"),
            "variants[1].fleet.wheelchair",
            "wheelchair vehicles out of 0",
        ),
        (lambda t: t.replace("seeds = [1, 2]", "seeds = 3"), "seeds", "non-empty list"),
        (
            lambda t: t.replace("time_limit_s = 0.5", "time_limit_s = 0"),
            "time_limit_s",
            "must be > 0",
        ),
        (lambda t: "colour = 'red'\n" + t, "colour", "unknown key"),
        (
            lambda t: t.replace('name = "two buses"', 'name = "two buses"\nfleets = {}'),
            "variants[0].fleets",
            "unknown key",
        ),
        (
            lambda t: t.replace('name = "two buses"', 'name = "one bus, one volunteer"'),
            "variants[1].name",
            "duplicate",
        ),
        (lambda t: t.replace("day = 2026-12-01", 'day = "1 December"'), "day", "must be a date"),
        (
            lambda t: t.replace(
                'name = "two buses"', 'name = "two buses"\ncarpool = { offers = -3 }'
            ),
            "variants[0].carpool.offers",
            "must be an integer >= 0",
        ),
        (
            lambda t: t.replace(
                'name = "two buses"', 'name = "two buses"\ncarpool = { ofers = 3 }'
            ),
            "variants[0].carpool.ofers",
            "unknown key",
        ),
        (
            lambda t: t.replace(
                'name = "two buses"', 'name = "two buses"\ncarpool.strategy = "greedy"'
            ),
            "variants[0].carpool.strategy",
            'must be "staged" or "joint"',
        ),
        (
            lambda t: t.replace(
                "demand = { requests = 8 }", "demand = { requests = 8 }\ncarpool = { offers = 2 }"
            ).replace('territory = ["coquelicot"]', 'territory = ["amiens"]'),
            "variants[0].carpool.offers",
            "Albert or Méaulte",
        ),
        (
            lambda t: t.replace('name = "two buses"', 'name = "two buses"\nsimulate.noise = -1'),
            "variants[0].simulate.noise",
            "must be >= 0",
        ),
        (
            lambda t: t.replace(
                'name = "two buses"', 'name = "two buses"\nsimulate = { rain = 1 }'
            ),
            "variants[0].simulate.rain",
            "unknown key",
        ),
        (
            lambda t: t.replace(
                'name = "two buses"',
                'name = "two buses"\nsimulate = {}\ncarpool = { offers = 2 }',
            ),
            "variants[0].simulate",
            "not a day with carpool offers",
        ),
        (
            lambda t: t.replace("requests = 8", "requests = 8, weekday = 7"),
            "base.demand.weekday",
            "0 = Monday",
        ),
        (
            lambda t: t.replace("requests = 8", "requests = 8, recurring_share = 2"),
            "base.demand.recurring_share",
            "<= 1",
        ),
        (
            lambda t: t.replace("day = 2026-12-01", "").replace(
                "requests = 8", "requests = 8, recurring_share = 0.2"
            ),
            "variants[0].demand.weekday",
            "need a weekday",
        ),
    ],
)
def test_bad_scenarios_name_the_key(tmp_path: Path, edit, where: str, message: str) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "bad.toml"
    p.write_text(edit(TINY), encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_scenario(p)
    text = p.read_text(encoding="utf-8")
    prefix, _, path = e.value.where.rpartition(": ")
    assert path == where and prefix.startswith(str(p)), e.value.where
    if prefix != str(p):  # the line of the key (or of its table), as an editor counts
        line = int(prefix.removeprefix(f"{p}: line "))
        last = [k for k in re.split(r"[.\[\]]+", where) if k and not k.isdigit()][-1]
        shown = text.splitlines()[line - 1]
        assert last in shown or shown.lstrip().startswith("["), (line, shown, where)
    assert message in e.value.message


def test_missing_file_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        load_scenario(tmp_path / "absent.toml")
    assert e.value.where == str(tmp_path / "absent.toml") and "not found" in e.value.message
    p = tmp_path / "syntax.toml"
    p.write_text(TINY.replace("seeds = [1, 2]", "seeds = [1, 2"), encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_scenario(p)
    assert (
        e.value.where == str(p) and "invalid TOML" in e.value.message and "line" in e.value.message
    )
    with pytest.raises(InputError) as e:
        scenario_from_dict({"variants": []})
    assert e.value.where == "variants"


def test_runs_in_process_and_on_local_processes(tmp_path: Path) -> None:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY, encoding="utf-8")
    sc = load_scenario(p)
    seen: list[int] = []
    inline = run_scenario(sc, workers=1, progress=lambda k, n, r: seen.append(k))
    assert seen == [1, 2, 3, 4]
    assert [(r["variant"], r["seed"]) for r in inline.rows] == [
        ("two buses", 1),
        ("two buses", 2),
        ("one bus, one volunteer", 1),
        ("one bus, one volunteer", 2),
    ]
    for r in inline.rows:
        assert r["check_ok"] and r["violations"] == 0
        assert r["served"] + r["refused"] == r["requests"] == 8
        assert 0.0 < r["pop_share_hub_within"] <= 1.0
    assert any(
        r["share_volunteer"] > 0 for r in inline.rows if r["variant"] == "one bus, one volunteer"
    )
    assert all(r["share_volunteer"] == 0 for r in inline.rows if r["variant"] == "two buses")
    pooled = run_scenario(sc, workers=2)
    same = (
        "variant",
        "seed",
        "requests",
        "requests_wheelchair",
        "population",
        "pop_share_hub_within",
    )
    assert [{k: r[k] for k in same} for r in pooled.rows] == [
        {k: r[k] for k in same} for r in inline.rows
    ]
    assert all(r["check_ok"] for r in pooled.rows)


def test_runs_on_a_dask_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    p = tmp_path / "tiny.toml"
    p.write_text(TINY, encoding="utf-8")
    sc = load_scenario(p)
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        host="127.0.0.1",
        protocol="tcp://",
        dashboard_address=None,
    ) as cluster:
        result = run_scenario(sc, scheduler=cluster.scheduler_address)
    assert [(r["variant"], r["seed"]) for r in result.rows] == [
        (v.name, s) for v in sc.variants for s in sc.seeds
    ]
    assert all(r["check_ok"] and r["requests"] == 8 for r in result.rows)


def test_without_dask_runs_local_and_scheduler_is_one_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if it were not installed
    tiny = {"base": {"demand": {"requests": 2}}, "time_limit_s": 0.1, "seeds": [1]}
    sc = scenario_from_dict(tiny)
    assert [r["check_ok"] for r in run_scenario(sc, workers=1).rows] == [True]
    with pytest.raises(InputError) as e:
        run_scenario(sc, scheduler="tcp://127.0.0.1:9")
    assert e.value.where == "--scheduler"
    assert e.value.message == 'needs dask[distributed]: pip install "dispatcher[tune]"'


def test_unreachable_scheduler_is_a_clear_error() -> None:
    sc = scenario_from_dict({"base": {"demand": {"requests": 2}}, "time_limit_s": 0.1})
    with pytest.raises(InputError) as e:
        run_scenario(sc, scheduler="tcp://127.0.0.1:9", connect_timeout_s=1)
    assert e.value.where == "--scheduler"


CARPOOL = """
name = "carpool"
day = 2026-12-01          # a Tuesday: the commuters drive, the Tuesday regulars travel
seeds = [1, 2]
time_limit_s = 0.5

[base]
territory = ["coquelicot"]
demand = { requests = 20, recurring_share = 0.2 }
fleet = { vehicles = 1, wheelchair = 1 }

[[variants]]
name = "bus"

[[variants]]
name = "bus and carpool"
carpool = { offers = 30 }
"""


def test_carpool_variant_plans_with_the_mixed_dispatch(tmp_path: Path) -> None:
    p = tmp_path / "carpool.toml"
    p.write_text(CARPOOL, encoding="utf-8")
    sc = load_scenario(p)
    assert sc.variants[0].carpool.offers == 0 and sc.variants[1].carpool.offers == 30
    assert (
        sc.variants[1].carpool.strategy == "staged"
        and sc.variants[1].carpool.incentive_per_passenger_km == 0.10
    )
    result = run_scenario(sc, workers=1)
    bus = [r for r in result.rows if r["variant"] == "bus"]
    mixed = [r for r in result.rows if r["variant"] == "bus and carpool"]
    for r in result.rows:
        assert r["check_ok"] and r["violations"] == 0, r
        assert r["served"] + r["refused"] == r["requests"] == 20
        assert r["weekday"] == 1 and r["requests_recurring"] == 4
        assert (
            abs(r["share_minibus"] + r["share_volunteer"] + r["share_carpool"] - 1.0) < 1e-3
            or r["served"] == 0
        )
    assert all(r["share_carpool"] == 0 and r["carpool_offers"] == 0 for r in bus)
    assert all(r["carpool_offers"] == 30 for r in mixed)
    assert all(r["solver_status_detail"].startswith("CARPOOL_") for r in mixed)
    assert all(r["solver_status"] == "solved" for r in mixed)
    assert any(r["share_carpool"] > 0 for r in mixed)
    # carpool passengers beside driving alone: km avoided where carpool served someone, no
    # comparison at all where it served nobody (the bus-only variant)
    assert all(r["carpool_km_saved"] is None for r in bus)
    for r in mixed:
        assert (r["carpool_km_saved"] is None) == (r["vehicles_used_carpool"] == 0)
    assert sum(r["carpool_km_saved"] or 0 for r in mixed) > 0
    # the shared service beside a taxi per trip, for every variant serving someone
    for r in result.rows:
        assert r["tad_km"] > 0 and r["taxi_km"] > 0
        assert r["tad_km_saved"] == pytest.approx(r["taxi_km"] - r["tad_km"], abs=1e-3)


def test_weekday_follows_the_day_or_the_file() -> None:
    base = {
        "day": "2026-12-05",
        "base": {"demand": {"requests": 10, "recurring_share": 0.2}},
        "variants": [{"name": "Saturday"}, {"name": "Monday", "demand": {"weekday": 0}}],
    }
    sc = scenario_from_dict(base)
    assert sc.variants[0].demand.weekday is None and sc.variants[1].demand.weekday == 0
    assert sc.variants[0].demand.recurring_share == sc.variants[1].demand.recurring_share == 0.2
