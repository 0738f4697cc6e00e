"""Postal addresses to points, behind one small interface (:class:`Geocoder`: ``locate``).

* :class:`RoadDataGeocoder` (offline, the default) looks in what the loaded road data holds:
  the ``addr:*`` addresses of a real OSM extract (``12 rue de Corbie, Albert`` at its house),
  else the street by its name (the point of the street nearest the commune's centre), else the
  commune's main stop. Anything less than the house says so in a warning
  (:class:`~dispatcher.errors.Notice`). The embedded network has no street names: addresses
  then fall back to the commune's main stop.
* :class:`HttpGeocoder` asks a server that speaks the API of the French national address base
  (``api-adresse.data.gouv.fr``: ``/search/?q=``, GeoJSON) or Nominatim's
  (``/search?format=jsonv2``), for users who have one; configured by URL.

:func:`geocoder_from_spec` reads the one-string configuration (``--geocoder`` or
``$DISPATCHER_GEOCODER``): ``offline``, ``ban:URL`` or ``nominatim:URL``.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from dispatcher.errors import DataError, InputError, NotFoundError, Notice

if TYPE_CHECKING:
    from dispatcher.graph.network import RoadNetwork
    from dispatcher.territory import Territory

GEOCODER_ENV = "DISPATCHER_GEOCODER"
_NUMBER = re.compile(r"^\s*(\d+\s*(?:bis|ter|quater|[a-z])?)\b[\s,]*", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """Where an address is: a point, and how precisely (``house``, ``street``, ``commune``)."""

    lon: float
    lat: float
    precision: str
    label: str = ""


class Geocoder(Protocol):
    def locate(self, address: str, where: str) -> Found:
        """The point of a postal address; an InputError naming ``where`` when there is none (no
        commune, a commune outside the territory, unknown to the geocoder)."""
        ...


def _norm(text: str) -> str:
    from dispatcher.territory import normalize_name

    return normalize_name(text)


def split_address(address: str) -> tuple[str, str, str]:
    """(house number, street, commune) of ``"12 rue de Corbie, Albert"`` (parts may be "")."""
    text = " ".join(address.split())
    head, _, commune = text.rpartition(",") if "," in text else (text, "", "")
    m = _NUMBER.match(head)
    number = m.group(1).replace(" ", "").lower() if m else ""
    street = head[m.end() :] if m else head
    commune = re.sub(r"^\s*\d{5}\s*", "", commune)  # a postcode before the commune
    return number, street.strip(" ,"), commune.strip()


class RoadDataGeocoder:
    """Offline: the addresses and street names of the loaded road data, else the commune."""

    def __init__(self, network: RoadNetwork | None, territory: Territory) -> None:
        self.territory = territory
        self._houses: dict[tuple[str, str], list[tuple[float, float, str, str]]] = {}
        self._streets: dict[str, list[tuple[float, float]]] = {}
        if network is not None:
            self._index(network)

    def _index(self, network: RoadNetwork) -> None:
        G = network.G
        for number, street, postcode, city, lon, lat in json.loads(
            G.graph.get("addresses") or "[]"
        ):
            key = (str(number).replace(" ", "").lower(), _norm(street))
            self._houses.setdefault(key, []).append((lon, lat, postcode, _norm(city)))
        for u, v, d in G.edges(data=True):
            names = d.get("name")
            for name in names if isinstance(names, list) else [names]:
                if name:
                    a, b = G.nodes[u], G.nodes[v]
                    mid = ((a["x"] + b["x"]) / 2, (a["y"] + b["y"]) / 2)
                    self._streets.setdefault(_norm(str(name)), []).append(mid)

    def locate(self, address: str, where: str) -> Found:
        number, street, commune_text = split_address(address)
        try:
            commune = self.territory.commune(commune_text) if commune_text else None
        except NotFoundError as e:  # the address is what is wrong (422), not a missing record
            raise InputError(f"address {address!r}: {e.message}", where) from None
        if commune is None:
            raise InputError(
                f"address {address!r} names no commune; write it as '12 rue de Corbie, Albert'",
                where,
            )
        centre = self.territory.main_stop(commune.insee)
        houses = self._houses.get((number, _norm(street)), []) if number else []
        mine = [h for h in houses if not h[3] or h[3] == _norm(commune.name)]
        if mine:
            lon, lat, *_ = min(mine, key=lambda h: _far(h[0], h[1], centre.lon, centre.lat))
            return Found(lon, lat, "house", address)
        points = self._streets.get(_norm(street), [])
        if points:
            lon, lat = min(points, key=lambda p: _far(p[0], p[1], centre.lon, centre.lat))
            if _far(lon, lat, centre.lon, centre.lat) < 10_000:
                if number:
                    _note(f"no house {number} in the road data: placed on {street}", where)
                return Found(lon, lat, "street", address)
        _note(
            f"{street or address!r} is not in the road data (no street names or addresses): "
            f"placed at the main stop of {commune.name}",
            where,
        )
        return Found(centre.lon, centre.lat, "commune", address)


def _far(lon: float, lat: float, lon0: float, lat0: float) -> float:
    """Metres between two near points (equirectangular)."""
    dx = math.radians(lon - lon0) * 6_371_000 * math.cos(math.radians(lat0))
    return math.hypot(dx, math.radians(lat - lat0) * 6_371_000)


def _note(message: str, where: str) -> None:
    warnings.warn(Notice(message, where), stacklevel=3)


class HttpGeocoder:
    """A geocoding server: the French national address base's API (``kind="ban"``) or
    Nominatim's (``kind="nominatim"``), at ``url`` (its root, without ``/search``)."""

    def __init__(self, url: str, kind: str = "ban", timeout_s: float = 10.0) -> None:
        if kind not in ("ban", "nominatim"):
            raise InputError(f"must be ban or nominatim, got {kind!r}", "geocoder")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"a geocoder URL starts with http:// or https://: {url!r}", "geocoder")
        self.url, self.kind, self.timeout_s = url.rstrip("/"), kind, timeout_s

    def _ask(self, address: str) -> Any:
        if self.kind == "ban":
            query = urllib.parse.urlencode({"q": address, "limit": 1})
            target = f"{self.url}/search/?{query}"
        else:
            query = urllib.parse.urlencode({"q": address, "format": "jsonv2", "limit": 1})
            target = f"{self.url}/search?{query}"
        request = urllib.request.Request(target, headers={"User-Agent": "dispatcher-geocoder"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310
                return json.loads(answer.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise DataError(f"the geocoder did not answer ({e})", self.url) from None

    def locate(self, address: str, where: str) -> Found:
        data = self._ask(address)
        try:
            if self.kind == "ban":
                features = data.get("features") or []
                if features:
                    lon, lat = features[0]["geometry"]["coordinates"][:2]
                    props = features[0].get("properties") or {}
                    kind = str(props.get("type") or "")
                    precision = {"housenumber": "house", "street": "street"}.get(kind, "commune")
                    return Found(float(lon), float(lat), precision, str(props.get("label") or ""))
            elif data:
                best = data[0]
                return Found(
                    float(best["lon"]), float(best["lat"]), "house", best.get("display_name", "")
                )
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as e:
            message = f"unexpected geocoder answer ({type(e).__name__}: {e})"
            raise DataError(message, self.url) from None
        raise InputError(f"address {address!r} not found by the geocoder", where)


class CachedGeocoder:
    """A geocoder whose answers are kept by address (a server compiles a day's requests again
    at every booking: an HTTP geocoder is asked once per address, not once per compile)."""

    def __init__(self, inner: Geocoder, size: int = 10_000) -> None:
        self.inner, self.size = inner, size
        self._found: dict[str, Found] = {}
        self._lock = threading.Lock()

    def locate(self, address: str, where: str) -> Found:
        key = " ".join(address.split()).lower()
        with self._lock:
            got = self._found.get(key)
        if got is not None:
            return got
        got = self.inner.locate(address, where)
        with self._lock:
            if len(self._found) >= self.size:
                self._found.clear()
            self._found[key] = got
        return got


def geocoder_from_spec(
    spec: str | None, network: RoadNetwork | None, territory: Territory
) -> Geocoder:
    """``offline`` (default), ``ban:URL`` or ``nominatim:URL``; None reads
    ``$DISPATCHER_GEOCODER``."""
    text = (spec or os.environ.get(GEOCODER_ENV) or "offline").strip()
    if text == "offline":
        return RoadDataGeocoder(network, territory)
    kind, _, url = text.partition(":")
    if kind in ("ban", "nominatim") and url:
        return HttpGeocoder(url, kind)
    raise InputError(f"must be offline, ban:URL or nominatim:URL, got {text!r}", "--geocoder")
