"""Postal addresses as places: offline from a real OSM extract's addresses and street names
(else the commune's main stop, said in a warning), or by a geocoding server speaking the French
national address base's API or Nominatim's, here a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dispatcher.errors import DataError, InputError, NotFoundError, Notice
from dispatcher.graph import RoadNetwork
from dispatcher.graph.geocode import (
    CachedGeocoder,
    HttpGeocoder,
    RoadDataGeocoder,
    geocoder_from_spec,
    split_address,
)
from dispatcher.graph.loader import load_graph
from dispatcher.io.problem import problem_from_dicts
from dispatcher.territory import Territory
from tests.geocoding_server import Geocoding, geocoding_server

DAY = date(2026, 12, 1)
# A piece of Albert as an OSM extract has it: two streets, a house number on a node, another on
# a building (a closed way that is not a road)
ALBERT_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" version="1" lat="50.0010" lon="2.6400"/>
 <node id="2" version="1" lat="50.0015" lon="2.6440"/>
 <node id="3" version="1" lat="50.0020" lon="2.6480"/>
 <node id="4" version="1" lat="50.0050" lon="2.6480"/>
 <node id="5" version="1" lat="50.0080" lon="2.6490"/>
 <node id="10" version="1" lat="50.0013" lon="2.6425">
  <tag k="addr:housenumber" v="12"/>
  <tag k="addr:street" v="Rue de Corbie"/>
  <tag k="addr:postcode" v="80300"/>
  <tag k="addr:city" v="Albert"/>
 </node>
 <node id="20" version="1" lat="50.0060" lon="2.6470"/>
 <node id="21" version="1" lat="50.0060" lon="2.6474"/>
 <node id="22" version="1" lat="50.0064" lon="2.6474"/>
 <way id="100" version="1">
  <nd ref="1"/><nd ref="2"/><nd ref="3"/>
  <tag k="highway" v="residential"/><tag k="name" v="Rue de Corbie"/>
 </way>
 <way id="101" version="1">
  <nd ref="3"/><nd ref="4"/><nd ref="5"/>
  <tag k="highway" v="residential"/><tag k="name" v="Rue Jean Jaurès"/>
 </way>
 <way id="200" version="1">
  <nd ref="20"/><nd ref="21"/><nd ref="22"/><nd ref="20"/>
  <tag k="building" v="house"/>
  <tag k="addr:housenumber" v="3"/><tag k="addr:street" v="Rue Jean Jaurès"/>
 </way>
</osm>
"""


@pytest.fixture(scope="module")
def territory() -> Territory:
    return Territory.load()


