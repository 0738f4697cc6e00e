"""The territory: communes, stops, hubs and the outline of the chosen intercommunalities.

The facts come from the compact files in ``data/territory/`` (built from the shared reference
data by ``scripts/build_territory.py``): ``communes.csv``, ``stops.csv``, ``epcis.csv`` and
``boundaries.geojson``. Another data folder can be given with ``data_dir=`` or with the
``DISPATCHER_DATA_DIR`` environment variable (either the folder holding ``territory/`` or the
territory folder itself).

>>> t = Territory.load()                 # the pilot, CC du Pays du Coquelicot
>>> t.commune("meaulte").insee
'80523'
>>> t.contains(2.35, 48.85)              # Paris
False

Distances are metres in a local equirectangular projection centred on the Somme (error well
under 1 % across the four intercommunalities); coordinates are WGS84 lon/lat.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from dispatcher.errors import DataError, InputError, NotFoundError, PointError

EPCI_KEYS: dict[str, str] = {
    "coquelicot": "248000747",
    "val-de-somme": "248000499",
    "haute-somme": "200037059",
    "amiens": "248000531",
}
PILOT = "248000747"
DATA_DIR_ENV = "DISPATCHER_DATA_DIR"
PACKAGE_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "territory"
FILES = ("communes.csv", "stops.csv", "epcis.csv", "boundaries.geojson")

EARTH_RADIUS_M = 6_371_008.8
TERRITORY_BUFFER_M = 5_000.0  # a point this close to the territory is still served
REF_LON, REF_LAT = 2.65, 49.95  # centre of the projection (the Somme, near Albert)
_COS_REF = math.cos(math.radians(REF_LAT))


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str
    epci_siren: str
    epci_name: str
    population: int
    lon: float  # a point guaranteed inside the commune (where its main stop is)
    lat: float
    area_km2: float


@dataclass(frozen=True)
class Stop:
    id: str
    name: str
    insee: str  # the commune the stop lies in
    lon: float
    lat: float


@dataclass(frozen=True)
class Epci:
    siren: str
    key: str
    name: str
    main_insee: str
    hubs: tuple[str, ...]  # INSEE codes of the hub communes, main town first
    population: int


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------


def to_local_m(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 lon/lat -> metres east/north of the projection centre (equirectangular)."""
    return (
        math.radians(lon - REF_LON) * EARTH_RADIUS_M * _COS_REF,
        math.radians(lat - REF_LAT) * EARTH_RADIUS_M,
    )


def _project(geom: BaseGeometry) -> BaseGeometry:
    def f(coords: Any) -> Any:
        out = coords.copy()
        out[:, 0] = (coords[:, 0] - REF_LON) * (math.pi / 180) * EARTH_RADIUS_M * _COS_REF
        out[:, 1] = (coords[:, 1] - REF_LAT) * (math.pi / 180) * EARTH_RADIUS_M
        return out

    return shapely.transform(geom, f)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _check_point(lon: float, lat: float) -> None:
    ok = all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in (lon, lat)
    )
    if not ok or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise PointError(
            "is not a valid WGS84 point (lon in -180..180, lat in -90..90)", f"({lon}, {lat})"
        )


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------

_SAINT = {"saint": "st", "sainte": "ste", "saints": "sts", "saintes": "stes"}


# words a name may hold or leave out ("gare d'Albert" is "Albert, gare SNCF")
_LINK_WORDS = frozenset(
    {"a", "au", "aux", "d", "de", "des", "du", "en", "et", "l", "la", "le", "les"}
)


