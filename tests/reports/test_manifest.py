from __future__ import annotations

import csv
import io
import re

import pytest

from dispatcher.errors import InputError
from dispatcher.reports.manifest import (
    CSV_COLUMNS,
    CSV_HEADERS,
    build_manifests,
    manifest_csv,
    manifest_html,
    time_of_day,
)
from tests.excel import open_as_french_excel

from .conftest import Day


def test_time_of_day() -> None:
    assert time_of_day(0) == "00:00"
    assert time_of_day(8 * 3600 + 5 * 60 + 59) == "08:05"
    assert time_of_day(86400 + 3600) == "01:00 +1"


def test_manifests_follow_every_route_in_order(day: Day) -> None:
    manifests = {m.vehicle_id: m for m in build_manifests(day.problem, day.plan)}
    used = [r for r in day.plan.routes if r.visits]
    assert set(manifests) == {r.vehicle_id for r in used}
    for route in used:
        m = manifests[route.vehicle_id]
        visits = [
            (ln.request_id, ln.action) for ln in m.lines if ln.action in ("pickup", "dropoff")
        ]
        assert visits == [(v.request_id, v.kind) for v in route.visits]
        assert m.lines[0].action == "start" and m.lines[-1].action == "end"
        assert sum(1 for ln in m.lines if ln.action == "break") == len(route.breaks)
        times = [ln.time_s for ln in m.lines]
        assert times == sorted(times), f"{route.vehicle_id}: lines out of time order"
        stops = [ln.stop for ln in m.lines]
        assert stops == sorted(stops)


def test_csv_lists_every_served_request_once_each_way(day: Day) -> None:
    rows = list(csv.DictReader(io.StringIO(manifest_csv(day.problem, day.plan, style="machine"))))
    assert rows and list(rows[0]) == list(CSV_COLUMNS)
    served = set(day.plan.served_ids)
    pickups = [r["request_id"] for r in rows if r["action"] == "pickup"]
    dropoffs = [r["request_id"] for r in rows if r["action"] == "dropoff"]
    assert sorted(pickups) == sorted(served) == sorted(dropoffs)
    assert not set(day.plan.refused_ids) & set(pickups)
    for route in day.plan.routes:
        mine = [r for r in rows if r["vehicle_id"] == route.vehicle_id and r["request_id"]]
        assert [(r["request_id"], r["action"], r["time"]) for r in mine] == [
            (v.request_id, v.kind, time_of_day(v.start_s)) for v in route.visits
        ]
    for r in rows:
        if r["request_id"]:
            req = day.problem.request(r["request_id"])
            assert (
                r["name"] == req.name and r["phone"] == req.phone
            )  # CSV quoting kept commas and quotes
            assert bool(r["wheelchair_note"]) == (req.wheelchairs > 0)
    assert {r["label"] for r in rows} >= {
        "Montée",
        "Descente",
        "Départ du dépôt",
        "Retour au dépôt",
    }


def test_html_one_section_per_vehicle_escaped_and_in_both_languages(day: Day) -> None:
    page = manifest_html(day.problem, day.plan)
    used = [r for r in day.plan.routes if r.visits]
    assert page.count('<section class="vehicle"') == len(used)
    assert "page-break-after: always" in page
    for word in ("Feuille de route", "Montée", "Descente"):
        assert word in page
    if any(day.problem.request(i).wheelchairs for i in day.plan.served_ids):
        assert "Fauteuil roulant" in page
    if any(r.breaks for r in used):
        assert "Pause" in page
    assert "<script>" not in page  # the name "<script>alert('x')</script>" is escaped
    assert "&lt;script&gt;" in page and "Minibus &lt;1&gt;" in page
    for route in used:  # every visit is a row with its request id, in route order
        section = page.split(f'data-vehicle="{route.vehicle_id}"')[1].split("</section>")[0]
        assert re.findall(r'<tr class="(?:pickup|dropoff)" data-request="([^"]*)"', section) == [
            v.request_id for v in route.visits
        ]
    en = manifest_html(day.problem, day.plan, lang="en")
    assert (
        "Driver&#x27;s manifest" in en
        and "Boarding" in en
        and "Alighting" in en
        and "Montée" not in en
    )
    with pytest.raises(InputError) as e:
        manifest_html(day.problem, day.plan, lang="de")
    assert e.value.where == "lang"


def test_csv_opens_in_french_excel_with_french_headers(day: Day) -> None:
    text = manifest_csv(day.problem, day.plan)
    rows = open_as_french_excel(text.encode("utf-8"))
    machine_text = manifest_csv(day.problem, day.plan, style="machine")
    machine = list(csv.DictReader(io.StringIO(machine_text)))
    assert len(rows) == len(machine)
    assert list(rows[0]) == [CSV_HEADERS["fr"][c] for c in CSV_COLUMNS]
    assert "Véhicule" in rows[0] and "Durée (min)" in rows[0] and "Téléphone" in rows[0]
    for fr, m in zip(rows, machine, strict=True):
        assert fr["Passager"] == m["name"] and fr["Heure"] == m["time"]
    assert not text.startswith("\ufeff\ufeff")
    english = open_as_french_excel(manifest_csv(day.problem, day.plan, "en").encode("utf-8"))
    assert "Passenger" in english[0]


def test_a_carpool_driver_is_named_as_on_the_map(day: Day) -> None:
    """A carpool driver's manifest says "Covoiturage" and the driver's name, as the map's label
    does, never "Véhicule c010"."""
    from dataclasses import replace

    from dispatcher.reports.manifest import vehicle_label

    route = next(r for r in day.plan.routes if r.visits)
    vid = route.vehicle_id
    vehicles = tuple(
        replace(v, kind="carpool", name="Mme Covoit") if v.id == vid else v
        for v in day.problem.vehicles
    )
    problem = replace(day.problem, vehicles=vehicles)
    page = manifest_html(problem, day.plan)
    section = page.split(f'data-vehicle="{vid}"')[1].split("</section>")[0]
    heading = section.split("<h1>")[1].split("</h1>")[0]
    assert heading == f"Feuille de route · Covoiturage Mme Covoit ({vid})"
    assert f"Véhicule {vid}" not in page
    assert heading.endswith(vehicle_label(problem, route, "fr"))
    en = manifest_html(problem, day.plan, lang="en")
    assert f"Carpool Mme Covoit ({vid})" in en
