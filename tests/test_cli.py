"""The command line as a user runs it: a real process, real files, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "dispatcher.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        timeout=300,
    )


def plan_examples(*args: str) -> subprocess.CompletedProcess[str]:
    """``dispatcher plan`` of the examples' requests and fleet on 2026-12-01, for 2 s."""
    requests, fleet = str(EXAMPLES / "requests.csv"), str(EXAMPLES / "fleet.csv")
    day = ("--day", "2026-12-01", "--time-limit", "2")
    return run("plan", requests, "--fleet", fleet, *day, *args)


def assert_one_line_error(p: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    assert "Traceback" not in p.stderr + p.stdout
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_version() -> None:
    p = run("--version")
    assert p.returncode == 0 and "dispatcher" in p.stdout


def test_plan_examples_then_check_the_written_files(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    p = plan_examples("--out", str(out), "--geojson", str(tmp_path / "routes.geojson"))
    assert p.returncode == 0, p.stderr + p.stdout
    assert "vérification : le plan respecte toutes les contraintes" in p.stdout
    plan = json.loads(out.read_text())
    served = {v["request_id"] for r in plan["routes"] for v in r["visits"]}
    refused = {j["request_id"] for j in plan["rejections"]}
    assert served | refused == {f"r{i}" for i in range(1, 9)} and not served & refused
    # local times with their offset at the edge
    assert plan["routes"][0]["start"].endswith("+01:00")
    geo = json.loads((tmp_path / "routes.geojson").read_text())
    lines = [f for f in geo["features"] if f["geometry"]["type"] == "LineString"]
    assert len(lines) == len(plan["routes"]) and all(
        len(f["geometry"]["coordinates"]) > 2 for f in lines
    )
    problem = tmp_path / "plan.problem.json"
    ok = run("check", str(problem), str(out))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # a tampered plan is caught by the checker and named
    plan["routes"][0]["visits"][0]["load"]["seats"] += 5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(plan))
    ko = run("check", str(problem), str(bad))
    assert ko.returncode == 6 and "load_mismatch" in ko.stdout  # README: 6


def test_demo_small(tmp_path: Path) -> None:
    p = run(
        "demo",
        "--requests",
        "25",
        "--vehicles",
        "3",
        "--wheelchair",
        "1",
        "--time-limit",
        "2",
        "--out",
        str(tmp_path),
    )
    assert p.returncode == 0, p.stderr + p.stdout
    assert "Demandes servies" in p.stdout
    assert "vérification : le plan respecte toutes les contraintes" in p.stdout
    assert (tmp_path / "plan.json").exists() and (tmp_path / "routes.geojson").exists()
    # vehicles by mode (3 minibuses; carpool drivers apart), baselines stated, French only
    assert re.search(r"Minibus utilisés\s.*\s[0-3] / 3 ", p.stdout), p.stdout
    assert "Covoitureurs mobilisés" in p.stdout and "Km évités par rapport au taxi" in p.stdout
    assert "car-km avoided" not in p.stdout and "vehicles used" not in p.stdout
    assert "Résultat du calcul : plan trouvé" in p.stdout and "ROUTING_" not in p.stdout
    assert "commune-label" in (tmp_path / "map.html").read_text(encoding="utf-8")
    bad = run("demo", "--lang", "de", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "--lang" in bad.stdout + bad.stderr


def test_unknown_stop_in_requests_csv(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(
        "id,pickup,dropoff,pickup_from,pickup_to\nr1,Meaulteville,Albert,08:00,08:15\n",
        encoding="utf-8",
    )
    p = run(
        "plan",
        str(f),
        "--fleet",
        str(EXAMPLES / "fleet.csv"),
        "--day",
        "2026-12-01",
        "--out",
        str(tmp_path / "p.json"),
    )
    assert_one_line_error(p, 2, "r.csv: line 2, column pickup", "Méaulte")


@pytest.mark.parametrize(
    "row, where",
    [
        ("r1,Méaulte,Albert,-2,08:00,08:15", "r.csv: line 2, column seats"),
        (
            "r1,Méaulte,Albert,1,08:30,08:15",
            "line 2, column pickup_from: starts after it ends (08:30 > 08:15)",
        ),
    ],
)
def test_bad_request_rows(tmp_path: Path, row: str, where: str) -> None:
    f = tmp_path / "r.csv"
    f.write_text("id,pickup,dropoff,seats,pickup_from,pickup_to\n" + row + "\n", encoding="utf-8")
    p = run(
        "plan",
        str(f),
        "--fleet",
        str(EXAMPLES / "fleet.csv"),
        "--day",
        "2026-12-01",
        "--out",
        str(tmp_path / "p.json"),
    )
    assert_one_line_error(p, 2, where)


def test_bad_fleet_and_day(tmp_path: Path) -> None:
    f = tmp_path / "fleet.csv"
    f.write_text("id,start,shift_start,shift_end\nbus,Albert,19:00,07:00\n", encoding="utf-8")
    p = run(
        "plan",
        str(EXAMPLES / "requests.csv"),
        "--fleet",
        str(f),
        "--day",
        "2026-12-01",
        "--out",
        str(tmp_path / "p.json"),
    )
    assert_one_line_error(p, 2, "fleet.csv: line 2, column shift_start", "(19:00 >= 07:00)")
    p = run(
        "plan",
        str(EXAMPLES / "requests.csv"),
        "--fleet",
        str(EXAMPLES / "fleet.csv"),
        "--day",
        "2026-13-45",
    )
    assert_one_line_error(p, 2, "--day")


def test_corrupt_osm_file(tmp_path: Path) -> None:
    f = tmp_path / "broken.osm"
    f.write_text("<osm><node id='1' lat='50.0' lon='2.6'><tag k='a'", encoding="utf-8")
    p = run("graph", "info", "--source", "osm-file", str(f))
    assert_one_line_error(p, 3, "broken.osm")


def test_matrix_of_the_communes_as_json() -> None:
    p = run("matrix", "--format", "json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert len(d["labels"]) == 65 and "Albert" in d["labels"]
    i, j = d["labels"].index("Albert"), d["labels"].index("Méaulte")
    assert 3 * 60 <= d["duration_s"][i][j] <= 10 * 60


def test_matrix_of_points_with_one_in_paris(tmp_path: Path) -> None:
    f = tmp_path / "points.csv"
    f.write_text("id,lon,lat\nalbert,2.6484,50.0032\nparis,2.35,48.85\n", encoding="utf-8")
    p = run("matrix", "--points", str(f))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "paris" in p.stderr


def test_params_file_is_validated_and_used(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[params]\nmetaheuristic = "TABU_SERCH"\n', encoding="utf-8")
    p = run("demo", "--params", str(bad), "--out", str(tmp_path / "d"))
    assert_one_line_error(p, 2, "params.metaheuristic", "bad.toml")
    good = tmp_path / "good.toml"
    good.write_text(
        '[params]\nfirst_solution = "LOCAL_CHEAPEST_INSERTION"\nmetaheuristic = "GREEDY_DESCENT"\n',
        encoding="utf-8",
    )
    p = run(
        "demo",
        "--params",
        str(good),
        "--requests",
        "20",
        "--time-limit",
        "1",
        "--carpool-offers",
        "0",
        "--out",
        str(tmp_path / "d"),
    )
    assert p.returncode == 0, p.stderr + p.stdout
    assert "vérification : le plan respecte toutes les contraintes" in p.stdout


@pytest.mark.parametrize(
    "text, where",
    [
        (
            "id,pickup,dropoff,arrive_by\n",
            "r.csv",
        ),  # the header alone: nothing to plan is bad input
        ("id,pickup,dropoff,arrive_by\nr1,Méaulte,Albert,10:00,x\n", "r.csv: line 2"),
        ('id,pickup,dropoff,arrive_by\nr1,"Méaulte,Albert,10:00\n', "r.csv: line 2"),
        ("id,pickup,dropoff,arrive_by\nr1,Méaulte,Albert,2026-12-01T10:00:00\n", "arrive_by"),
    ],
)
def test_a_broken_requests_csv_exits_2(tmp_path: Path, text: str, where: str) -> None:
    f = tmp_path / "r.csv"
    f.write_text(text, encoding="utf-8")
    p = run(
        "plan",
        str(f),
        "--fleet",
        str(EXAMPLES / "fleet.csv"),
        "--day",
        "2026-12-01",
        "--out",
        str(tmp_path / "p.json"),
    )
    assert_one_line_error(p, 2, where)
    assert not (tmp_path / "p.json").exists()


@pytest.mark.parametrize(
    "rows, where",
    [
        ("r1,Méaulte,Albert,08:00,08:15,r1,", "r.csv: line 2, column return_of"),
        (
            "r1,Méaulte,Albert,08:00,08:15,,\nr2,Albert,Méaulte,07:30,07:45,r1,",
            "r.csv: line 3, column pickup_from",
        ),
        (
            "r1,Méaulte,Albert,08:00,08:15,,\nr2,Albert,Méaulte,11:30,11:45,r1,-5",
            "r.csv: line 3, column min_stay_min: must be whole minutes, 0 or more",
        ),
    ],
)
def test_bad_return_rows(tmp_path: Path, rows: str, where: str) -> None:
    f = tmp_path / "r.csv"
    header = "id,pickup,dropoff,pickup_from,pickup_to,return_of,min_stay_min\n"
    f.write_text(header + rows + "\n", encoding="utf-8")
    p = run(
        "plan",
        str(f),
        "--fleet",
        str(EXAMPLES / "fleet.csv"),
        "--day",
        "2026-12-01",
        "--out",
        str(tmp_path / "p.json"),
    )
    assert_one_line_error(p, 2, where)


def test_plan_pseudonymised_writes_the_planners_copy(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    p = run(
        "plan",
        str(EXAMPLES / "requests.csv"),
        "--fleet",
        str(EXAMPLES / "fleet.csv"),
        "--day",
        "2026-12-01",
        "--time-limit",
        "1",
        "--out",
        str(out),
        "--geojson",
        str(tmp_path / "routes.geojson"),
        "--pseudonymise",
    )
    assert p.returncode == 0, p.stderr + p.stdout
    written = out.read_text() + (tmp_path / "plan.problem.json").read_text()
    written += (tmp_path / "routes.geojson").read_text()
    assert "Dupont" not in written and '"r1"' not in written
    ok = run("check", str(tmp_path / "plan.problem.json"), str(out))
    assert ok.returncode == 0, ok.stdout + ok.stderr  # still a plan of its problem


def test_privacy_commands(tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path)]
    table = run("privacy", "table")
    assert table.returncode == 0 and "| rider | identity | name, phone |" in table.stdout
    purge = run("privacy", "purge", *state)
    assert purge.returncode == 0 and "0 day(s) before" in purge.stdout, purge.stderr
    export = run("privacy", "export", "--phone", "03 22 00 00 00", *state)
    assert export.returncode == 0, export.stderr
    data = json.loads(export.stdout)
    assert data["rider_id"].startswith("rdr-") and data["requests"] == []
    assert_one_line_error(run("privacy", "erase", "--phone", "0322000000", *state), 2, "--yes")
    erase = run("privacy", "erase", "--rider-id", data["rider_id"], "--yes", *state)
    assert erase.returncode == 0 and "nothing stored" in erase.stdout
    log = run("privacy", "access-log", *state)
    assert log.returncode == 0 and "privacy.export" in log.stdout and "privacy.erase" in log.stdout
    assert_one_line_error(run("privacy", "export", "--rider-id", "nope", *state), 2, "rider id")


@pytest.mark.parametrize(
    "lang, said, unsaid",
    [
        ("fr", ["Chargement du réseau routier", "Vérification indépendante du plan"], "Loading"),
        ("en", ["Loading the road graph", "Checking the plan independently"], "Chargement"),
    ],
)
def test_progress_lines_speak_the_commands_language(
    lang: str, said: list[str], unsaid: str, tmp_path: Path
) -> None:
    """On a terminal (TTY_COMPATIBLE makes rich draw its progress lines into the pipe), the
    progress lines are French by default and English with --lang en."""
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", TTY_COMPATIBLE="1")
    args = ["plan", str(EXAMPLES / "requests.csv"), "--fleet", str(EXAMPLES / "fleet.csv")]
    args += [
        "--day",
        "2026-12-01",
        "--time-limit",
        "1",
        *(["--lang", "en"] if lang == "en" else []),
    ]
    p = subprocess.run(
        [sys.executable, "-m", "dispatcher.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", p.stderr)
    for line in said:
        assert line in text, text
    assert unsaid not in text
    from dispatcher.clikit import STEPS

    assert all(set(texts) == {"fr", "en"} for texts in STEPS.values())


def test_graph_info_speaks_french_by_default_and_english_on_request() -> None:
    fr = run("graph", "info")
    assert fr.returncode == 0, fr.stderr
    assert "Réseau routier" in fr.stdout and "km au total" in fr.stdout, fr.stdout
    assert "0,85" in fr.stdout  # the default network's speed factor, as a French number
    en = run("graph", "info", "--lang", "en")
    assert en.returncode == 0 and "Road graph" in en.stdout and "km_total" in en.stdout
    assert_one_line_error(run("graph", "info", "--lang", "de"), 2, "--lang")


def test_simulate_prints_the_lived_day_in_french_by_default(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    p = plan_examples("--out", str(out))
    assert p.returncode == 0, p.stderr + p.stdout
    fr = run("simulate", str(out), "--replan", "no")
    assert fr.returncode == 0, fr.stderr
    assert "| graine | re-planification | promesses | tenues % |" in fr.stdout, fr.stdout
    assert "| non |" in fr.stdout
    en = run("simulate", str(out), "--replan", "no", "--lang", "en")
    assert en.returncode == 0 and "| seed | re-planning | promises | kept % |" in en.stdout
