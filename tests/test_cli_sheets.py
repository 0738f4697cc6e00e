"""The command line with the files operators have: a requests file French Excel saved, CSVs
written for French Excel, and every exit code of the README (2 bad input, 3 corrupt data file,
4 unreachable places, 5 solver failure, 6 a plan the checker refuses), each with one line."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from tests.excel import open_as_french_excel
from tests.test_cli import EXAMPLES, ROOT, assert_one_line_error

pytestmark = pytest.mark.slow  # real processes, each loading the road graph

REQUESTS_FR = (
    "id;pickup;dropoff;seats;pickup_from;pickup_to;boarding_s;name\r\n"
    "r1;Méaulte;Albert gare;1;08:00;08:20;90;Mme Bécourt\r\n"
    "r2;Albert;Méaulte;1;09:00;09:20;;M. Lefèvre\r\n"
)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatcher.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, COLUMNS="200", NO_COLOR="1", **(env or {})),
        timeout=300,
    )


def test_plan_a_french_excel_file_then_manifests_open_in_french_excel(tmp_path: Path) -> None:
    requests = tmp_path / "demandes.csv"
    requests.write_bytes(REQUESTS_FR.encode("cp1252"))
    out = tmp_path / "plan.json"
    p = run("plan", str(requests), "--fleet", str(EXAMPLES / "fleet.csv"), "--day", "2026-12-01",
            "--time-limit", "3", "--out", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    warnings = [ln for ln in p.stderr.splitlines() if ln.startswith("warning:")]
    assert warnings == [
        f"warning: {requests}: line 1: column boarding_s (seconds) is deprecated: write "
        "boarding_min (minutes)"
    ]
    problem = json.loads(out.with_name("plan.problem.json").read_text(encoding="utf-8"))
    r1 = next(r for r in problem["requests"] if r["id"] == "r1")
    assert r1["name"] == "Mme Bécourt" and r1["dropoff"] == "80016-gare" and r1["boarding_s"] == 90
    m = run("report", "manifest", str(out.with_name("plan.problem.json")), str(out),
            "--out", str(tmp_path / "m"))  # fmt: skip
    assert m.returncode == 0, m.stderr
    rows = open_as_french_excel(tmp_path / "m" / "manifests.csv")
    plan = json.loads(out.read_text(encoding="utf-8"))
    served = {v["request_id"] for rt in plan["routes"] for v in rt["visits"]}
    names = {"r1": "Mme Bécourt", "r2": "M. Lefèvre"}
    assert served and {r["Passager"] for r in rows if r["Code action"] == "pickup"} == {
        names[r] for r in served
    }


def test_matrix_csv_for_french_excel_and_for_programs(tmp_path: Path) -> None:
    points = tmp_path / "points.csv"
    points.write_bytes(
        "id;lon;lat\r\nAlbert;2,6475;50,0035\r\nMéaulte;2,66;49,98\r\n".encode("cp1252")
    )
    p = run("matrix", "--points", str(points), "--out", str(tmp_path / "m.csv"))
    assert p.returncode == 0, p.stderr
    rows = open_as_french_excel(tmp_path / "m.csv")
    assert list(rows[0]) == ["de \\ vers (min)", "Albert", "Méaulte"]
    minutes = float(rows[0]["Méaulte"].replace(",", "."))
    assert 2 < minutes < 15 and rows[0]["Albert"] == "0"
    p = run("matrix", "--points", str(points), "--csv", "machine")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == "from \\ to (min),Albert,Méaulte"
    assert float(p.stdout.splitlines()[1].split(",")[2]) == minutes
    p = run("matrix", "--points", str(points), "--format", "json")
    seconds = json.loads(p.stdout)["duration_s"][0][1]
    assert abs(seconds / 60 - minutes) <= 0.05


def test_exit_2_bad_input_names_file_line_and_column(tmp_path: Path) -> None:
    requests = tmp_path / "demandes.csv"
    requests.write_bytes(REQUESTS_FR.replace("09:00;09:20", "09:30;09:20").encode("cp1252"))
    p = run("plan", str(requests), "--fleet", str(EXAMPLES / "fleet.csv"), "--day", "2026-12-01")
    # two lines: the deprecation warning and the error
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.splitlines()[-1] == (
        f"error: {requests}: line 3, column pickup_from: starts after it ends (09:30 > 09:20)"
    )
    swapped = tmp_path / "r.csv"
    swapped.write_text(
        'id,pickup,dropoff,pickup_from,pickup_to\nr1,"50.0035,2.6475",Albert,08:00,08:15\n',
        encoding="utf-8",
    )
    p = run("plan", str(swapped), "--fleet", str(EXAMPLES / "fleet.csv"), "--day", "2026-12-01")
    assert_one_line_error(p, 2, f"{swapped}: line 2, column pickup", "look swapped")


def _graph_file(path: Path, pieces: list[list[tuple[float, float]]]) -> Path:
    """A graph as ``dispatcher graph build --out x.pickle`` writes it, with the given separate
    pieces of two-way road (a graph file someone edited: the loader does not re-check it)."""
    G = nx.MultiDiGraph(crs="EPSG:4326", digest="two-pieces")
    n = 0
    for piece in pieces:
        for k, (x, y) in enumerate(piece):
            n += 1
            G.add_node(n, x=x, y=y)
            if k:
                for u, v in ((n - 1, n), (n, n - 1)):
                    G.add_edge(u, v, length=700.0, travel_time=60.0, speed_kph=42.0)
    path.write_bytes(pickle.dumps(G))
    return path


def test_exit_3_corrupt_graph_and_4_unreachable_places(tmp_path: Path) -> None:
    points = tmp_path / "points.csv"
    points.write_text("id,lon,lat\na,2.6475,50.0035\nb,2.66,49.98\n", encoding="utf-8")
    broken = tmp_path / "broken.pickle"
    broken.write_bytes(b"not a pickle")
    p = run("matrix", "--points", str(points), env={"DISPATCHER_GRAPH": str(broken)})
    assert_one_line_error(p, 3, "broken.pickle", "corrupt graph file")
    graph = _graph_file(
        tmp_path / "two.pickle",
        [[(2.6475, 50.0035), (2.6500, 50.0035)], [(2.6600, 49.9800), (2.6620, 49.9800)]],
    )
    p = run("matrix", "--points", str(points), env={"DISPATCHER_GRAPH": str(graph)})
    assert_one_line_error(p, 4, "no road between")


def test_exit_5_solver_failure_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that breaks (here OR-Tools raising, as it does on an internal error) is not the
    input's fault: exit code 5 and one line, no traceback. No real input makes OR-Tools fail on
    demand, so the failure is injected into the engine's entry point."""
    from typer.testing import CliRunner

    from dispatcher.cli import app
    from dispatcher.solver.routing import OrToolsSolver

    def broken(self: object, *args: object, **kwargs: object) -> None:
        raise RuntimeError("CP Solver fail")

    monkeypatch.setattr(OrToolsSolver, "solve", broken)
    res = CliRunner().invoke(
        app,
        ["plan", str(EXAMPLES / "requests.csv"), "--fleet", str(EXAMPLES / "fleet.csv"),
         "--day", "2026-12-01", "--out", str(tmp_path / "p.json")],
    )  # fmt: skip
    assert res.exit_code == 5, res.output
    assert "the solver failed (RuntimeError: CP Solver fail)" in res.output
    assert "Traceback" not in res.output


