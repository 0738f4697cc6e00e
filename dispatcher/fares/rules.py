"""Fare rules as data: zones, rider categories, products and the carpool contribution, read from
a TOML file (``docs/fares.md``; the embedded default is the Pays du Coquelicot's,
``coquelicot.toml`` next to this module). Euros are integer cents inside.

Bad input stops with an :class:`~dispatcher.errors.InputError` naming the file, the line where
it can be found and the key: ``fares.toml: line 12: categories.reduced.percent: must be an
integer from 0 to 100, got 150``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from dispatcher.errors import InputError

ZONINGS = ("flat", "intercommunality", "distance")
PRODUCT_KINDS = ("single", "on_board", "card", "pass")
CARPOOL_PRODUCT = "carpool"  # what a carpool passenger pays the driver (not an operator product)
DEFAULT_FILE = "coquelicot.toml"


@dataclass(frozen=True)
class DistanceBand:
    """A fare for trips whose direct road distance is at most ``up_to_km`` (None: any longer)."""

    up_to_km: float | None
    cents: int


@dataclass(frozen=True)
class Zoning:
    """The base fare of a trip on the operator's vehicles: ``flat`` (one fare), by
    ``intercommunality`` (``inside_cents`` within one, ``between_cents`` when the trip crosses
    into another), or by ``distance`` bands of the direct road distance."""

    kind: str = "flat"
    flat_cents: int = 0
    inside_cents: int = 0
    between_cents: int = 0
    bands: tuple[DistanceBand, ...] = ()


@dataclass(frozen=True)
class Category:
    """A rider category. A trip's price under it: ``free`` (0), else ``cents`` when given (the
    fixed price of a trip, e.g. a solidarity fare), else ``percent`` of the full price.
    ``max_age``: children under it ride free (the portal checks the age; only the category is
    stored). ``wheelchair_companion``: the category of one seated companion per wheelchair
    user, applied to those seats automatically. ``social``: granted on social criteria, so
    personal data (``docs/privacy.md``)."""

    id: str
    name: str
    name_en: str = ""
    percent: int = 100
    cents: int | None = None
    free: bool = False
    max_age: int | None = None
    wheelchair_companion: bool = False
    social: bool = False


@dataclass(frozen=True)
class Product:
    """A fare product: a ``single`` ticket (the zone's fare), a ticket bought ``on_board``
    (the single fare plus ``surcharge_cents``), a ``card`` of ``trips`` trips sold
    ``price_cents`` (a trip is worth the card's price over its trips, on any zone), or a
    ``pass`` valid ``valid_days`` days for ``price_cents`` (a trip on it costs nothing more)."""

    id: str
    name: str
    kind: str
    name_en: str = ""
    surcharge_cents: int = 0
    price_cents: int = 0
    trips: int = 0
    valid_days: int = 0


@dataclass(frozen=True)
class CarpoolFare:
    """What a carpool passenger pays the driver (``cents_per_km`` of the direct road distance,
    within ``min_cents``..``max_cents``) and the territory's incentive to the driver per
    passenger carried (``incentive_cents``)."""

    cents_per_km: int = 0
    min_cents: int = 0
    max_cents: int | None = None
    incentive_cents: int = 0


@dataclass(frozen=True)
class FareRules:
    name: str = ""
    zoning: Zoning = Zoning()
    categories: Mapping[str, Category] = field(default_factory=dict)
    products: Mapping[str, Product] = field(default_factory=dict)
    carpool: CarpoolFare = CarpoolFare()
    default_category: str = "full"
    default_product: str = "single"
    source: str = ""  # the file read, for messages

    def category(self, key: str | None, where: str = "rider_category") -> Category:
        k = key or self.default_category
        if k not in self.categories:
            raise InputError(
                f"unknown rider category {k!r}; categories are {', '.join(self.categories)}", where
            )
        return self.categories[k]

    def product(self, key: str | None, where: str = "fare_product") -> Product:
        k = key or self.default_product
        if k not in self.products:
            raise InputError(
                f"unknown fare product {k!r}; products are {', '.join(self.products)}", where
            )
        return self.products[k]

    def companion_category(self) -> Category | None:
        return next((c for c in self.categories.values() if c.wheelchair_companion), None)

    @property
    def social_categories(self) -> frozenset[str]:
        return frozenset(k for k, c in self.categories.items() if c.social)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


class _Src:
    """The text of a TOML file, to tell the line of a key (tomllib does not)."""

    _HEADER = re.compile(r"^\s*\[+\s*([^\]]+?)\s*\]+")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"']+)\s*=")

    def __init__(self, name: str, text: str, prefix: str = "") -> None:
        self.name, self.prefix = name, prefix
        self.lines: dict[str, int] = {}
        section = ""
        for n, line in enumerate(text.splitlines(), 1):
            h = self._HEADER.match(line)
            if h:
                section = h.group(1).replace('"', "").replace("'", "")
                self.lines.setdefault(section, n)
                continue
            k = self._KEY.match(line)
            if k:
                key = k.group(1).strip("\"'")
                self.lines.setdefault(f"{section}.{key}" if section else key, n)

    def error(self, key: str, message: str) -> InputError:
        key = f"{self.prefix}.{key}" if self.prefix else key
        probe = key
        while probe and probe not in self.lines:
            probe = probe.rpartition(".")[0]
        at = f"{self.name}: line {self.lines[probe]}" if probe else self.name
        return InputError(f"{key}: {message}", at)


def _table(src: _Src, d: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise src.error(key, f"must be a table, got {d!r}")
    return d


def _check_keys(src: _Src, d: Mapping[str, Any], known: tuple[str, ...], key: str) -> None:
    for k in d:
        if k not in known:
            raise src.error(f"{key}.{k}" if key else k, f"unknown key; keys are {', '.join(known)}")


def _int(
    src: _Src, d: Mapping[str, Any], k: str, key: str, default: Any = None, hi: int = 10**9
) -> Any:
    v = d.get(k, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
        raise src.error(f"{key}.{k}", f"must be an integer from 0 to {hi}, got {v!r}")
    return v


def _str(src: _Src, d: Mapping[str, Any], k: str, key: str, default: str = "") -> str:
    v = d.get(k, default)
    if not isinstance(v, str):
        raise src.error(f"{key}.{k}", f"must be a string, got {v!r}")
    return v


def _bool(src: _Src, d: Mapping[str, Any], k: str, key: str) -> bool:
    v = d.get(k, False)
    if not isinstance(v, bool):
        raise src.error(f"{key}.{k}", f"must be true or false, got {v!r}")
    return v


def _zoning(src: _Src, d: Mapping[str, Any]) -> Zoning:
    d = _table(src, d, "zones")
    known = ("kind", "flat_cents", "inside_cents", "between_cents", "bands")
    _check_keys(src, d, known, "zones")
    kind = _str(src, d, "kind", "zones", "flat")
    if kind not in ZONINGS:
        raise src.error("zones.kind", f"must be one of {', '.join(ZONINGS)}, got {kind!r}")
    need = {
        "flat": ("flat_cents",),
        "intercommunality": ("inside_cents", "between_cents"),
        "distance": ("bands",),
    }[kind]
    for k in need:
        if k not in d:
            raise src.error(f"zones.{k}", f"is required with kind = {kind!r}")
    bands = []
    if kind == "distance":
        raw = d["bands"]
        if not isinstance(raw, list) or not raw:
            raise src.error("zones.bands", "must be a non-empty list of {up_to_km, cents}")
        last = 0.0
        for i, b in enumerate(raw):
            w = f"zones.bands[{i}]"
            b = _table(src, b, w)
            _check_keys(src, b, ("up_to_km", "cents"), w)
            up = b.get("up_to_km")
            if up is not None:
                if isinstance(up, bool) or not isinstance(up, (int, float)) or up <= last:
                    raise src.error(
                        f"{w}.up_to_km", f"must be a number above {last:g} (bands ascend)"
                    )
                last = float(up)
            elif i != len(raw) - 1:
                raise src.error(f"{w}.up_to_km", "only the last band may leave it out")
            cents = _int(src, b, "cents", w)
            if cents is None:
                raise src.error(f"{w}.cents", "is required")
            bands.append(DistanceBand(None if up is None else float(up), cents))
        if bands[-1].up_to_km is not None:
            raise src.error("zones.bands", "the last band must leave out up_to_km (any distance)")
    return Zoning(
        kind=kind,
        flat_cents=_int(src, d, "flat_cents", "zones", 0),
        inside_cents=_int(src, d, "inside_cents", "zones", 0),
        between_cents=_int(src, d, "between_cents", "zones", 0),
        bands=tuple(bands),
    )


def _category(src: _Src, cid: str, d: Any) -> Category:
    key = f"categories.{cid}"
    d = _table(src, d, key)
    known = (
        "name",
        "name_en",
        "percent",
        "cents",
        "free",
        "max_age",
        "wheelchair_companion",
        "social",
    )
    _check_keys(src, d, known, key)
    return Category(
        id=cid,
        name=_str(src, d, "name", key, cid),
        name_en=_str(src, d, "name_en", key, ""),
        percent=_int(src, d, "percent", key, 100, hi=100),
        cents=_int(src, d, "cents", key),
        free=_bool(src, d, "free", key),
        max_age=_int(src, d, "max_age", key, hi=120),
        wheelchair_companion=_bool(src, d, "wheelchair_companion", key),
        social=_bool(src, d, "social", key),
    )


def _product(src: _Src, pid: str, d: Any) -> Product:
    key = f"products.{pid}"
    d = _table(src, d, key)
    known = ("name", "name_en", "kind", "surcharge_cents", "price_cents", "trips", "valid_days")
    _check_keys(src, d, known, key)
    if pid == CARPOOL_PRODUCT:
        raise src.error(key, f"{CARPOOL_PRODUCT!r} is the carpool contribution's; use another id")
    kind = _str(src, d, "kind", key, pid)
    if kind not in PRODUCT_KINDS:
        raise src.error(f"{key}.kind", f"must be one of {', '.join(PRODUCT_KINDS)}, got {kind!r}")
    p = Product(
        id=pid,
        name=_str(src, d, "name", key, pid),
        name_en=_str(src, d, "name_en", key, ""),
        kind=kind,
        surcharge_cents=_int(src, d, "surcharge_cents", key, 0),
        price_cents=_int(src, d, "price_cents", key, 0),
        trips=_int(src, d, "trips", key, 0, hi=10_000),
        valid_days=_int(src, d, "valid_days", key, 0, hi=3_660),
    )
    if kind == "card" and p.trips < 1:
        raise src.error(f"{key}.trips", "a card needs its number of trips (at least 1)")
    if kind == "pass" and p.valid_days < 1:
        raise src.error(f"{key}.valid_days", "a pass needs its days of validity (at least 1)")
    if kind in ("card", "pass") and "price_cents" not in d:
        raise src.error(f"{key}.price_cents", f"a {kind} needs its price")
    return p


def _carpool(src: _Src, d: Any) -> CarpoolFare:
    d = _table(src, d, "carpool")
    known = ("cents_per_km", "min_cents", "max_cents", "incentive_cents")
    _check_keys(src, d, known, "carpool")
    c = CarpoolFare(
        cents_per_km=_int(src, d, "cents_per_km", "carpool", 0, hi=1000),
        min_cents=_int(src, d, "min_cents", "carpool", 0),
        max_cents=_int(src, d, "max_cents", "carpool"),
        incentive_cents=_int(src, d, "incentive_cents", "carpool", 0),
    )
    if c.max_cents is not None and c.max_cents < c.min_cents:
        raise src.error("carpool.max_cents", f"must be at least min_cents ({c.min_cents})")
    return c


def fare_rules_from_text(text: str, name: str = "fares.toml") -> FareRules:
    """Fare rules from the text of a TOML file (``name`` in messages)."""
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"not valid TOML: {e}", name) from None
    return fare_rules_from_table(d, text, name)


def fare_rules_from_table(
    d: Mapping[str, Any], text: str, name: str, prefix: str = ""
) -> FareRules:
    """Fare rules from a parsed table: a fare file's, or the ``[fares]`` table of a service
    configuration (``prefix="fares"``: its keys are found in ``text`` under it)."""
    src = _Src(name, text, prefix)
    known = ("name", "default_category", "default_product", "zones", "categories", "products")
    _check_keys(src, d, (*known, "carpool"), "")
    for k in ("zones", "categories", "products"):
        if k not in d:
            raise src.error(k, "is required")
    cats = {k: _category(src, k, v) for k, v in _table(src, d["categories"], "categories").items()}
    prods = {k: _product(src, k, v) for k, v in _table(src, d["products"], "products").items()}
    rules = FareRules(
        name=_str(src, d, "name", "", ""),
        zoning=_zoning(src, d["zones"]),
        categories=cats,
        products=prods,
        carpool=_carpool(src, d.get("carpool", {})),
        default_category=_str(src, d, "default_category", "", "full"),
        default_product=_str(src, d, "default_product", "", "single"),
        source=name,
    )
    if rules.default_category not in cats:
        raise src.error("default_category", f"{rules.default_category!r} is not a category")
    if rules.default_product not in prods:
        raise src.error("default_product", f"{rules.default_product!r} is not a product")
    if sum(c.wheelchair_companion for c in cats.values()) > 1:
        raise src.error("categories", "at most one category is the wheelchair_companion one")
    return rules


def load_fare_rules(path: str | Path | None = None) -> FareRules:
    """The fare rules of ``path`` (TOML), or the embedded Pays du Coquelicot default."""
    if path is None or str(path) == "":
        text = resources.files("dispatcher.fares").joinpath(DEFAULT_FILE).read_text("utf-8")
        return fare_rules_from_text(text, f"<default {DEFAULT_FILE}>")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such fare file", str(p)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the fare file: {e}", str(p)) from None
    return fare_rules_from_text(text, str(p))
