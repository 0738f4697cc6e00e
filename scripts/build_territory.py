#!/usr/bin/env python3
"""Build the project's compact territory files from the shared reference data.

Reads ``<shared>/data/territory/`` (``communes.csv``, ``communes.geojson``, ``epci.json`` and,
to repair merged communes, ``somme-communes-2018.geojson``) and writes into the repo's
``data/territory/``:

* ``communes.csv``: insee, name, epci_siren, epci_name, population, lon, lat (a point guaranteed
  inside the commune), area_km2;
* ``epcis.csv``: siren, key, name, main_insee, hubs (space-separated INSEE codes), population,
  communes;
* ``boundaries.geojson``: one feature per intercommunality, its outline dissolved from the
  commune polygons, simplified as a coverage (shared borders stay identical) and rounded to
  5 decimals;
* ``stops.csv``: one main stop per commune (id = INSEE code, at the inside point) plus a few
  well-known extra stops, each checked to lie inside its commune's polygon.

The output is deterministic: running it twice gives byte-identical files.

Usage: ``python scripts/build_territory.py [--shared PATH] [--out PATH]``
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry import Point, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

REPO = Path(__file__).resolve().parents[1]

# Short keys and hubs of the four intercommunalities. The pôles of the pilot come from the
# Pays du Coquelicot's own description of its territory (central town Albert, pôles
# Acheux-en-Amiénois, Bray-sur-Somme, Méaulte); a neighbour's hub is its main town.
EPCI_META: dict[str, dict[str, Any]] = {
    "248000747": {
        "key": "coquelicot",
        "main": "Albert",
        "hubs": ["Albert", "Acheux-en-Amiénois", "Bray-sur-Somme", "Méaulte"],
    },
    "248000499": {"key": "val-de-somme", "main": "Corbie", "hubs": ["Corbie"]},
    "200037059": {"key": "haute-somme", "main": "Péronne", "hubs": ["Péronne"]},
    "248000531": {"key": "amiens", "main": "Amiens", "hubs": ["Amiens"]},
}

# A few well-known places that people ride to. Positions are approximate (from general
# knowledge of the places, about +-200 m), never from a live map service; each is checked to
# fall inside its commune's polygon, otherwise the build fails. (A hospital and an airfield were
# tried and dropped: their remembered positions fell in a neighbouring commune.)
EXTRA_STOPS: list[dict[str, Any]] = [
    {
        "id": "80016-gare",
        "name": "Albert, gare SNCF",
        "insee": "80016",
        "lon": 2.6475,
        "lat": 50.0035,
        "comment": (
            "approximate position of Albert station (Paris-Lille line); checked inside the commune"
        ),
    },
    {
        "id": "80021-gare",
        "name": "Amiens, gare SNCF",
        "insee": "80021",
        "lon": 2.3077,
        "lat": 49.8906,
        "comment": (
            "approximate position of Amiens station, next to the Tour Perret; "
            "checked inside the commune"
        ),
    },
]

SIMPLIFY_TOLERANCE_DEG = (
    0.0003  # coverage simplification; moves the outline by at most a few metres
)
DECIMALS = 5
GEOD = Geod(ellps="WGS84")


class BuildError(Exception):
    pass


def _read_inputs(
    src: Path,
) -> tuple[list[dict[str, str]], dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    files = {name: src / name for name in ("communes.csv", "communes.geojson", "epci.json")}
    for path in files.values():
        if not path.is_file():
            raise BuildError(
                f"input file missing: {path} "
                "(give --shared PATH, the folder holding data/territory/)"
            )
    try:
        with files["communes.csv"].open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        geo = json.loads(files["communes.geojson"].read_text(encoding="utf-8"))
        epcis = json.loads(files["epci.json"].read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BuildError(f"cannot read the shared territory data in {src}: {exc}") from exc
    old_path = src / "somme-communes-2018.geojson"
    old = json.loads(old_path.read_text(encoding="utf-8")) if old_path.is_file() else None
    return rows, geo, epcis, old


def _area_km2(geom: BaseGeometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def _repair_merged_communes(
    polys: dict[str, BaseGeometry],
    names: dict[str, str],
    epci_of: dict[str, str],
    old: dict[str, Any] | None,
) -> list[tuple[str, str]]:
    """Give back to a commune nouvelle the former communes its (older) polygon lacks.

    The polygons are 2018 boundaries; a commune merged since then (e.g. Carnoy into
    Carnoy-Mametz in 2019) leaves a hole in its intercommunality. A 2018 commune that is not a
    current commune and lies in such a hole is merged into the current commune of the same
    intercommunality whose name contains its name, else the one sharing the longest border.
    """
    if old is None:
        return []
    notes: list[tuple[str, str]] = []
    by_epci: dict[str, list[str]] = {}
    for insee, siren in epci_of.items():
        by_epci.setdefault(siren, []).append(insee)
    for _siren, members in sorted(by_epci.items()):
        union = unary_union([polys[i] for i in members])
        holes = [Polygon(r) for p in getattr(union, "geoms", [union]) for r in p.interiors]
        for hole in holes:
            for feat in sorted(old["features"], key=lambda f: f["properties"]["code"]):
                code, name = feat["properties"]["code"], feat["properties"]["nom"]
                if code in polys:
                    continue
                g = shape(feat["geometry"])
                if not g.representative_point().within(hole):
                    continue
                named = [i for i in members if name.lower() in names[i].lower()]
                if named:
                    target = sorted(named)[0]
                else:
                    target = max(
                        sorted(members),
                        key=lambda i: polys[i].boundary.intersection(g.boundary).length,
                    )
                polys[target] = unary_union([polys[target], g]).buffer(0)
                notes.append(
                    (
                        target,
                        f"{name} ({code}, merged since 2018) added to {names[target]} ({target})",
                    )
                )
    return notes


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _epci_names(epcis: list[dict[str, Any]]) -> dict[str, str]:
    """SIREN -> name of the intercommunalities of epci.json, all of them known to this script."""
    epci_names = {e["code"]: e["nom"] for e in epcis}
    unknown = sorted(set(epci_names) - set(EPCI_META))
    if unknown:
        raise BuildError(
            f"epci.json lists intercommunalities this script has no key for: {', '.join(unknown)}"
        )
    return epci_names


def _check_communes(
    names: dict[str, str],
    polys: dict[str, BaseGeometry],
    epci_of: dict[str, str],
    epcis: list[dict[str, Any]],
) -> None:
    """Every commune has a polygon, and epci.json and communes.csv agree on the members."""
    missing = sorted(set(names) - set(polys))
    if missing:
        raise BuildError(f"communes.geojson lacks polygons for {', '.join(missing)}")
    for siren in EPCI_META:
        members = {m["code"] for e in epcis if e["code"] == siren for m in e["membres"]}
        listed = {i for i, s in epci_of.items() if s == siren}
        if members != listed:
            raise BuildError(f"epci.json and communes.csv disagree on the members of {siren}")


def _communes_rows(
    rows: list[dict[str, str]], polys: dict[str, BaseGeometry], repaired_insee: set[str]
) -> list[list[Any]]:
    """The rows of communes.csv, by INSEE code; a repaired commune's area is measured again."""
    communes_out: list[list[Any]] = []
    for r in sorted(rows, key=lambda r: r["insee"]):
        insee = r["insee"]
        lon, lat = round(float(r["inner_lon"]), 6), round(float(r["inner_lat"]), 6)
        if not polys[insee].contains(Point(lon, lat)):
            raise BuildError(f"the inside point of {r['nom']} ({insee}) is not inside its polygon")
        area = (
            round(_area_km2(polys[insee]), 3) if insee in repaired_insee else float(r["area_km2"])
        )
        communes_out.append(
            [insee, r["nom"], r["epci_siren"], r["epci_nom"], int(r["population"]), lon, lat, area]
        )
    return communes_out