def test_exit_6_plan_the_checker_refuses(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    p = run("plan", str(EXAMPLES / "requests.csv"), "--fleet", str(EXAMPLES / "fleet.csv"),
            "--day", "2026-12-01", "--time-limit", "2", "--out", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    plan = json.loads(out.read_text(encoding="utf-8"))
    plan["routes"][0]["visits"][0]["start"] = plan["routes"][0]["visits"][0]["arrival"] = 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(plan), encoding="utf-8")
    p = run("check", str(out.with_name("plan.problem.json")), str(bad))
    assert p.returncode == 6 and "violation(s)" in p.stderr and "Traceback" not in p.stderr


def test_plan_with_addresses_for_the_driver_and_none_for_planners(tmp_path: Path) -> None:
    """Addresses resolved by a geocoding server (the French address base's API, served here on
    127.0.0.1), kept for the driver's manifest, absent from the planners' copy."""
    from http.server import ThreadingHTTPServer
    from threading import Thread

    from tests.graph.test_geocode import Geocoding

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Geocoding)
    Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        requests = tmp_path / "r.csv"
        requests.write_text(
            "id;pickup;dropoff;pickup_from;pickup_to;name\n"
            "r1;12 rue de Corbie, Albert;Méaulte;08:00;08:20;Mme Bécourt\n",
            encoding="utf-8",
        )
        geocoder = f"ban:http://127.0.0.1:{httpd.server_address[1]}/ban"
        out = tmp_path / "plan.json"
        args = ("plan", str(requests), "--fleet", str(EXAMPLES / "fleet.csv"),
                "--day", "2026-12-01", "--time-limit", "2", "--geocoder", geocoder)  # fmt: skip
        p = run(*args, "--out", str(out))
        assert p.returncode == 0, p.stderr
        m = run("report", "manifest", str(out.with_name("plan.problem.json")), str(out),
                "--out", str(tmp_path / "m"))  # fmt: skip
        assert m.returncode == 0, m.stderr
        rows = open_as_french_excel(tmp_path / "m" / "manifests.csv")
        [pickup] = [r for r in rows if r["Code action"] == "pickup"]
        assert pickup["Lieu"] == "12 rue de Corbie, Albert"
        html = (tmp_path / "m" / "manifests.html").read_text(encoding="utf-8")
        assert "12 rue de Corbie, Albert" in html
        shared = tmp_path / "shared.json"
        p = run(*args, "--out", str(shared), "--pseudonymise")
        assert p.returncode == 0, p.stderr
        for f in (shared, shared.with_name("shared.problem.json")):
            text = f.read_text(encoding="utf-8")
            assert "Corbie" not in text and "2.6431" not in text, f
    finally:
        httpd.shutdown()
        httpd.server_close()
