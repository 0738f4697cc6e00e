"""Fare zones of places: the intercommunality (SIREN) of a stop's commune, or of the commune of
the stop nearest a free point."""

from __future__ import annotations

import re

from dispatcher.errors import DispatcherError
from dispatcher.fares.plan import ZoneOf
from dispatcher.territory import Territory

_POINT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def territory_zones(territory: Territory) -> ZoneOf:
    """A location id -> the SIREN of its intercommunality (None when the territory does not know
    it); memoised."""
    cache: dict[str, str | None] = {}

    def zone_of(loc_id: str) -> str | None:
        if loc_id in cache:
            return cache[loc_id]
        got: str | None
        try:
            m = _POINT.match(loc_id)
            stop = territory.nearest_stop(float(m[1]), float(m[2])) if m else territory.stop(loc_id)
            got = territory.commune(stop.insee).epci_siren
        except (DispatcherError, ValueError):
            got = None
        cache[loc_id] = got
        return got

    return zone_of