def _epci_rows(
    rows: list[dict[str, str]],
    communes_out: list[list[Any]],
    epci_names: dict[str, str],
    names: dict[str, str],
    epci_of: dict[str, str],
) -> list[list[Any]]:
    """The rows of epcis.csv, in the order of EPCI_META (each hub checked to be a member)."""
    by_name = {r["nom"]: r["insee"] for r in rows}
    epci_rows = []
    for siren, meta in EPCI_META.items():
        in_epci = [c for c in communes_out if c[2] == siren]
        hubs = [by_name[n] for n in meta["hubs"]]
        for h in hubs:
            if epci_of[h] != siren:
                raise BuildError(f"hub {names[h]} is not in {siren}")
        epci_rows.append(
            [
                siren,
                meta["key"],
                epci_names[siren],
                by_name[meta["main"]],
                " ".join(hubs),
                sum(int(c[4]) for c in in_epci),
                len(in_epci),
            ]
        )
    return epci_rows


def _boundaries(
    polys: dict[str, BaseGeometry],
    names: dict[str, str],
    epci_of: dict[str, str],
    epci_rows: list[list[Any]],
) -> tuple[dict[str, Any], dict[str, BaseGeometry], list[str]]:
    """boundaries.geojson: the intercommunalities dissolved and simplified as a coverage, so
    that neighbours still touch. Also the outline of each (by SIREN) and a report line each."""
    sirens = list(EPCI_META)
    dissolved = [unary_union([polys[i] for i in sorted(names) if epci_of[i] == s]) for s in sirens]
    dissolved = [g.buffer(1e-7).buffer(-1e-7) for g in dissolved]  # close hairline slivers
    simplified = shapely.coverage_simplify(dissolved, SIMPLIFY_TOLERANCE_DEG)
    simplified = [shapely.set_precision(g, 10**-DECIMALS) for g in simplified]
    features = []
    report: list[str] = []
    for s, g, row in zip(sirens, simplified, epci_rows, strict=True):
        if not g.is_valid or g.is_empty:
            raise BuildError(f"the simplified outline of {s} is invalid")
        drift_m = shapely.hausdorff_distance(g, dissolved[sirens.index(s)]) * 111_000
        report.append(f"{row[2]}: outline {g.geom_type}, moved by at most ~{drift_m:.0f} m")
        geom = json.loads(json.dumps(mapping(g)), parse_float=lambda x: round(float(x), DECIMALS))
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "siren": s,
                    "key": row[1],
                    "name": row[2],
                    "population": row[5],
                    "communes": row[6],
                },
                "geometry": geom,
            }
        )
    boundaries = {"type": "FeatureCollection", "features": features}
    outline = {s: g for s, g in zip(sirens, simplified, strict=True)}
    return boundaries, outline, report