@pytest.fixture(scope="module")
def albert(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    path = tmp_path_factory.mktemp("osm") / "albert.osm"
    path.write_text(ALBERT_OSM, encoding="utf-8")
    return RoadNetwork(load_graph("osm-file", path, use_cache=False))


def notices(fn: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in caught if issubclass(w.category, Notice)]


def test_split_address() -> None:
    assert split_address("12 rue de Corbie, Albert") == ("12", "rue de Corbie", "Albert")
    assert split_address(" 4 bis  place Émile Leturcq , 80300 Albert") == (
        "4bis",
        "place Émile Leturcq",
        "Albert",
    )
    assert split_address("rue de Corbie") == ("", "rue de Corbie", "")


def test_offline_from_the_extracts_addresses_and_streets(
    albert: RoadNetwork, territory: Territory
) -> None:
    g = RoadDataGeocoder(albert, territory)
    found, said = notices(lambda: g.locate("12 rue de Corbie, Albert", "x"))
    assert (found.lon, found.lat, found.precision) == (2.6425, 50.0013, "house") and not said
    found, said = notices(lambda: g.locate("3 RUE JEAN-JAURES, 80300 Albert", "x"))
    assert found.precision == "house" and not said  # a building: the mean of its corners
    assert found.lon == pytest.approx((2.6470 + 2.6474 * 2 + 2.6470) / 4)
    found, said = notices(lambda: g.locate("40 rue de Corbie, Albert", "requests[3].pickup"))
    assert found.precision == "street" and 2.640 <= found.lon <= 2.648
    assert said == ["requests[3].pickup: no house 40 in the road data: placed on rue de Corbie"]
    found, said = notices(lambda: g.locate("1 rue des Lilas, Albert", "x"))
    stop = territory.main_stop("80016")
    assert (found.lon, found.lat, found.precision) == (stop.lon, stop.lat, "commune")
    assert "placed at the main stop of Albert" in said[0]
    # a bad address is bad input (422 in the API), never "not found" (404)
    with pytest.raises(InputError) as e:
        g.locate("12 rue de Corbie", "requests[0].pickup")
    assert e.value.where == "requests[0].pickup" and "names no commune" in e.value.message
    assert not isinstance(e.value, NotFoundError) and e.value.http_status == 422
    with pytest.raises(InputError) as e:
        g.locate("12 rue de Corbie, Lyon", "x")
    assert not isinstance(e.value, NotFoundError)


def test_without_street_data_an_address_is_its_communes_main_stop_said_once_per_address(
    territory: Territory, tmp_path: Path
) -> None:
    from dispatcher.io.tables import load_requests

    f = tmp_path / "r.csv"
    f.write_text(
        "id;pickup;dropoff;pickup_from;pickup_to\n"
        "r1;12 rue de Corbie, Albert;Méaulte;08:00;08:15\n"
        "r2;3 place d'Armes, Albert;Méaulte;08:00;08:15\n",
        encoding="utf-8",
    )
    net = RoadNetwork.default()
    g = geocoder_from_spec("offline", net, territory)
    p, said = notices(
        lambda: problem_from_dicts(load_requests(f), [], territory, net, day=DAY, geocoder=g)
    )
    assert len(said) == 2 and said[0].startswith(f"{f}: line 2, column pickup: ")
    a, b = (p.location(p.request(r).pickup) for r in ("r1", "r2"))
    # both at Albert's main stop, each with its own address for the driver
    assert (a.name, b.name) == ("12 rue de Corbie, Albert", "3 place d'Armes, Albert")
    assert a.id != b.id and abs(a.lon - b.lon) < 1e-5 and a.lat == b.lat


# ---- a geocoding server on 127.0.0.1 ---------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    yield from geocoding_server()


@pytest.mark.parametrize("kind, root", [("ban", "/ban"), ("nominatim", "/osm")])
def test_http_geocoders(server: str, kind: str, root: str, territory: Territory) -> None:
    g = geocoder_from_spec(f"{kind}:{server}{root}", None, territory)
    assert isinstance(g, HttpGeocoder)
    Geocoding.asked.clear()
    found = g.locate("12 rue de Corbie, Albert", "x")
    assert (found.lon, found.lat, found.precision) == (2.6431, 50.0012, "house")
    path, query = Geocoding.asked[0]
    assert query["q"] == ["12 rue de Corbie, Albert"]
    assert path == ("/ban/search/" if kind == "ban" else "/osm/search")
    if kind == "nominatim":
        assert query["format"] == ["jsonv2"]
    with pytest.raises(InputError) as e:
        g.locate("1 impasse Nulle Part, Albert", "requests[4].dropoff")
    assert e.value.where == "requests[4].dropoff" and e.value.http_status == 422
    # the server's geocoder asks once per address, however many compiles read it
    cached = CachedGeocoder(g)
    Geocoding.asked.clear()
    first = cached.locate("12 rue de Corbie, Albert", "x")
    again = cached.locate("12  RUE de Corbie, Albert", "y")
    assert first == again and len(Geocoding.asked) == 1


def test_http_geocoder_down_or_wrong(server: str, territory: Territory) -> None:
    with pytest.raises(DataError) as e:
        HttpGeocoder(f"{server}/nothing-here").locate("12 rue de Corbie, Albert", "x")
    assert "did not answer" in e.value.message
    with pytest.raises(DataError):
        HttpGeocoder("http://127.0.0.1:9", timeout_s=2).locate("12 rue de Corbie, Albert", "x")
    for bad in ("ban", "ftp://x", "photon:http://x"):
        with pytest.raises(Exception, match="geocoder|ban|http"):
            geocoder_from_spec(bad, None, territory)


def test_only_what_reads_as_an_address_goes_to_the_geocoder(territory: Territory) -> None:
    """A misspelt commune keeps the territory's answer (nearest names), not the geocoder's."""
    g = RoadDataGeocoder(None, territory)
    row = {"id": "r1", "dropoff": "Albert", "pickup_window": ["08:00", "08:15"]}
    with pytest.raises(NotFoundError) as e:
        problem_from_dicts(
            [{**row, "pickup": "Meaulteville"}], [], territory, RoadNetwork.default(), geocoder=g
        )
    assert "nearest names" in e.value.message and "Méaulte" in e.value.message
    p, said = notices(
        lambda: problem_from_dicts(
            [{**row, "pickup": "5 rue Gambetta, Méaulte"}],
            [],
            territory,
            RoadNetwork.default(),
            geocoder=g,
        )
    )
    assert p.location(p.requests[0].pickup).name == "5 rue Gambetta, Méaulte" and said
