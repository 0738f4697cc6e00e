"""The map page: self-contained (no CDN), attribution visible, and drawn by a real Chromium."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from dispatcher.errors import InputError
from dispatcher.reports.manifest import vehicle_label
from dispatcher.reports.map import (
    ATTRIBUTION_HTML,
    ATTRIBUTION_HTML_FR,
    TILES_ATTRIBUTION,
    css_id,
    plan_map_html,
    territory_for_problem,
    write_plan_map,
)

from .conftest import ARTEFACTS, Day

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=8000",
)


def chromium() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def run_chromium(exe: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )


def test_page_is_self_contained(day: Day) -> None:
    page = plan_map_html(day.problem, day.plan, None)
    assert not re.search(r"<script[^>]+src=", page), "a script is loaded from elsewhere"
    assert not re.search(r"<link[^>]+href=", page), "a stylesheet is loaded from elsewhere"
    assert "Leaflet 1.9.4" in page or "leaflet" in page.lower()
    assert "L.map(" in page or "L.map (" in page
    assert "OpenStreetMap" in page and "ODbL" in page and ATTRIBUTION_HTML_FR in page
    assert ATTRIBUTION_HTML in plan_map_html(day.problem, day.plan, None, lang="en")
    assert "tile.openstreetmap.org" not in page  # no tile layer unless asked
    assert "tile.openstreetmap.org" in plan_map_html(day.problem, day.plan, None, tiles=True)
    own = plan_map_html(day.problem, day.plan, None, tiles="https://tiles.example/{z}/{x}/{y}.png")
    assert "https://tiles.example/{z}/{x}/{y}.png" in own
    # the layer's attribution, as folium writes it in the page's script (HTML-safe JSON)
    safe = json.dumps(TILES_ATTRIBUTION).replace("<", "\\u003c").replace(">", "\\u003e")
    assert safe.replace("'", "\\u0027") in own or safe in own
    with pytest.raises(InputError, match="tile URL"):
        plan_map_html(day.problem, day.plan, None, tiles="tiles.example/x.png")
    used = [r for r in day.plan.routes if r.visits]
    for r in used:
        assert page.count(f'"className": "route route-{css_id(r.vehicle_id)}"') == 1
    # names go into JavaScript template literals: backticks and ${ must not survive
    assert "${alert" not in page and "`${" not in page
    assert "<script>alert" not in page


def test_routes_follow_the_roads(day: Day) -> None:
    straight = plan_map_html(day.problem, day.plan, None)
    along = plan_map_html(day.problem, day.plan, day.network)
    # the road polylines carry many more coordinates than the stop-to-stop legs
    assert len(along) > len(straight) + 1000


def test_map_drawn_in_headless_chromium(day: Day) -> None:
    exe = chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page = write_plan_map(
        day.problem,
        day.plan,
        ARTEFACTS / "map.html",
        day.network,
        territory=territory_for_problem(day.problem),
    )
    url = page.resolve().as_uri()
    dom = run_chromium(exe, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    paths = re.findall(r'<path class="([^"]*leaflet-interactive[^"]*)"', dom.stdout)
    assert paths, "Leaflet drew nothing: is the inlined script broken?"
    classes = Counter(c for p in paths for c in p.split())
    used = [r for r in day.plan.routes if r.visits]
    for r in used:
        assert classes[f"route-{css_id(r.vehicle_id)}"] == 1, f"route of {r.vehicle_id} not drawn"
        assert classes[f"visit-{css_id(r.vehicle_id)}"] == len(r.visits)
    assert classes["refused-pickup"] == len(day.plan.rejections)
    assert classes["territory"] >= 1
    # the communes' borders (from commune_borders.geojson), drawn but not clickable
    assert re.search(r'<path class="commune-border"[^>]*\sd="M', dom.stdout)
    assert "OpenStreetMap" in dom.stdout and "leaflet-control-attribution" in dom.stdout
    # the communes by name: every hub, at least, drawn as a label
    terr = territory_for_problem(day.problem)
    labels = re.findall(
        r'class="leaflet-marker-icon (commune-label[^"]*)"[^>]*><span([^>]*)>([^<]+)', dom.stdout
    )
    hubs = {c.name for c in terr.communes if terr.is_hub(c.insee)}
    assert hubs and hubs <= {html.unescape(n) for c, _, n in labels if "commune-hub" in c}
    # names that would overlap a bigger one are hidden; a hub's name never is
    assert all("hidden" not in style for c, style, _ in labels if "commune-hub" in c)
    assert "Albert" in {n for _, _, n in labels}
    # a metric scale only
    scale = re.findall(r'class="leaflet-control-scale-line"[^>]*>([^<]+)<', dom.stdout)
    assert len(scale) == 1 and re.fullmatch(r"\d+ (km|m)", scale[0]), scale
    # markers sharing a place (the depot, Albert's station) spread apart: no two at one point
    centres = [
        (cls, d)
        for cls, d in re.findall(
            r'<path class="([^"]*stack-[^"]*)"[^>]*\sd="M(-?\d+,-?\d+)a', dom.stdout
        )
    ]
    assert len(centres) >= 2, "no markers share a place: the test day no longer tests this"
    assert len({d for _, d in centres}) >= 0.95 * len(centres), "markers drawn on top of each other"
    # vehicles by their mode and name in the legend, never a bare "Véhicule <id>"
    legend = dom.stdout.split('id="legend"')[1].split("</div></div>")[0]
    assert "Minibus" in legend and "Véhicule" not in legend

    shot = ARTEFACTS / "map.png"
    shot.unlink(missing_ok=True)
    res = run_chromium(exe, "--window-size=1280,900", f"--screenshot={shot}", url)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    import matplotlib.image as mpimg
    import numpy as np

    img = mpimg.imread(shot)
    colours = np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 20, "the screenshot is (nearly) blank"
    assert Path(shot).stat().st_size > 20_000


def test_vehicles_named_by_mode(day: Day) -> None:
    from dataclasses import replace

    route = next(r for r in day.plan.routes if r.visits)
    v = day.problem.vehicle(route.vehicle_id)
    plain = replace(day.problem, vehicles=(replace(v, name=""),))
    assert vehicle_label(plain, route, "fr") == f"Minibus {v.id}"
    carpool = replace(day.problem, vehicles=(replace(v, name="", kind="carpool"),))
    assert vehicle_label(carpool, route, "fr") == f"Covoiturage {v.id}"
    assert vehicle_label(carpool, route, "en") == f"Carpool {v.id}"
    named = replace(day.problem, vehicles=(replace(v, name="Jean", kind="volunteer"),))
    assert vehicle_label(named, route, "fr") == f"Bénévole Jean ({v.id})"
