#!/usr/bin/env python3
"""Build ``data/territory/commune_borders.geojson``: the borders between the communes of each
intercommunality, for the map of the day (``dispatcher/reports/map.py``).

Reads the shared commune polygons (``<shared>/data/territory/communes.geojson``, 2018
boundaries, with the communes merged since given back to their commune nouvelle as
``scripts/build_territory.py`` does), simplifies them as a coverage (neighbours keep one shared
border), keeps each border once, and writes one MultiLineString per intercommunality (SIREN),
coordinates rounded to 4 decimals (about 10 m): a compact file of lines, not a copy of the
polygons. Run it again when ``build_territory.py`` is.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape
from shapely.ops import unary_union

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_territory import (  # noqa: E402  (a sibling script)
    REPO,
    BuildError,
    _read_inputs,
    _repair_merged_communes,
)

TOLERANCE_DEG = 0.0008  # about 60-90 m: a border drawn at commune scale, not a cadastre
DECIMALS = 4


def build(shared: Path, out: Path) -> list[str]:
    rows, geo, _epcis, old = _read_inputs(shared / "data" / "territory")
    polys = {str(f["properties"]["insee"]): shape(f["geometry"]) for f in geo["features"]}
    names = {r["insee"]: r["nom"] for r in rows}
    epci_of = {r["insee"]: r["epci_siren"] for r in rows}
    _repair_merged_communes(polys, names, epci_of, old)
    report = []
    features = []
    for siren in sorted(set(epci_of.values())):
        members = sorted(i for i in epci_of if epci_of[i] == siren and i in polys)
        simplified = shapely.coverage_simplify([polys[i] for i in members], TOLERANCE_DEG)
        outline = unary_union(simplified).boundary
        # every commune's border once, without the intercommunality's own outline
        lines = unary_union([g.boundary for g in simplified]).difference(outline.buffer(1e-6))
        lines = shapely.line_merge(lines) if lines.geom_type == "MultiLineString" else lines
        geom = json.loads(
            json.dumps(mapping(lines)), parse_float=lambda x: round(float(x), DECIMALS)
        )
        features.append({"type": "Feature", "properties": {"siren": siren}, "geometry": geom})
        report.append(f"{siren}: {len(members)} communes, borders {lines.geom_type}")
    text = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
    out.mkdir(parents=True, exist_ok=True)
    path = out / "commune_borders.geojson"
    path.write_text(text + "\n", encoding="utf-8")
    report.append(f"wrote {path} ({len(text):,} bytes)")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=REPO / ".." / "shared")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "territory")
    args = ap.parse_args(argv)
    try:
        for line in build(args.shared.resolve(), args.out):
            print(line)
    except BuildError as exc:
        print(f"build_commune_borders: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
