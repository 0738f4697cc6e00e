"""Spreadsheets as operators have them: files French Excel saved (Windows-1252 or UTF-8 with BOM,
``;``, decimal comma) read back; errors naming the file, the line as a spreadsheet shows it and
the column; minutes for the durations people type."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from dispatcher.errors import InputError, Notice, PointError
from dispatcher.io.problem import problem_from_dicts
from dispatcher.io.sheets import csv_text, decode, separator, table_text
from dispatcher.io.tables import json_list_lines, load_fleet, load_list, load_requests
from dispatcher.territory import Territory
from tests.excel import open_as_french_excel
from tests.test_io import DAY, CrowFly

REQUESTS = (
    "id;pickup;dropoff;seats;pickup_from;pickup_to;boarding_min;max_ride_min;name\r\n"
    "r1;Méaulte;Albert;1;08:00;08:15;2;45;Mme Bécourt\r\n"
    "r2;Albert gare;Bray-sur-Somme;2;09:00;09:20;;;M. Lefèvre\r\n"
)
FLEET = (
    "id;start;shift_start;shift_end;seats;cost_per_km;break_from;break_to;break_min\r\n"
    "bus-1;Albert;07:00;19:00;8;0,45;12:00;14:00;45\r\n"
)


@pytest.fixture(scope="module")
def territory() -> Territory:
    return Territory.load()


@pytest.mark.parametrize(
    "encoding, bom",
    [("cp1252", b""), ("utf-8", b"\xef\xbb\xbf"), ("utf-8", b"")],
    ids=["windows-1252", "utf-8-bom", "utf-8"],
)
def test_files_french_excel_saves_are_read_back(
    tmp_path: Path, territory: Territory, encoding: str, bom: bytes
) -> None:
    r, f = tmp_path / "demandes.csv", tmp_path / "flotte.csv"
    r.write_bytes(bom + REQUESTS.encode(encoding))
    f.write_bytes(bom + FLEET.encode(encoding))
    if encoding == "cp1252":  # what made "'utf-8' codec can't decode byte 0xe9" before
        assert b"\xe9" in r.read_bytes()
    p = problem_from_dicts(load_requests(r), load_fleet(f), territory, CrowFly(), day=DAY)
    r1, r2 = p.request("r1"), p.request("r2")
    assert r1.name == "Mme Bécourt" and r2.name == "M. Lefèvre"
    assert p.location(r1.pickup).name == "Méaulte"
    assert r2.pickup == "80016-gare"  # "Albert gare" is the stop "Albert, gare SNCF"
    assert r1.boarding_s == 120 and r1.max_ride_s == 45 * 60 and r2.boarding_s is None
    bus = p.vehicle("bus-1")
    assert bus.cost_per_km == 0.45 and bus.breaks[0].duration_s == 45 * 60


def test_separator_and_encoding_detection() -> None:
    assert separator("a;b;c\n1,5;2;3\n") == ";"
    assert separator("a,b,c\n") == "," and separator("a\tb\n") == "\t"
    assert separator('"a;b",c,d\n') == ","  # a separator inside quotes does not count
    assert separator("id\n") == ","
    assert decode("Méaulte".encode("cp1252"), "f") == "Méaulte"
    assert decode(b"\xef\xbb\xbfM\xc3\xa9aulte", "f") == "Méaulte"
    with pytest.raises(InputError) as e:
        decode(b"\xef\xbb\xbfM\xe9aulte", "f.csv")
    assert e.value.where == "f.csv" and "UTF-8" in e.value.message
    with pytest.raises(InputError) as e:
        decode(b"M\x81\x8d", "f.csv")  # bytes Windows-1252 does not define
    assert "neither UTF-8 nor Windows-1252" in e.value.message


def test_written_csv_opens_in_french_excel_and_machine_csv_stays_plain() -> None:
    rows = [{"a": 1.5, "b": "Méaulte; gare", "c": True, "d": 3.0}]
    text = csv_text(rows, ["a", "b", "c", "d"], "excel", {"a": "Durée (min)"})
    [row] = open_as_french_excel(text.encode("utf-8"))
    assert row == {"Durée (min)": "1,5", "b": "Méaulte; gare", "c": "oui", "d": "3"}
    machine = csv_text(rows, ["a", "b", "c", "d"], "machine", {"a": "Durée (min)"})
    assert machine == "a,b,c,d\n1.5,Méaulte; gare,true,3.0\n"
    assert table_text(["x", "y"], [["p", 0.25]], "excel") == "\ufeffx;y\r\np;0,25\r\n"


def test_csv_errors_name_file_line_and_column(tmp_path: Path, territory: Territory) -> None:
    f = tmp_path / "r.csv"
    f.write_text(REQUESTS.replace("09:00;09:20", "09:30;09:20"), encoding="utf-8")
    with pytest.raises(InputError) as e:
        problem_from_dicts(load_requests(f), [], territory, CrowFly(), day=DAY)
    # the header is line 1: the second request is line 3 of the spreadsheet
    assert e.value.where == f"{f}: line 3, column pickup_from"
    assert e.value.message == "starts after it ends (09:30 > 09:20)"
    f.write_text(REQUESTS.replace("Bray-sur-Somme", "Bray-sur-Loire"), encoding="utf-8")
    with pytest.raises(InputError) as e:
        problem_from_dicts(load_requests(f), [], territory, CrowFly(), day=DAY)
    assert e.value.where == f"{f}: line 3, column dropoff" and "Bray" in e.value.message
    f.write_text(REQUESTS.replace(";45;", ";-5;"), encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_requests(f)
    assert e.value.where == f"{f}: line 2, column max_ride_min"
    fleet = tmp_path / "f.csv"
    fleet.write_text(FLEET.replace("07:00;19:00", "19:00;07:00"), encoding="utf-8")
    with pytest.raises(InputError) as e:
        problem_from_dicts([], load_fleet(fleet), territory, CrowFly(), day=DAY)
    assert e.value.where == f"{fleet}: line 2, column shift_start"
    assert "(19:00 >= 07:00)" in e.value.message


def test_older_columns_in_seconds_are_read_with_a_note(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(
        "id,pickup,dropoff,pickup_from,pickup_to,boarding_s,max_ride_s\n"
        "r1,Méaulte,Albert,08:00,08:15,90,2700\nr2,Albert,Méaulte,09:00,09:15,,\n",
        encoding="utf-8",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = load_requests(f)
    assert rows[0]["boarding_s"] == 90 and rows[0]["max_ride_s"] == 2700
    notes = [str(w.message) for w in caught if issubclass(w.category, Notice)]
    assert len(notes) == 2 and any("boarding_s (seconds) is deprecated" in n for n in notes)
    assert all(n.startswith(f"{f}: line 1") for n in notes)
    f.write_text(
        "id,pickup,dropoff,pickup_from,pickup_to,boarding_s,boarding_min\n"
        "r1,Méaulte,Albert,08:00,08:15,90,2\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as e, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_requests(f)
    assert "not both" in e.value.message and "line 2, column boarding_min" in e.value.where


def test_json_rows_say_their_path_and_line(tmp_path: Path, territory: Territory) -> None:
    f = tmp_path / "r.json"
    rows = [
        {"id": "r1", "pickup": "Méaulte", "dropoff": "Albert", "arrive_by": "09:00"},
        {"id": "r2", "pickup": "Albert", "dropoff": "Méaulte", "pickup_window": ["9:30", "x"]},
    ]
    f.write_text(json.dumps({"requests": rows}, indent=2), encoding="utf-8")
    assert json_list_lines(f.read_text(), "requests") == [3, 9]
    with pytest.raises(InputError) as e:
        problem_from_dicts(load_requests(f), [], territory, CrowFly(), day=DAY)
    assert e.value.where == f"{f}: line 9: requests[1].pickup_window.end"
    assert json_list_lines('[{"a": [1, {"b": "]"}]},\n\n {}]', "x") == [1, 3]
    assert json_list_lines('{"other": [1], "requests": []}', "requests") == []


def test_offers_csv_errors_name_the_line(tmp_path: Path, territory: Territory) -> None:
    from dispatcher.io.mobility import offers_from_dicts

    f = tmp_path / "offers.csv"
    f.write_text(
        "driver_id;origin;destination;departure_from;departure_to;seats;max_detour_share\n"
        "c1;Acheux-en-Amiénois;Albert;07:30;07:45;3;0,25\n"
        "c2;Acheux-en-Amiénois;Albert;07:30;07:15;3;0,25\n",
        encoding="cp1252",
    )
    rows = load_list(f, "offers")
    assert rows[0]["max_detour_share"] == 0.25
    with pytest.raises(InputError) as e:
        offers_from_dicts(rows, territory, DAY)
    assert e.value.where == f"{f}: line 3, column departure_from"


def test_a_swapped_point_is_named_with_its_row_and_a_hint(
    tmp_path: Path, territory: Territory
) -> None:
    from dispatcher.graph import RoadNetwork

    f = tmp_path / "r.csv"
    f.write_text(
        "id,pickup,dropoff,pickup_from,pickup_to\n"
        "r1,Méaulte,Albert,08:00,08:15\n"
        '"r2","50.0035,2.6475",Albert,08:00,08:15\n',
        encoding="utf-8",
    )
    with pytest.raises(PointError) as e:
        problem_from_dicts(load_requests(f), [], territory, RoadNetwork.default(), day=DAY)
    assert e.value.where == f"{f}: line 3, column pickup"
    assert "km from the nearest road" in e.value.message
    assert "longitude and latitude look swapped" in e.value.message


def test_stop_names_by_words_in_any_order(territory: Territory) -> None:
    big = Territory.load("all")
    for key in ("Albert gare", "gare d'albert", "GARE SNCF ALBERT", "albert, gare sncf"):
        assert territory.stop(key).id == "80016-gare", key
    with pytest.raises(InputError) as e:
        big.stop("gare SNCF")
    assert "Albert, gare SNCF" in e.value.message and "Amiens, gare SNCF" in e.value.message
    assert territory.stop("Mailly-Maillet").id == "80498"  # a commune's name: its main stop


def test_problem_and_plan_files_name_the_line_of_the_error(tmp_path: Path) -> None:
    from dispatcher.io.files import json_line, load_problem

    problem = {
        "schema": "dispatcher/problem/1",
        "locations": [{"id": "a", "lon": 2.6, "lat": 50.0}, {"id": "b", "lon": 2.7, "lat": 50.0}],
        "duration_s": [[0, 60], [60, 0]],
        "distance_m": [[0, 900], [900, 0]],
        "requests": [
            {"id": "r1", "pickup": "a", "dropoff": "b", "pickup_window": ["08:00", "08:15"]},
            {"id": "r2", "pickup": "a", "dropoff": "b", "pickup_window": ["08:30", "08:15"]},
        ],
    }
    f = tmp_path / "p.problem.json"
    f.write_text(json.dumps(problem, indent=1), encoding="utf-8")
    text = f.read_text(encoding="utf-8")
    line = json_line(text, "requests[1].pickup_window")
    assert line is not None and '"pickup_window"' in text.splitlines()[line - 1]
    with pytest.raises(InputError) as e:
        load_problem(f)
    assert e.value.where == f"{f}: line {line}: requests[1].pickup_window"
    assert e.value.message == "starts after it ends (08:30 > 08:15)"
    assert json_line("[1, [2, 3]]", "[1][0]") == 1 and json_line("{}", "x") is None


def test_a_json_file_with_a_bom_reads(tmp_path: Path, territory: Territory) -> None:
    f = tmp_path / "r.json"
    row = {"id": "r1", "pickup": "Méaulte", "dropoff": "Albert", "arrive_by": "9:00"}
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps([row, {**row, "id": "r2", "seats": -1}]).encode())
    with pytest.raises(InputError) as e:
        problem_from_dicts(load_requests(f), [], territory, CrowFly(), day=DAY)
    assert e.value.where == f"{f}: line 1: requests[1].seats"