def normalize_name(name: str) -> str:
    """A forgiving key: no accents, lower case, hyphens/apostrophes as spaces, Saint -> St."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return " ".join(_SAINT.get(w, w) for w in s.split())


# --------------------------------------------------------------------------------------------
# Loading (cached per folder and file modification times)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Data:
    folder: Path
    communes: tuple[Commune, ...]
    stops: tuple[Stop, ...]
    epcis: tuple[Epci, ...]  # in the order of epcis.csv
    outlines: dict[str, BaseGeometry]  # siren -> WGS84 outline


def resolve_data_dir(data_dir: Path | str | None = None) -> Path:
    """The territory folder: ``data_dir``, else ``$DISPATCHER_DATA_DIR``, else the repo's data.

    A folder that holds a ``territory/`` sub-folder is taken to mean that sub-folder.
    """
    if data_dir is None:
        env = os.environ.get(DATA_DIR_ENV)
        folder = Path(env) if env else PACKAGE_DATA_DIR
    else:
        folder = Path(data_dir)
    if (folder / "territory" / FILES[0]).is_file():
        folder = folder / "territory"
    return folder.resolve()


def _read_csv(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"missing column(s) {', '.join(missing)}", str(path))
            rows = list(reader)
    except FileNotFoundError:
        raise DataError(
            "territory data file not found (run scripts/build_territory.py)", str(path)
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read territory data: {exc}", str(path)) from exc
    if not rows:
        raise DataError("has no rows", str(path))
    return rows


def _parse(path: Path, rows: Iterable[dict[str, str]], make: Any) -> list[Any]:
    out = []
    for k, row in enumerate(rows, start=2):
        try:
            out.append(make(row))
        except (TypeError, ValueError, KeyError) as exc:
            raise DataError(f"bad value on line {k}: {exc}", str(path)) from exc
    return out


def _float(v: str) -> float:
    x = float(v)
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {v!r}")
    return x


@lru_cache(maxsize=8)
def _load_data(folder: Path, stamp: tuple[float, ...]) -> _Data:
    del stamp  # part of the cache key only: a rebuilt file is read again
    p = {name: folder / name for name in FILES}
    communes = _parse(
        p["communes.csv"],
        _read_csv(
            p["communes.csv"],
            ["insee", "name", "epci_siren", "epci_name", "population", "lon", "lat", "area_km2"],
        ),
        lambda r: Commune(
            r["insee"],
            r["name"],
            r["epci_siren"],
            r["epci_name"],
            int(r["population"]),
            _float(r["lon"]),
            _float(r["lat"]),
            _float(r["area_km2"]),
        ),
    )
    stops = _parse(
        p["stops.csv"],
        _read_csv(p["stops.csv"], ["id", "name", "insee", "lon", "lat"]),
        lambda r: Stop(r["id"], r["name"], r["insee"], _float(r["lon"]), _float(r["lat"])),
    )
    epcis = _parse(
        p["epcis.csv"],
        _read_csv(p["epcis.csv"], ["siren", "key", "name", "main_insee", "hubs", "population"]),
        lambda r: Epci(
            r["siren"],
            r["key"],
            r["name"],
            r["main_insee"],
            tuple(r["hubs"].split()),
            int(r["population"]),
        ),
    )
    try:
        geo = json.loads(p["boundaries.geojson"].read_text(encoding="utf-8"))
        outlines = {str(f["properties"]["siren"]): shape(f["geometry"]) for f in geo["features"]}
    except FileNotFoundError:
        raise DataError(
            "territory data file not found (run scripts/build_territory.py)",
            str(p["boundaries.geojson"]),
        ) from None
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        shapely.errors.ShapelyError,
    ) as exc:
        raise DataError(
            f"cannot read the intercommunality outlines: {exc}", str(p["boundaries.geojson"])
        ) from exc

    # Cross-checks, so that a hand-edited folder fails here with a clear message.
    insees = {c.insee for c in communes}
    sirens = {e.siren for e in epcis}
    for c in communes:
        if c.epci_siren not in sirens:
            raise DataError(
                f"commune {c.insee} belongs to {c.epci_siren}, absent from epcis.csv",
                str(p["communes.csv"]),
            )
    stop_ids = [s.id for s in stops]
    if len(set(stop_ids)) != len(stop_ids):
        raise DataError("duplicate stop ids", str(p["stops.csv"]))
    for s in stops:
        if s.insee not in insees:
            raise DataError(f"stop {s.id} names unknown commune {s.insee}", str(p["stops.csv"]))
    missing_main = sorted(insees - set(stop_ids))
    if missing_main:
        raise DataError(
            f"no main stop for commune(s) {', '.join(missing_main[:5])}", str(p["stops.csv"])
        )
    for e in epcis:
        if e.siren not in outlines:
            raise DataError(f"no outline for {e.siren}", str(p["boundaries.geojson"]))
        for h in (e.main_insee, *e.hubs):
            if h not in insees:
                raise DataError(f"hub {h} of {e.siren} is not a known commune", str(p["epcis.csv"]))
    return _Data(folder, tuple(communes), tuple(stops), tuple(epcis), outlines)


def load_data(data_dir: Path | str | None = None) -> _Data:
    folder = resolve_data_dir(data_dir)
    stamp = []
    for name in FILES:
        try:
            stamp.append((folder / name).stat().st_mtime)
        except OSError:
            raise DataError(
                "territory data file not found (run scripts/build_territory.py)", str(folder / name)
            ) from None
    return _load_data(folder, tuple(stamp))


def _resolve_epcis(epcis: Sequence[str] | str | None, data: _Data) -> tuple[str, ...]:
    order = [e.siren for e in data.epcis]
    if epcis is None:
        return (PILOT,)
    items = [epcis] if isinstance(epcis, str) else list(epcis)
    keys: list[str] = []
    for item in items:
        keys += [k.strip() for k in str(item).split(",") if k.strip()]
    if not keys:
        raise NotFoundError(f"no intercommunality chosen; valid keys: {_valid_keys(data)}", "epcis")
    by_key = {e.key: e.siren for e in data.epcis} | EPCI_KEYS
    chosen: set[str] = set()
    for k in keys:
        norm = re.sub(r"[\s_]+", "-", k.lower())
        if norm == "all":
            chosen.update(order)
        elif norm == "pilot":
            chosen.add(PILOT)
        elif k in order:
            chosen.add(k)
        elif by_key.get(norm) in order:
            chosen.add(by_key[norm])
        else:
            raise NotFoundError(
                f"unknown intercommunality {k!r}; valid keys: {_valid_keys(data)}", "epcis"
            )
    return tuple(s for s in order if s in chosen)


def _valid_keys(data: _Data) -> str:
    return ", ".join([f"{e.key} ({e.siren})" for e in data.epcis] + ["all"])


# --------------------------------------------------------------------------------------------
# The territory
# --------------------------------------------------------------------------------------------


class Territory:
    """Communes, stops and hubs of one or more intercommunalities, with their outline.

    Build it with :meth:`Territory.load`; instances are immutable and cached per choice.
    """

    communes: tuple[Commune, ...]
    stops: tuple[Stop, ...]
    hubs: tuple[Stop, ...]
    epcis: tuple[str, ...]

    def __init__(self, data: _Data, epcis: tuple[str, ...]) -> None:
        self._data = data
        self.epcis = epcis
        chosen = set(epcis)
        self.communes = tuple(c for c in data.communes if c.epci_siren in chosen)
        insees = {c.insee for c in self.communes}
        self.stops = tuple(s for s in data.stops if s.insee in insees)
        self._stop_by_id = {s.id: s for s in self.stops}
        self._commune_by_insee = {c.insee: c for c in self.communes}
        self.hubs = tuple(
            self._stop_by_id[h] for e in data.epcis if e.siren in chosen for h in e.hubs
        )
        self.epci_names = tuple(e.name for e in data.epcis if e.siren in chosen)
        self.name = " + ".join(self.epci_names)

        self._by_name: dict[str, Commune] = {}
        for c in self.communes:
            n = normalize_name(c.name)
            self._by_name.setdefault(n, c)
            self._by_name.setdefault(n.replace(" ", ""), c)
        self._stop_by_name = {normalize_name(s.name): s for s in self.stops if s.id != s.insee}

        outline = unary_union([data.outlines[s] for s in epcis])
        if len(epcis) > 1:  # close hairline gaps left by rounding along shared borders
            outline = outline.buffer(1e-7).buffer(-1e-7)
        self._boundary = outline
        shapely.prepare(self._boundary)
        self._boundary_m = _project(outline)
        self._edge_m = self._boundary_m.boundary
        shapely.prepare(self._edge_m)

    # ---- construction -----------------------------------------------------------------------
    @classmethod
    def load(
        cls, epcis: Sequence[str] | str | None = None, data_dir: Path | str | None = None
    ) -> Territory:
        """The territory of ``epcis`` (SIREN codes, short keys of ``EPCI_KEYS``, or ``"all"``).

        ``None`` gives the pilot alone (CC du Pays du Coquelicot). An unknown key raises
        ``NotFoundError`` listing the valid ones; a missing or corrupt data file ``DataError``.
        """
        data = load_data(data_dir)
        return _territory(data, _resolve_epcis(epcis, data))

    # ---- look-ups ---------------------------------------------------------------------------
    def commune(self, key: str) -> Commune:
        """A commune by INSEE code or name (forgiving of accents, case, hyphens, Saint/St)."""
        key = str(key).strip()
        if key in self._commune_by_insee:
            return self._commune_by_insee[key]
        norm = normalize_name(key)
        found = self._by_name.get(norm) or self._by_name.get(norm.replace(" ", ""))
        if found is not None:
            return found
        prefix = sorted(
            {
                c.insee: c for n, c in self._by_name.items() if norm and n.startswith(norm + " ")
            }.values(),
            key=lambda c: c.insee,
        )
        if len(prefix) == 1:
            return prefix[0]
        raise NotFoundError(self._not_found_message(key, norm), "commune")

    def _not_found_message(self, key: str, norm: str) -> str:
        elsewhere = [
            c
            for c in self._data.communes
            if c.insee not in self._commune_by_insee
            and (c.insee == key or normalize_name(c.name) == norm)
        ]
        if elsewhere:
            c = elsewhere[0]
            return (
                f"{c.name} ({c.insee}) belongs to {c.epci_name}, which is not loaded "
                f"(this territory: {self.name}); add it to the chosen intercommunalities"
            )
        names = {normalize_name(c.name): c.name for c in self.communes}
        close = difflib.get_close_matches(norm, list(names), n=3, cutoff=0.0)
        hint = ", ".join(names[n] for n in close)
        return f"no commune {key!r} in {self.name}; nearest names: {hint}"

    def stop(self, key: str) -> Stop:
        """A stop by id (or name), or a commune's name/INSEE code -> that commune's main stop."""
        key = str(key).strip()
        if key in self._stop_by_id:
            return self._stop_by_id[key]
        by_name = self._stop_by_name.get(normalize_name(key))
        if by_name is not None:
            return by_name
        try:
            return self._stop_by_id[self.commune(key).insee]
        except NotFoundError as exc:
            found = self._stops_by_words(key)
            if len(found) == 1:
                return found[0]
            if found:
                names = "; ".join(f"{s.name} ({s.id})" for s in found[:8])
                raise InputError(
                    f"{key!r} matches {len(found)} stops: {names}; write one of them", "stop"
                ) from None
            raise NotFoundError(
                f"no stop id, stop name or commune {key!r}: {exc.message}", "stop"
            ) from None

    def _stops_by_words(self, key: str) -> list[Stop]:
        """The stops whose name (with its commune's) holds every word of ``key``, in any order,
        accents and case forgiven ("Albert gare" finds "Albert, gare SNCF")."""
        words = set(normalize_name(key).split()) - _LINK_WORDS
        if not words:
            return []
        out = []
        for s in self.stops:
            commune = self._commune_by_insee.get(s.insee)
            have = set(normalize_name(f"{s.name} {commune.name if commune else ''}").split())
            if words <= have:
                out.append(s)
        return sorted(out, key=lambda s: (s.id != s.insee, s.name, s.id))

    def main_stop(self, insee: str) -> Stop:
        """The commune's main stop (at its inside point)."""
        return self.stop(self.commune(insee).insee)

    def stops_of(self, insee: str) -> tuple[Stop, ...]:
        """Every stop of a commune, its main stop first."""
        c = self.commune(insee)
        return tuple(
            sorted(
                (s for s in self.stops if s.insee == c.insee), key=lambda s: (s.id != c.insee, s.id)
            )
        )

    def is_hub(self, stop_or_insee: Stop | str) -> bool:
        insee = stop_or_insee.insee if isinstance(stop_or_insee, Stop) else stop_or_insee
        return any(h.insee == insee for h in self.hubs)

    def nearest_stop(self, lon: float, lat: float) -> Stop:
        """The stop of the territory nearest to a point (straight line)."""
        _check_point(lon, lat)
        return min(self.stops, key=lambda s: (haversine_m(lon, lat, s.lon, s.lat), s.id))

    # ---- geometry ---------------------------------------------------------------------------
    def distance_m(self, lon: float, lat: float) -> float:
        """0 inside the territory, else the distance in metres to its outline."""
        _check_point(lon, lat)
        if self._boundary.covers(Point(lon, lat)):
            return 0.0
        x, y = to_local_m(lon, lat)
        return float(self._edge_m.distance(Point(x, y)))

    def contains(self, lon: float, lat: float, buffer_m: float = 0.0) -> bool:
        """True when the point is inside the territory or within ``buffer_m`` metres of it."""
        if not (isinstance(buffer_m, (int, float)) and math.isfinite(buffer_m) and buffer_m >= 0):
            raise InputError(
                f"must be a non-negative number of metres, got {buffer_m!r}", "buffer_m"
            )
        return self.distance_m(lon, lat) <= buffer_m

    @property
    def folder(self) -> Path:
        """The folder its data files were read from (other files beside them: the map's
        ``commune_borders.geojson``)."""
        return self._data.folder

    @property
    def boundary(self) -> BaseGeometry:
        """The outline (WGS84) of the chosen intercommunalities, a shapely geometry."""
        return self._boundary

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat)."""
        b = self._boundary.bounds
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))

    @property
    def population(self) -> int:
        return sum(c.population for c in self.communes)

    @property
    def area_km2(self) -> float:
        return sum(c.area_km2 for c in self.communes)

    def __repr__(self) -> str:
        return f"Territory({self.name!r}, {len(self.communes)} communes, {len(self.stops)} stops)"


@lru_cache(maxsize=32)
def _territory(data: _Data, epcis: tuple[str, ...]) -> Territory:
    return Territory(data, epcis)
