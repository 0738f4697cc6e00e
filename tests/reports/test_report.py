"""The scenario report names every variant and seed, and the CLI sub-apps work end to end."""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dispatcher.io.files import write_json
from dispatcher.io.plan import plan_to_dict
from dispatcher.io.problem import problem_to_dict
from dispatcher.reports.cli import report_app, scenario_app
from dispatcher.reports.numbers import percent, signed
from dispatcher.reports.report import write_scenario_report
from dispatcher.scenario import load_scenario, run_scenario
from tests.excel import open_as_french_excel

from .conftest import Day

SCENARIO = """
name = "report test | pipes"
seeds = [3, 4]
time_limit_s = 0.5

[base]
demand = { requests = 6 }
fleet = { vehicles = 1, wheelchair = 1 }

[[variants]]
name = "one bus"

[[variants]]
name = "two buses"
fleet.vehicles = 2
"""


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(report_app, name="report")
    app.add_typer(scenario_app, name="scenario")
    return app


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("scenario") / "small.toml"
    p.write_text(SCENARIO, encoding="utf-8")
    return p


def test_report_contains_every_variant_and_seed(scenario_file: Path, tmp_path: Path) -> None:
    sc = load_scenario(scenario_file)
    result = run_scenario(sc, workers=1)
    md = write_scenario_report(result, tmp_path)
    text = md.read_text(encoding="utf-8")
    for v in sc.variants:
        assert text.count(f"| {v.name} |") >= 4  # variants, results, equity, every run
        for s in sc.seeds:
            assert f"| {v.name} | {s} |" in text
    assert "report test \\| pipes" in text or "report test | pipes" in text.splitlines()[0]
    assert "4 plans sur 4 respectent toutes les contraintes" in text
    # French throughout: statuses and booleans in words, decimal commas, no English heading
    assert "| solved |" not in text and "| True |" not in text and "## Results" not in text
    assert "| oui |" in text
    rows = open_as_french_excel(tmp_path / "results.csv")  # the default: for French Excel
    assert [(r["Variante"], r["Graine"]) for r in rows] == [
        (v.name, str(s)) for v in sc.variants for s in sc.seeds
    ]
    assert {r["Km véhicule"] for r in rows} != {""} and "Taux de refus" in rows[0]
    communes = open_as_french_excel(tmp_path / "refusals_by_commune.csv")
    for v in sc.variants:
        for s in sc.seeds:
            mine = [c for c in communes if c["Variante"] == v.name and c["Graine"] == str(s)]
            assert sum(int(c["Demandes"]) for c in mine) == 6
    for png in (
        "refusal_rate.png",
        "cost_per_served.png",
        "vehicle_km.png",
        "occupancy.png",
        "ride_time.png",
        "co2.png",
        "equity.png",
    ):
        data = (tmp_path / "plots" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
        assert f"(plots/{png})" in text


def test_cli_scenario_run_and_bad_file(scenario_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run"
    res = runner.invoke(
        _cli(),
        [
            "scenario",
            "run",
            str(scenario_file),
            "--out",
            str(out),
            "--workers",
            "1",
            "--seeds",
            "5",
            "--csv",
            "machine",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (out / "report.md").is_file()
    rows = list(csv.DictReader((out / "results.csv").open(encoding="utf-8")))
    assert [r["seed"] for r in rows] == ["5", "5"]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        SCENARIO.replace("fleet.vehicles = 2", "fleet.vehicles = true"), encoding="utf-8"
    )
    res = runner.invoke(_cli(), ["scenario", "run", str(scenario_file), "--lang", "de"])
    assert res.exit_code == 2 and "--lang" in res.output
    res = runner.invoke(_cli(), ["scenario", "run", str(bad), "--out", str(tmp_path / "bad")])
    assert res.exit_code == 2
    assert "variants[1].fleet.vehicles" in res.output and "must be an integer" in res.output


def test_cli_report_commands(day: Day, tmp_path: Path) -> None:
    problem, plan = tmp_path / "plan.problem.json", tmp_path / "plan.json"
    write_json(problem, problem_to_dict(day.problem))
    write_json(plan, plan_to_dict(day.plan, day.problem))
    runner = CliRunner()
    res = runner.invoke(
        _cli(),
        [
            "report",
            "manifest",
            str(problem),
            str(plan),
            "--out",
            str(tmp_path / "m"),
            "--lang",
            "en",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Boarding" in (tmp_path / "m" / "manifests.html").read_text(encoding="utf-8")
    assert "Passenger" in open_as_french_excel(tmp_path / "m" / "manifests.csv")[0]
    res = runner.invoke(
        _cli(),
        [
            "report",
            "manifest",
            str(problem),
            str(plan),
            "--out",
            str(tmp_path / "m2"),
            "--csv",
            "machine",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m2" / "manifests.csv").read_text(encoding="utf-8").startswith("vehicle_id,")
    res = runner.invoke(_cli(), ["report", "manifest", str(problem), str(plan), "--csv", "xls"])
    assert res.exit_code == 2 and "--csv" in res.output
    res = runner.invoke(
        _cli(),
        [
            "report",
            "map",
            str(problem),
            str(plan),
            "--out",
            str(tmp_path / "map.html"),
            "--no-roads",
        ],
    )
    assert res.exit_code == 0, res.output
    page = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert "route route-" in page and "commune-label" in page
    assert "tile.openstreetmap.org" not in page  # no background offline by default
    args = ["report", "map", str(problem), str(plan), "--no-roads", "--out"]
    res = runner.invoke(_cli(), [*args, str(tmp_path / "osm.html"), "--tiles", "osm"])
    assert res.exit_code == 0, res.output
    assert "tile.openstreetmap.org" in (tmp_path / "osm.html").read_text(encoding="utf-8")
    res = runner.invoke(_cli(), [*args, str(tmp_path / "bad.html"), "--tiles", "ftp://x"])
    assert res.exit_code == 2 and "tile URL" in res.output
    res = runner.invoke(
        _cli(),
        [
            "report",
            "gtfs-flex",
            "--out",
            str(tmp_path / "feed.zip"),
            "--territory",
            "coquelicot,amiens",
            "--start",
            "2026-12-01",
        ],
    )
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(tmp_path / "feed.zip") as z:
        assert "07:00:00,19:00:00" in z.read("stop_times.txt").decode()  # the service's hours
    res = runner.invoke(_cli(), ["report", "manifest", str(problem), str(tmp_path / "absent.json")])
    assert res.exit_code == 2 and "absent.json" in res.output
    bad = tmp_path / "svc.toml"
    bad.write_text("[service]\nname = 'x'\nterritory = ['coquelicot']\n[hours]\nmonday = '19-7'\n")
    res = runner.invoke(
        _cli(), ["report", "gtfs-flex", "--service", str(bad), "--out", str(tmp_path / "x.zip")]
    )
    assert res.exit_code == 2 and "svc.toml" in res.output


def test_report_has_carpool_share_and_savings(tmp_path: Path) -> None:
    p = tmp_path / "carpool.toml"
    p.write_text(
        'name = "carpool"\nday = 2026-12-01\nseeds = [1]\ntime_limit_s = 0.5\n\n[base]\n'
        "demand = { requests = 12, recurring_share = 0.25 }\n"
        "fleet = { vehicles = 1, wheelchair = 1 }\n\n"
        '[[variants]]\nname = "bus"\n\n'
        '[[variants]]\nname = "bus and carpool"\ncarpool = { offers = 25 }\n',
        encoding="utf-8",
    )
    result = run_scenario(load_scenario(p), workers=1)
    text = write_scenario_report(result, tmp_path / "fr", plots=False).read_text(encoding="utf-8")
    assert "2 plans sur 2 respectent toutes les contraintes" in text
    assert "+ 25 offres de covoiturage (covoiturage apparié d'abord)" in text
    assert "12 (25\u202f% régulières, mardi)" in text and "mardi 1er décembre 2026" in text
    fr_header = next(line for line in text.splitlines() if line.startswith("| variante | Dem"))
    for h in ("Part du covoiturage", "Km évités par le covoiturage", "Km par demande"):
        assert f"| {h} |" in fr_header
    fr_results = text.split("## Résultats par variante")[1].split("## Équité")[0]
    fr_bus = next(r for r in fr_results.splitlines() if r.startswith("| bus |")).split(" | ")
    # the bus-only variant has no carpool passenger: no carpool baseline, shown as none
    assert fr_bus[fr_header.split(" | ").index("Km évités par le covoiturage")] == "—"
    text = write_scenario_report(
        result, tmp_path / "out", plots=False, lang="en", csv="machine"
    ).read_text(encoding="utf-8")
    assert "2 of 2 plans satisfy every constraint" in text
    header = next(line for line in text.splitlines() if line.startswith("| variant | Requests"))
    for h in (
        "Volunteer share",
        "Carpool share",
        "Km saved by carpool",
        "CO2 saved by carpool (kg)",
    ):
        assert f"| {h} |" in header
    assert "+ 25 carpool offers (staged)" in text and "12 (25% regular, Tuesday)" in text
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").open(encoding="utf-8")))
    assert [r["carpool_offers"] for r in rows] == ["0", "25"]
    mixed = result.rows[1]
    carpool_cell = percent(mixed["share_carpool"], 0, "en")
    results = text.split("## Results by variant")[1].split("## Equity")[0]
    cells = next(
        row for row in results.splitlines() if row.startswith("| bus and carpool |")
    ).split(" | ")
    names = header.split(" | ")
    assert cells[names.index("Carpool share")] == carpool_cell
    saved = mixed["carpool_km_saved"]
    assert cells[names.index("Km saved by carpool")] == (
        "—" if saved is None else signed(saved, 0, "en")
    )


def test_report_has_the_simulated_day(tmp_path: Path) -> None:
    """A variant with a ``simulate`` table: each planned day lived by the day simulator, its
    kept promises, lateness, refusals after a promise and extra km in the rows and the report
    (French by default, English on demand); a variant without it has none (—)."""
    p = tmp_path / "lived.toml"
    p.write_text(
        'name = "lived"\nday = 2026-12-01\nseeds = [1]\ntime_limit_s = 0.5\n\n[base]\n'
        "demand = { requests = 8 }\nfleet = { vehicles = 2, wheelchair = 1 }\n\n"
        '[[variants]]\nname = "planned"\n\n'
        '[[variants]]\nname = "lived"\nsimulate = { noise = 0.0, no_show = 0.0 }\n',
        encoding="utf-8",
    )
    result = run_scenario(load_scenario(p), workers=1)
    planned, lived = result.rows
    assert planned["sim_promises_kept"] is None
    # without noise nor no-shows the day is lived as planned: every promise kept
    assert lived["sim_promises_kept"] == 1.0 and lived["sim_late_max_min"] == 0.0
    assert lived["sim_refused_after_promise"] == 0 and lived["sim_no_shows"] == 0
    text = write_scenario_report(result, tmp_path / "fr", plots=False).read_text(encoding="utf-8")
    section = text.split("## La journée vécue (simulation)")[1].split("## Définitions")[0]
    assert "lived : bruit des temps de trajet 0\u202f%, absences 0\u202f%" in section
    header = next(line for line in section.splitlines() if line.startswith("| variante |"))
    assert "| Promesses tenues (journée simulée) |" in header
    row = next(line for line in section.splitlines() if line.startswith("| lived |"))
    assert row.split(" | ")[1] == "100,0\u202f%"
    assert "| planned |" not in section
    assert "**Refus après promesse (journée simulée)** :" in text
    en = write_scenario_report(result, tmp_path / "en", plots=False, lang="en").read_text(
        encoding="utf-8"
    )
    assert "## The day lived (simulation)" in en and "Promises kept (simulated day)" in en
