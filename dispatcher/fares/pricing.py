"""The fare of one trip, from the fare rules and what the trip is: the rider's category and
product, the passengers (seats and wheelchair places), the direct road distance, the zones of
its two ends and the mode that carries it. One function, :func:`trip_fare`, used at booking, in
the plan and in every report, so that a fare is the same wherever it is read.

On the operator's vehicles (minibus, volunteer driver) a trip pays, per paying passenger, its
product's price under its category (``rules.py`` says how); one seated companion per wheelchair
user rides under the companion category (free) when the rules have one. On a carpool each
paying passenger pays the driver the contribution per km (within its bounds; free categories
pay nothing, ``percent`` categories a share), and the territory pays the driver its incentive
per passenger carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dispatcher.fares.money import divide, euros, percent_of
from dispatcher.fares.rules import CARPOOL_PRODUCT, Category, FareRules, Product

CARPOOL_MODE = "carpool"


@dataclass(frozen=True)
class Fare:
    """The fare of one trip. ``amount_cents``: what the rider pays for the trip (all its paying
    passengers); ``unit_cents``: per paying passenger; ``contribution_cents``/``incentive_cents``:
    a carpool's, what the driver receives from the passengers and from the territory."""

    request_id: str
    product: str
    category: str
    mode: str
    zone: str
    passengers: int
    companions: int
    unit_cents: int
    amount_cents: int
    incentive_cents: int = 0

    @property
    def display(self) -> str:
        return euros(self.amount_cents)

    @property
    def carpool(self) -> bool:
        return self.mode == CARPOOL_MODE

    @property
    def driver_cents(self) -> int:
        """What a carpool driver receives for the trip (contribution and incentive)."""
        return self.amount_cents + self.incentive_cents if self.carpool else 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "product": self.product,
            "category": self.category,
            "amount_cents": self.amount_cents,
            "display": self.display,
            "unit_cents": self.unit_cents,
            "passengers": self.passengers,
            "companions": self.companions,
            "zone": self.zone,
            "mode": self.mode,
        }
        if self.carpool:
            out["incentive_cents"] = self.incentive_cents
        return out


def fare_from_dict(request_id: str, d: Mapping[str, Any]) -> Fare:
    """A fare back from :meth:`Fare.to_dict`."""
    return Fare(
        request_id=request_id,
        product=str(d["product"]),
        category=str(d["category"]),
        mode=str(d.get("mode", "minibus")),
        zone=str(d.get("zone", "")),
        passengers=int(d.get("passengers", 1)),
        companions=int(d.get("companions", 0)),
        unit_cents=int(d.get("unit_cents", d["amount_cents"])),
        amount_cents=int(d["amount_cents"]),
        incentive_cents=int(d.get("incentive_cents", 0)),
    )


def zone_fare(
    rules: FareRules, distance_m: int, zones: tuple[str | None, str | None]
) -> tuple[int, str]:
    """The full single fare of a trip on the operator's vehicles, and the zone it falls in."""
    z = rules.zoning
    if z.kind == "flat":
        return z.flat_cents, "flat"
    if z.kind == "intercommunality":
        a, b = zones
        if a is not None and a == b:
            return z.inside_cents, "inside"
        return z.between_cents, "between"
    km = distance_m / 1000.0
    for i, band in enumerate(z.bands):
        if band.up_to_km is None or km <= band.up_to_km:
            return band.cents, f"band{i + 1}"
    raise AssertionError("the last distance band has no bound")  # pragma: no cover


def _unit_price(rules: FareRules, cat: Category, prod: Product, base: int) -> int:
    if cat.free:
        return 0
    if prod.kind in ("single", "on_board"):
        unit = cat.cents if cat.cents is not None else percent_of(base, cat.percent)
        return unit + prod.surcharge_cents if prod.kind == "on_board" else unit
    if prod.kind == "card":
        if cat.cents is not None:
            return cat.cents
        return divide(percent_of(prod.price_cents, cat.percent), prod.trips)
    return 0  # a pass: the trip is paid by the pass


def carpool_contribution(rules: FareRules, cat: Category, distance_m: int) -> int:
    """What one paying passenger of ``cat`` pays a carpool driver for ``distance_m``."""
    c = rules.carpool
    if cat.free:
        return 0
    full = (distance_m * c.cents_per_km + 500) // 1000
    full = max(full, c.min_cents)
    if c.max_cents is not None:
        full = min(full, c.max_cents)
    if cat.cents is not None:
        return min(cat.cents, full)
    return percent_of(full, cat.percent)


def trip_fare(
    rules: FareRules,
    *,
    request_id: str,
    category: str | None,
    product: str | None,
    seats: int,
    wheelchairs: int,
    distance_m: int,
    zones: tuple[str | None, str | None] = (None, None),
    mode: str = "minibus",
) -> Fare:
    """The fare of one trip (see the module's docstring); unknown category or product:
    :class:`~dispatcher.errors.InputError` naming ``rider_category``/``fare_product``."""
    cat = rules.category(category)
    companion = rules.companion_category()
    companions = min(seats, wheelchairs) if companion is not None else 0
    paying = seats + wheelchairs - companions
    if mode == CARPOOL_MODE:
        unit = carpool_contribution(rules, cat, distance_m)
        riders = seats + wheelchairs
        return Fare(
            request_id,
            CARPOOL_PRODUCT,
            cat.id,
            mode,
            "carpool",
            riders,
            companions,
            unit,
            unit * paying,
            rules.carpool.incentive_cents * riders,
        )
    prod = rules.product(product)
    base, zone = zone_fare(rules, distance_m, zones)
    if prod.kind in ("card", "pass"):
        zone = "all"  # cards and passes hold on every zone
    unit = _unit_price(rules, cat, prod, base)
    return Fare(
        request_id,
        prod.id,
        cat.id,
        mode,
        zone,
        seats + wheelchairs,
        companions,
        unit,
        unit * paying,
    )