def _stops_rows(
    communes_out: list[list[Any]],
    outline: dict[str, BaseGeometry],
    polys: dict[str, BaseGeometry],
    names: dict[str, str],
) -> list[list[Any]]:
    """The rows of stops.csv, by id: a stop per commune and the extra stops, each checked."""
    stops: list[list[Any]] = []
    for c in communes_out:
        insee, name, siren, lon, lat = c[0], c[1], c[2], c[5], c[6]
        if not outline[siren].buffer(0.0005).contains(Point(lon, lat)):
            raise BuildError(
                f"the stop of {name} ({insee}) falls outside its intercommunality's outline"
            )
        stops.append([insee, name, insee, lon, lat, "commune inside point"])
    for x in EXTRA_STOPS:
        if x["insee"] not in polys:
            raise BuildError(f"extra stop {x['id']}: unknown commune {x['insee']}")
        if not polys[x["insee"]].contains(Point(x["lon"], x["lat"])):
            raise BuildError(f"extra stop {x['id']} is not inside {names[x['insee']]}")
        stops.append([x["id"], x["name"], x["insee"], x["lon"], x["lat"], x["comment"]])
    stops.sort(key=lambda s: s[0])
    return stops


def build(shared: Path, out: Path) -> list[str]:
    src = shared / "data" / "territory"
    rows, geo, epcis, old = _read_inputs(src)
    report: list[str] = []

    epci_names = _epci_names(epcis)
    polys: dict[str, BaseGeometry] = {}
    for feat in geo["features"]:
        polys[str(feat["properties"]["insee"])] = shape(feat["geometry"])
    names = {r["insee"]: r["nom"] for r in rows}
    epci_of = {r["insee"]: r["epci_siren"] for r in rows}
    _check_communes(names, polys, epci_of, epcis)

    repaired = _repair_merged_communes(polys, names, epci_of, old)
    report += [note for _, note in repaired]
    communes_out = _communes_rows(rows, polys, {target for target, _ in repaired})
    epci_rows = _epci_rows(rows, communes_out, epci_names, names, epci_of)
    boundaries, outline, outline_report = _boundaries(polys, names, epci_of, epci_rows)
    report += outline_report
    stops = _stops_rows(communes_out, outline, polys, names)

    out.mkdir(parents=True, exist_ok=True)
    files = {
        "communes.csv": _csv_text(
            ["insee", "name", "epci_siren", "epci_name", "population", "lon", "lat", "area_km2"],
            communes_out,
        ),
        "epcis.csv": _csv_text(
            ["siren", "key", "name", "main_insee", "hubs", "population", "communes"], epci_rows
        ),
        "stops.csv": _csv_text(["id", "name", "insee", "lon", "lat", "comment"], stops),
        "boundaries.geojson": json.dumps(boundaries, ensure_ascii=False, separators=(",", ":"))
        + "\n",
    }
    for fname, text in files.items():
        (out / fname).write_text(text, encoding="utf-8")
        report.append(f"wrote {out / fname} ({len(text.encode('utf-8')):,} bytes)")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--shared",
        type=Path,
        default=REPO / ".." / "shared",
        help="the shared folder holding data/territory/ (default: ../shared beside the repo)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "data" / "territory", help="output folder")
    args = ap.parse_args(argv)
    try:
        for line in build(args.shared.resolve(), args.out):
            print(line)
    except BuildError as exc:
        print(f"build_territory: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
