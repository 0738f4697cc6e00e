"""docs/guide-territoire.md followed end to end for the CC de la Haute Somme: the commands of
its ``sh`` blocks are read from the markdown (so the guide cannot drift) and run in order, as a
user runs them, in a fresh folder that sees the repository's ``examples/``; then their outputs
are checked."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

from dispatcher.reports.gtfs_flex import read_gtfs_flex
from tests.test_cli import ROOT

GUIDE = ROOT / "docs" / "guide-territoire.md"
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
_EXIT = re.compile(r"#\s*code de sortie (\d+)\s*$")


def guide_steps(text: str) -> list[tuple[list[str], int]]:
    """(argv, expected exit code) of every line of the guide's ``sh`` blocks, in order;
    ``export NAME=value`` lines are ``["export", "NAME=value"]``."""
    steps = []
    for block in _BLOCK.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = _EXIT.search(line)
            code = int(m.group(1)) if m else 0
            argv = shlex.split(line[: m.start()] if m else line)
            steps.append((argv, code))
    return steps


def test_the_guide_has_every_step() -> None:
    steps = guide_steps(GUIDE.read_text(encoding="utf-8"))
    commands = [" ".join(a[:3]) for a, _ in steps]
    for needed in (
        "export DISPATCHER_SERVICE=examples/haute-somme/service.toml",
        "dispatcher graph build",
        "dispatcher plan examples/haute-somme/requests.csv",
        "dispatcher report gtfs-flex",
    ):
        assert any(c.startswith(needed) for c in commands), needed
    assert all(a[0] in ("dispatcher", "export") for a, _ in steps)  # commands only, no edits


def test_the_guide_runs_end_to_end_for_the_haute_somme(tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    env.pop("DISPATCHER_SERVICE", None)
    env.pop("DISPATCHER_GRAPH", None)
    outputs = {}
    for argv, code in guide_steps(GUIDE.read_text(encoding="utf-8")):
        if argv[0] == "export":
            name, _, value = argv[1].partition("=")
            env[name] = value
            continue
        done = subprocess.run(
            [sys.executable, "-m", "dispatcher.cli", *argv[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == code, (argv, done.stdout[-2000:], done.stderr)
        assert "Traceback" not in done.stderr
        outputs[" ".join(argv)] = done
    out = tmp_path / "out" / "haute-somme"
    # the plan: the Haute Somme's own day (Tuesday 08:00-18:00), every request served, checked
    problem = json.loads((out / "plan.problem.json").read_text(encoding="utf-8"))
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert problem["rules"]["service_hours"]["start"].startswith("2026-12-08T08:00")
    assert problem["rules"]["service_hours"]["end"].startswith("2026-12-08T18:00")
    served = {v["request_id"] for r in plan["routes"] for v in r["visits"] if v.get("request_id")}
    assert len(served) >= 8, plan["rejections"]
    # the days without service, refused with their reason
    refusals = [d.stderr for k, d in outputs.items() if d.returncode == 2]
    assert any("2026-12-07" in e and "Mondays" in e for e in refusals), refusals
    assert any("2026-12-25" in e and "Noël" in e for e in refusals), refusals
    # the feed: one zone (the Haute Somme), no Monday nor Sunday, Christmas and the closure out
    feed = read_gtfs_flex(out / "gtfs-flex.zip")
    assert feed.zone_ids == ["zone_200037059"]
    for cal in feed.tables["calendar.txt"]:
        assert cal["monday"] == "0" and cal["sunday"] == "0"
    closed = {r["date"] for r in feed.tables["calendar_dates.txt"]}
    assert {"20261225", "20261226"} <= closed
    (agency,) = feed.tables["agency.txt"]
    assert agency["agency_name"] == "Communauté de communes de la Haute Somme"
    with zipfile.ZipFile(out / "gtfs-flex.zip") as z:
        assert "Péronne" not in z.read("stops.txt").decode()  # no unused stop
    # the Haute Somme's own fares, from its service configuration: the plan, the drivers'
    # manifests and the feed's GTFS-Fares all price a trip inside it 1,50 €
    amounts = {t["amount_cents"] for t in plan["fares"]["trips"].values()}
    assert 150 in amounts and all(a % 150 == 0 for a in amounts), amounts  # 2 seats: 3,00 €
    full = {
        r["fare_product_id"]: float(r["amount"])
        for r in feed.tables["fare_products.txt"]
        if r["rider_category_id"] == "full"
    }
    assert full == {"single_inside": 1.5, "single_between": 2.5, "card10": 12.0}, full
    page = (out / "feuilles-de-route" / "manifests.html").read_text(encoding="utf-8")
    assert "1,50 €" in page and "2,00 €" not in page
    assert (out / "feuilles-de-route" / "manifests.html").is_file()
    assert (out / "carte.html").is_file() and (out / "matrice.csv").is_file()
