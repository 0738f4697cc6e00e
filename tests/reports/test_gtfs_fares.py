"""The fares in GTFS-Fares v2 form in the GTFS-Flex feed: written, read back with their
references checked, amounts as the fare rules price them; the reference validator (slow)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path

import pytest

from dispatcher.errors import DataError
from dispatcher.fares import load_fare_rules
from dispatcher.reports.gtfs_flex import read_gtfs_flex, write_gtfs_flex
from dispatcher.service_config import load_service
from dispatcher.territory import Territory

START, END = date(2026, 12, 1), date(2027, 11, 30)
COQ, VDS = "248000747", "248000499"


@pytest.fixture(scope="module")
def territory() -> Territory:
    return Territory.load(["coquelicot", "val-de-somme"])


@pytest.fixture(scope="module")
def feed_zip(tmp_path_factory: pytest.TempPathFactory, territory: Territory) -> Path:
    out = tmp_path_factory.mktemp("fares") / "feed.zip"
    return write_gtfs_flex(
        out, territory, load_service(), start=START, end=END, fares=load_fare_rules()
    )


def test_fares_read_back_with_the_rules_amounts(feed_zip: Path, territory: Territory) -> None:
    feed = read_gtfs_flex(feed_zip)
    t = feed.tables
    cats = {r["rider_category_id"]: r for r in t["rider_categories.txt"]}
    assert set(cats) == {"full", "reduced", "solidarity", "child", "companion"}
    assert [k for k, r in cats.items() if r["is_default_fare_category"] == "1"] == ["full"]
    price = {
        (r["fare_product_id"], r["rider_category_id"]): (r["amount"], r["currency"])
        for r in t["fare_products.txt"]
    }
    # hand-computed from coquelicot.toml
    assert price[("single_inside", "full")] == ("2.00", "EUR")
    assert price[("single_between", "full")] == ("3.00", "EUR")
    assert price[("single_between", "reduced")] == ("1.50", "EUR")
    assert price[("single_between", "solidarity")] == ("0.50", "EUR")
    assert price[("on_board_inside", "full")] == ("2.50", "EUR")
    assert price[("single_inside", "child")] == ("0.00", "EUR")
    assert price[("card10", "full")] == ("15.00", "EUR")
    assert price[("card10", "reduced")] == ("7.50", "EUR")
    assert price[("monthly", "full")] == ("30.00", "EUR")
    legs = {
        (r["from_area_id"], r["to_area_id"], r["fare_product_id"]) for r in t["fare_leg_rules.txt"]
    }
    assert (f"area_{COQ}", f"area_{COQ}", "single_inside") in legs
    assert (f"area_{COQ}", f"area_{VDS}", "single_between") in legs
    assert (f"area_{COQ}", f"area_{VDS}", "single_inside") not in legs
    assert len(t["fare_leg_rules.txt"]) == 2 * 4  # two products, four ordered pairs of areas
    # stops.txt lists only the stops stop_times use (none: riders are picked up in the zones),
    # so no stop is in an area; the areas are the zones' intercommunalities
    assert t["stop_areas.txt"] == [] and t["stops.txt"] == []
    assert {r["area_id"] for r in t["areas.txt"]} == {f"area_{COQ}", f"area_{VDS}"}
    assert t["route_networks.txt"] == [{"network_id": "tad", "route_id": "tad"}]


def _rewrite(src: Path, dst: Path, name: str, edit) -> Path:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w") as out:
        for n in z.namelist():
            data = z.read(n).decode()
            out.writestr(n, edit(data) if n == name else data)
    return dst


@pytest.mark.parametrize(
    "name, edit, where",
    [
        (
            "fare_leg_rules.txt",
            lambda s: s.replace("\r\nsingle_inside,", "\r\nnope,", 1),
            "fare_leg_rules.txt:line 2.fare_product_id",
        ),
        (
            "route_networks.txt",
            lambda s: s.replace("\r\ntad,tad", "\r\ntad,nope", 1),
            "route_networks.txt:line 2.route_id",
        ),
        (
            "fare_products.txt",
            lambda s: s.replace(",2.00,", ",-2.00,", 1),
            "fare_products.txt:line 2.amount",
        ),
        (
            "fare_products.txt",
            lambda s: s.replace(",titre", ",carte", 1),
            "fare_products.txt:line 2.fare_media_id",
        ),
    ],
)
def test_broken_fares_are_named(feed_zip: Path, tmp_path: Path, name, edit, where) -> None:  # type: ignore[no-untyped-def]
    bad = _rewrite(feed_zip, tmp_path / "bad.zip", name, edit)
    with pytest.raises(DataError) as e:
        read_gtfs_flex(bad)
    assert e.value.where.endswith(where), e.value.where


@pytest.mark.slow
def test_the_reference_validator_finds_nothing_wrong_with_the_fares(
    feed_zip: Path, tmp_path: Path
) -> None:
    """``gtfs-validator`` (a port of MobilityData's canonical validator) on the feed: no error
    at all, and no notice of any kind on a fare file."""
    if shutil.which("gtfs-validator") is None and not _module("gtfs_validator"):
        pytest.skip("gtfs-validator is not installed (pip install gtfs-validator)")
    out = tmp_path / "report"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gtfs_validator.cli",
            "-i",
            str(feed_zip),
            "-o",
            str(out),
            "-c",
            "FR",
            "-d",
            "2026-12-01",
        ],
        check=True,
        timeout=1800,
    )
    notices = json.loads((out / "report.json").read_text())["notices"]
    assert [n["code"] for n in notices if n["severity"] == "ERROR"] == []
    fare_files = ("fare_", "rider_categories", "areas", "stop_areas", "networks", "route_networks")
    on_fares = [
        n for n in notices if any(f in json.dumps(n.get("sampleNotices", [])) for f in fare_files)
    ]
    assert on_fares == []


def _module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
