"""The fares of the on-demand service in GTFS-Fares v2 form, for the GTFS-Flex feed
(``dispatcher.reports.gtfs_flex``), and their check when the feed is read back.

From the fare rules (``dispatcher.fares``): ``rider_categories.txt`` (each category; the
rules' default one is the default fare category), ``fare_media.txt`` (the ticket the service
issues, a signed code on paper or screen; cash to the driver for a ticket bought on board),
``fare_products.txt`` (each single and on-board ticket per zone class and category, each card and
pass per category, amounts in euros), ``networks.txt`` and ``route_networks.txt`` (the on-demand
network), ``areas.txt`` and ``stop_areas.txt`` (one area per intercommunality, holding the
service's stops in it) and ``fare_leg_rules.txt`` (a leg inside one area, or from one to
another, pays the ``inside`` or ``between`` product; a flat fare, one rule for every leg).
What GTFS-Fares v2 cannot say is left out and named in ``docs/fares.md``: distance bands (no
leg rule), the companion of a wheelchair user riding free (a category of its own here), the
carpool contribution (carpools are not in the feed), the price of a trip on a card.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dispatcher.errors import DataError
from dispatcher.fares.pricing import trip_fare
from dispatcher.fares.rules import FareRules
from dispatcher.reports.gtfs_csv import table_text

NETWORK = "tad"
ZONE_NAMES = {"inside": "même intercommunalité", "between": "entre intercommunalités"}
MEDIA_TICKET, MEDIA_CASH = "titre", "especes"

FARES_SCHEMA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rider_categories.txt": (
        ("rider_category_id", "rider_category_name", "is_default_fare_category"),
        ("eligibility_url",),
    ),
    "fare_media.txt": (("fare_media_id", "fare_media_type"), ("fare_media_name",)),
    "fare_products.txt": (
        ("fare_product_id", "amount", "currency"),
        ("fare_product_name", "rider_category_id", "fare_media_id"),
    ),
    "networks.txt": (("network_id",), ("network_name",)),
    "route_networks.txt": (("network_id", "route_id"), ()),
    "areas.txt": (("area_id",), ("area_name",)),
    "stop_areas.txt": (("area_id", "stop_id"), ()),
    "fare_leg_rules.txt": (
        ("fare_product_id",),
        ("leg_group_id", "network_id", "from_area_id", "to_area_id", "rule_priority"),
    ),
}


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _columns(name: str) -> tuple[str, ...]:
    required, optional = FARES_SCHEMA[name]
    return required + optional


def build_gtfs_fares(
    rules: FareRules,
    route_id: str,
    areas: Sequence[tuple[str, str]],
    stop_area: Mapping[str, str],
) -> dict[str, str]:
    """The fare files: ``areas`` are (area id, name) per intercommunality, ``stop_area`` the area
    of each stop of ``stops.txt``."""
    cats = list(rules.categories.values())
    files = {
        "rider_categories.txt": table_text(
            _columns("rider_categories.txt"),
            (
                {
                    "rider_category_id": c.id,
                    "rider_category_name": c.name,
                    "is_default_fare_category": int(c.id == rules.default_category),
                }
                for c in cats
            ),
        ),
        "fare_media.txt": table_text(
            _columns("fare_media.txt"),
            [
                {
                    "fare_media_id": MEDIA_TICKET,
                    "fare_media_name": "Titre à code signé (papier ou écran)",
                    "fare_media_type": 1,
                },
                {
                    "fare_media_id": MEDIA_CASH,
                    "fare_media_name": "Paiement à bord",
                    "fare_media_type": 0,
                },
            ],
        ),
    }
    zoning = rules.zoning.kind
    classes = {"flat": ["flat"], "intercommunality": ["inside", "between"]}.get(zoning, [])
    products: list[dict[str, Any]] = []
    legs: list[dict[str, Any]] = []
    for p in rules.products.values():
        if p.kind in ("single", "on_board"):
            for zone in classes:
                pid = f"{p.id}_{zone}"
                for c in cats:
                    f = trip_fare(
                        rules,
                        request_id="gtfs",
                        category=c.id,
                        product=p.id,
                        seats=1,
                        wheelchairs=0,
                        distance_m=0,
                        zones=("a", "a" if zone == "inside" else "b"),
                    )
                    products.append(
                        {
                            "fare_product_id": pid,
                            "fare_product_name": f"{p.name} ({ZONE_NAMES[zone]})"
                            if zone in ZONE_NAMES
                            else p.name,
                            "rider_category_id": c.id,
                            "fare_media_id": MEDIA_CASH if p.kind == "on_board" else MEDIA_TICKET,
                            "amount": _amount(f.amount_cents),
                            "currency": "EUR",
                        }
                    )
                legs += _leg_rules(pid, zone, areas)
        else:  # cards and passes are sold, at their price under each category
            for c in cats:
                price = 0 if c.free else (p.price_cents * c.percent + 50) // 100
                if c.cents is not None and p.kind == "card":
                    price = c.cents * p.trips
                products.append(
                    {
                        "fare_product_id": p.id,
                        "fare_product_name": p.name,
                        "rider_category_id": c.id,
                        "fare_media_id": MEDIA_TICKET,
                        "amount": _amount(price),
                        "currency": "EUR",
                    }
                )
    files["fare_products.txt"] = table_text(_columns("fare_products.txt"), products)
    files["networks.txt"] = table_text(
        _columns("networks.txt"),
        [{"network_id": NETWORK, "network_name": "Transport à la demande"}],
    )
    files["route_networks.txt"] = table_text(
        _columns("route_networks.txt"), [{"network_id": NETWORK, "route_id": route_id}]
    )
    files["areas.txt"] = table_text(
        _columns("areas.txt"), ({"area_id": a, "area_name": n} for a, n in areas)
    )
    files["stop_areas.txt"] = table_text(
        _columns("stop_areas.txt"),
        ({"area_id": a, "stop_id": s} for s, a in sorted(stop_area.items(), key=lambda x: x[1])),
    )
    files["fare_leg_rules.txt"] = table_text(_columns("fare_leg_rules.txt"), legs)
    return files


def _leg_rules(pid: str, zone: str, areas: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    if zone == "flat":
        return [{"leg_group_id": "tad", "network_id": NETWORK, "fare_product_id": pid}]
    out = []
    for a, _ in areas:
        for b, _ in areas:
            if (a == b) == (zone == "inside"):
                out.append(
                    {
                        "leg_group_id": f"tad_{zone}",
                        "network_id": NETWORK,
                        "from_area_id": a,
                        "to_area_id": b,
                        "fare_product_id": pid,
                    }
                )
    return out


def area_of_stops(
    stop_ids: Iterable[str], zone_of: Callable[[str], str | None], prefix: str = "area_"
) -> dict[str, str]:
    """Stop id -> the area id of its intercommunality (stops of no known one left out)."""
    out = {}
    for s in stop_ids:
        z = zone_of(s)
        if z is not None:
            out[s] = f"{prefix}{z}"
    return out


# --------------------------------------------------------------------------------------------
# Reading back
# --------------------------------------------------------------------------------------------


def check_gtfs_fares(
    tables: Mapping[str, list[dict[str, str]]], routes: set[str], stops: set[str], where: str
) -> None:
    """The fare files of a feed read back: required columns filled, ids unique where they are
    keys, and every reference resolved (products -> categories and media, leg rules -> products,
    networks and areas, stop areas -> areas and stops, route networks -> routes); amounts are
    non-negative decimals with a currency; one default rider category. Raises ``DataError``
    naming the file, line and column."""

    def rows(name: str) -> list[dict[str, str]]:
        got = tables.get(name)
        if got is None:
            raise DataError("missing (the feed has fare_products.txt)", f"{where}:{name}")
        required, _ = FARES_SCHEMA[name]
        for k, r in enumerate(got, start=2):
            for c in required:
                if not (r.get(c) or "").strip():
                    raise DataError("is required", f"{where}:{name}:line {k}.{c}")
        return got

    def ids(name: str, key: str) -> set[str]:
        seen: set[str] = set()
        for k, r in enumerate(rows(name), start=2):
            if r[key] in seen:
                raise DataError(f"duplicate {key} {r[key]!r}", f"{where}:{name}:line {k}.{key}")
            seen.add(r[key])
        return seen

    def ref(name: str, col: str, known: set[str], optional: bool = True) -> None:
        for k, r in enumerate(rows(name), start=2):
            v = (r.get(col) or "").strip()
            if (v or not optional) and v not in known:
                raise DataError(f"unknown {col} {v!r}", f"{where}:{name}:line {k}.{col}")

    cats = ids("rider_categories.txt", "rider_category_id")
    defaults = [r for r in rows("rider_categories.txt") if r["is_default_fare_category"] == "1"]
    if len(defaults) > 1:
        raise DataError("more than one default fare category", f"{where}:rider_categories.txt")
    media = ids("fare_media.txt", "fare_media_id")
    networks = ids("networks.txt", "network_id")
    areas = ids("areas.txt", "area_id")
    ref("fare_products.txt", "rider_category_id", cats)
    ref("fare_products.txt", "fare_media_id", media)
    _check_products(rows("fare_products.txt"), where)
    products = {r["fare_product_id"] for r in rows("fare_products.txt")}
    ref("fare_leg_rules.txt", "fare_product_id", products, optional=False)
    ref("fare_leg_rules.txt", "network_id", networks)
    ref("fare_leg_rules.txt", "from_area_id", areas)
    ref("fare_leg_rules.txt", "to_area_id", areas)
    ref("stop_areas.txt", "area_id", areas, optional=False)
    ref("stop_areas.txt", "stop_id", stops, optional=False)
    ref("route_networks.txt", "network_id", networks, optional=False)
    ref("route_networks.txt", "route_id", routes, optional=False)


def _check_products(products: list[dict[str, str]], where: str) -> None:
    """One row per (product, category, media); amounts non-negative, two decimals at most."""
    seen: set[tuple[str, str, str]] = set()
    for k, r in enumerate(products, start=2):
        key = (r["fare_product_id"], r.get("rider_category_id", ""), r.get("fare_media_id", ""))
        if key in seen:
            raise DataError(f"duplicate product {key}", f"{where}:fare_products.txt:line {k}")
        seen.add(key)
        a = r["amount"]
        whole, _, dec = a.partition(".")
        if not (whole.isdigit() and (dec == "" or (dec.isdigit() and len(dec) <= 2))):
            raise DataError(
                f"must be a non-negative amount, got {a!r}",
                f"{where}:fare_products.txt:line {k}.amount",
            )


def fares_for_feed(
    rules: FareRules,
    territory: Any,
    route_id: str,
    zone_ids: Sequence[tuple[str, str]],
    stop_ids: Iterable[str],
) -> dict[str, str]:
    """The fare files of a GTFS-Flex feed whose zones are ``zone_ids`` ((id, name): one per
    intercommunality, ``zone_<SIREN>``, or one for the whole territory)."""
    from dispatcher.fares.zones import territory_zones

    areas = [("area_" + z.removeprefix("zone_"), name) for z, name in zone_ids]
    if len(areas) == 1:  # one zone: every stop in it
        stop_area = {s: areas[0][0] for s in stop_ids}
    else:
        stop_area = area_of_stops(stop_ids, territory_zones(territory))
    return build_gtfs_fares(rules, route_id, areas, stop_area)


def read_fare_tables(
    read: Callable[[str, tuple[tuple[str, ...], tuple[str, ...]]], list[dict[str, str]]],
    names: set[str],
) -> dict[str, list[dict[str, str]]]:
    """The fare files present in a feed, read by ``read(name, (required, optional columns))``."""
    return {n: read(n, FARES_SCHEMA[n]) for n in FARES_SCHEMA if n in names}
