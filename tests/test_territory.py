"""The territory layer: data files, look-ups, outline and distances."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, shape

from dispatcher.errors import DataError, InputError, NotFoundError, PointError
from dispatcher.territory import (
    EPCI_KEYS,
    PILOT,
    Territory,
    normalize_name,
    resolve_data_dir,
    to_local_m,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO / ".." / "shared"
SHARED_TERRITORY = SHARED / "data" / "territory"
DATA = REPO / "data" / "territory"
needs_shared = pytest.mark.skipif(
    not (SHARED_TERRITORY / "communes.geojson").is_file(),
    reason="../shared/data/territory is absent",
)

PILOT_HUBS = (
    "80016",
    "80003",
    "80136",
    "80523",
)  # Albert, Acheux-en-Amiénois, Bray-sur-Somme, Méaulte


@pytest.fixture(scope="module")
def pilot() -> Territory:
    return Territory.load()


@pytest.fixture(scope="module")
def everything() -> Territory:
    return Territory.load("all")


# ---- loading -------------------------------------------------------------------------------


def test_counts(pilot: Territory, everything: Territory) -> None:
    assert len(everything.communes) == 197
    assert len(pilot.communes) == 65
    assert pilot.epcis == (PILOT,)
    assert {c.epci_siren for c in pilot.communes} == {PILOT}
    assert len(Territory.load(["val-de-somme"]).communes) == 33
    assert len(Territory.load(["200037059"]).communes) == 60
    assert len(Territory.load(["amiens"]).communes) == 39
    assert everything.population == sum(Territory.load([k]).population for k in EPCI_KEYS)


def test_epci_choice_forms(everything: Territory) -> None:
    both = Territory.load(["coquelicot", "248000499"])
    assert both.epcis == ("248000747", "248000499")
    assert Territory.load("coquelicot, val-de-somme").epcis == both.epcis
    assert Territory.load(["Val_de_Somme", "COQUELICOT"]).epcis == both.epcis
    assert Territory.load(list(EPCI_KEYS.values())).epcis == everything.epcis
    assert Territory.load("all") is everything  # cached


def test_unknown_epci_lists_valid_keys() -> None:
    with pytest.raises(NotFoundError) as e:
        Territory.load(["coquelicots"])
    assert e.value.where == "epcis"
    for key in EPCI_KEYS:
        assert key in e.value.message
    assert "all" in e.value.message
    with pytest.raises(NotFoundError):
        Territory.load([])


def test_hubs(pilot: Territory, everything: Territory) -> None:
    assert tuple(h.id for h in pilot.hubs) == PILOT_HUBS
    assert [h.name for h in pilot.hubs] == [
        "Albert",
        "Acheux-en-Amiénois",
        "Bray-sur-Somme",
        "Méaulte",
    ]
    assert tuple(h.id for h in everything.hubs) == PILOT_HUBS + ("80212", "80620", "80021")
    assert [h.name for h in everything.hubs][4:] == ["Corbie", "Péronne", "Amiens"]
    assert tuple(h.id for h in Territory.load(["haute-somme"]).hubs) == ("80620",)
    assert all(h.id == h.insee for h in everything.hubs)  # a hub is its commune's main stop
    assert pilot.is_hub("80523") and not pilot.is_hub("80129")


def test_population_and_bbox(pilot: Territory, everything: Territory) -> None:
    assert pilot.commune("Albert").population == 9521
    assert 25_000 < pilot.population < 30_000
    assert everything.population > 250_000
    lo_lon, lo_lat, hi_lon, hi_lat = pilot.bbox
    assert 2.3 < lo_lon < hi_lon < 2.9 and 49.85 < lo_lat < hi_lat < 50.2
    ab = everything.bbox
    assert ab[0] < lo_lon and ab[2] > hi_lon


def test_every_commune_has_a_main_stop_inside_the_territory(everything: Territory) -> None:
    ids = {s.id for s in everything.stops}
    for c in everything.communes:
        assert c.insee in ids
        s = everything.stop(c.insee)
        assert (s.lon, s.lat) == (c.lon, c.lat) and s.name == c.name
    for s in everything.stops:
        assert everything.contains(s.lon, s.lat), s


def test_names_are_unambiguous(everything: Territory) -> None:
    names = [normalize_name(c.name) for c in everything.communes]
    assert len(set(names)) == len(names)


# ---- look-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "insee"),
    [
        ("meaulte", "80523"),
        ("Méaulte", "80523"),
        ("ALBERT", "80016"),
        ("bray sur somme", "80136"),
        ("Bray-sur-Somme", "80136"),
        ("braysursomme", "80136"),
        ("80016", "80016"),
        ("  80016 ", "80016"),
        ("Acheux en Amienois", "80003"),
        ("acheux-en-amiénois", "80003"),
        ("Acheux", "80003"),  # unique first word
        ("Carnoy Mametz", "80505"),
        ("beaucourt sur l ancre", "80065"),
        ("Beaucourt-sur-l'Ancre", "80065"),
    ],
)
def test_commune_lookup(pilot: Territory, key: str, insee: str) -> None:
    assert pilot.commune(key).insee == insee


def test_saint_and_st(everything: Territory) -> None:
    assert everything.commune("St Fuscien").insee == "80702"
    assert everything.commune("saint-fuscien").insee == "80702"
    assert everything.commune("St-Léger-les-Authie").name == "Saint-Léger-lès-Authie"
    assert normalize_name("Saint-Léger-lès-Authie") == "st leger les authie"


def test_unknown_commune_suggests_three_names(pilot: Territory) -> None:
    with pytest.raises(NotFoundError) as e:
        pilot.commune("Albertville")
    assert e.value.where == "commune"
    assert "Albert" in e.value.message
    suggestions = e.value.message.split("nearest names:")[1].split(",")
    assert len(suggestions) == 3
    with pytest.raises(NotFoundError) as e2:
        pilot.commune("Meolte")
    assert "Méaulte" in e2.value.message


def test_commune_of_an_unloaded_neighbour_says_so(pilot: Territory) -> None:
    with pytest.raises(NotFoundError) as e:
        pilot.commune("Corbie")
    assert "CC du Val de Somme" in e.value.message and "not loaded" in e.value.message
    with pytest.raises(NotFoundError):
        pilot.commune("80021")  # Amiens


def test_ambiguous_prefix_is_not_guessed(everything: Territory) -> None:
    with pytest.raises(NotFoundError):
        everything.commune("Mesnil")  # Mesnil-Bruntel, Mesnil-en-Arrouaise, Mesnil-Martinsart


def test_stop_lookup(pilot: Territory) -> None:
    assert pilot.stop("80016-gare").insee == "80016"
    assert pilot.stop("Albert, gare SNCF").id == "80016-gare"
    assert pilot.stop("albert gare sncf").id == "80016-gare"
    assert pilot.stop("Albert").id == "80016"
    assert pilot.stop("meaulte").id == "80523"
    assert [s.id for s in pilot.stops_of("Albert")] == ["80016", "80016-gare"]
    assert pilot.main_stop("Bray sur Somme").id == "80136"
    with pytest.raises(NotFoundError) as e:
        pilot.stop("nowhere-at-all")
    assert e.value.where == "stop"


def test_nearest_stop(pilot: Territory) -> None:
    assert pilot.nearest_stop(2.6476, 50.0034).id == "80016-gare"
    c = pilot.commune("Bray-sur-Somme")
    assert pilot.nearest_stop(c.lon + 0.0001, c.lat).id == "80136"


# ---- outline and distances -----------------------------------------------------------------


def test_contains(pilot: Territory, everything: Territory) -> None:
    albert = pilot.stop("80016")
    assert pilot.contains(albert.lon, albert.lat)
    assert pilot.distance_m(albert.lon, albert.lat) == 0.0
    assert not pilot.contains(2.35, 48.85)  # Paris
    assert not pilot.contains(1.2, 50.3)  # the English Channel
    assert not everything.contains(2.35, 48.85, buffer_m=50_000)
    amiens = everything.stop("Amiens")
    assert everything.contains(amiens.lon, amiens.lat)
    assert not pilot.contains(amiens.lon, amiens.lat)


def test_point_just_outside_within_buffer(pilot: Territory) -> None:
    min_lon, _, _, _ = pilot.bbox
    west = min(pilot.boundary.exterior.coords, key=lambda p: p[0])  # the westmost vertex
    lon, lat = west[0] - 0.002, west[1]  # 0.002 degree of longitude ~ 143 m at 50 N
    expected = to_local_m(west[0], lat)[0] - to_local_m(lon, lat)[0]
    assert 130 < expected < 150
    d = pilot.distance_m(lon, lat)
    # nothing of the outline lies west of min_lon, so the distance is at least the lon gap
    assert expected * 0.999 <= d <= expected * 1.001 + 1e-6
    assert not pilot.contains(lon, lat)
    assert not pilot.contains(lon, lat, buffer_m=100)
    assert pilot.contains(lon, lat, buffer_m=200)
    assert west[0] == min_lon


def test_distance_matches_an_independent_projection() -> None:
    pyproj = pytest.importorskip("pyproj")
    t = Territory.load()
    lambert93 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform
    outline = shapely.transform(
        t.boundary, lambda xy: np.column_stack(lambert93(xy[:, 0], xy[:, 1]))
    )
    for lon, lat in [(2.35, 48.85), (1.2, 50.3), (3.3, 50.3), (2.6, 49.7), (2.36, 50.0)]:
        reference = outline.distance(Point(*lambert93(lon, lat)))
        assert t.distance_m(lon, lat) == pytest.approx(reference, rel=0.01, abs=5.0)


def test_bad_points(pilot: Territory) -> None:
    with pytest.raises(PointError):
        pilot.contains(float("nan"), 50.0)
    with pytest.raises(PointError):
        pilot.distance_m(2.6, 95.0)
    with pytest.raises(InputError):
        pilot.contains(2.6, 50.0, buffer_m=-1)


def test_boundary_is_one_piece(pilot: Territory, everything: Territory) -> None:
    # Carnoy (merged into Carnoy-Mametz in 2019) fills what was a hole in the 2018 polygons
    assert pilot.boundary.geom_type == "Polygon" and len(pilot.boundary.interiors) == 0
    assert everything.boundary.geom_type == "Polygon"
    assert pilot.boundary.area < everything.boundary.area


# ---- data folder -----------------------------------------------------------------------------


def test_data_files_are_small() -> None:
    assert (DATA / "boundaries.geojson").stat().st_size < 150_000
    geo = json.loads((DATA / "boundaries.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["siren"] for f in geo["features"]] == list(EPCI_KEYS.values())


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    for name in ("communes.csv", "stops.csv", "epcis.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    with pytest.raises(DataError) as e:
        Territory.load(data_dir=tmp_path)
    assert "boundaries.geojson" in str(e.value)


def test_corrupt_files_are_data_errors(tmp_path: Path) -> None:
    for name in ("communes.csv", "stops.csv", "epcis.csv", "boundaries.geojson"):
        shutil.copy(DATA / name, tmp_path / name)
    (tmp_path / "boundaries.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError) as e:
        Territory.load(data_dir=tmp_path)
    assert "boundaries.geojson" in e.value.where
    shutil.copy(DATA / "boundaries.geojson", tmp_path / "boundaries.geojson")
    text = (DATA / "communes.csv").read_text(encoding="utf-8").replace(",9521,", ",many,")
    (tmp_path / "communes.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as e2:
        Territory.load(data_dir=tmp_path)
    assert "communes.csv" in e2.value.where and "line" in e2.value.message


def test_environment_variable_points_at_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data" / "territory"
    folder.mkdir(parents=True)
    for name in ("communes.csv", "stops.csv", "epcis.csv", "boundaries.geojson"):
        shutil.copy(DATA / name, folder / name)
    lines = (DATA / "stops.csv").read_text(encoding="utf-8").splitlines()
    lines.append("80523-test,Méaulte test stop,80523,2.67,49.977,test")
    (folder / "stops.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("DISPATCHER_DATA_DIR", str(tmp_path / "data"))
    assert resolve_data_dir() == folder.resolve()
    t = Territory.load()
    assert t.stop("80523-test").insee == "80523"
    monkeypatch.delenv("DISPATCHER_DATA_DIR")
    with pytest.raises(NotFoundError):
        Territory.load().stop("80523-test")


# ---- against the shared reference data ------------------------------------------------------


@needs_shared
def test_every_stop_lies_in_its_commune_polygon(everything: Territory) -> None:
    geo = json.loads((SHARED_TERRITORY / "communes.geojson").read_text(encoding="utf-8"))
    polys = {f["properties"]["insee"]: shape(f["geometry"]) for f in geo["features"]}
    assert set(polys) == {c.insee for c in everything.communes}
    for s in everything.stops:
        poly = polys[s.insee]
        if poly.contains(Point(s.lon, s.lat)):
            continue
        # within 50 m: compare in the local metric projection
        x, y = to_local_m(s.lon, s.lat)
        ring = [to_local_m(lon, lat) for lon, lat in poly.exterior.coords]
        assert LineString(ring).distance(Point(x, y)) <= 50, s


@needs_shared
def test_build_script_reproduces_the_committed_files(tmp_path: Path) -> None:
    out = tmp_path / "territory"
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_territory.py"),
            "--shared",
            str(SHARED),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "Carnoy" in run.stdout
    for name in ("communes.csv", "stops.csv", "epcis.csv", "boundaries.geojson"):
        assert (out / name).read_bytes() == (DATA / name).read_bytes(), (
            f"{name} is stale: rerun the build script"
        )


def test_build_script_missing_input_is_one_line(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "build_territory.py"),
            "--shared",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "communes.csv" in lines[0] and "--shared" in lines[0]
