"""The domain module: the one seconds -> HH:MM formatter; the validation of linked trips."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatcher.errors import InputError
from dispatcher.model import Location, Problem, Request, TimeWindow, Vehicle, hhmm


def test_hhmm() -> None:
    assert hhmm(8 * 3600 + 5 * 60) == "08:05"
    assert hhmm(8 * 3600 + 5 * 60 + 7) == "08:05:07"
    assert hhmm(8 * 3600, with_seconds=True) == "08:00:00"
    assert hhmm(25 * 3600 + 30 * 60) == "25:30"  # the next day, hours go on
    assert hhmm(-61) == "-00:01:01"


# ---- linked trips: a return names its outbound ---------------------------------------------

H, M = 3600, 60


def _day(*requests: Request) -> Problem:
    locs = (Location("A", 0.0, 0.0), Location("B", 1.0, 0.0))
    dur = [[0, 20 * M], [20 * M, 0]]
    return Problem(
        locs,
        dur,
        [[0, 15000], [15000, 0]],
        requests,
        (Vehicle("bus", "A", "A", TimeWindow(6 * H, 20 * H)),),
    )


OUT = Request("out", "A", "B", pickup_window=TimeWindow(8 * H, 8 * H + 15 * M))
BACK = Request("back", "B", "A", pickup_window=TimeWindow(11 * H, 11 * H + 15 * M), return_of="out")


def test_a_linked_pair_is_valid_and_known_both_ways() -> None:
    p = _day(OUT, BACK)
    assert p.linked_pairs() == ((OUT, BACK),)
    assert p.partner_id("out") == "back" and p.partner_id("back") == "out"
    assert p.partner_id("nobody") is None
    assert BACK.min_stay_s == 900  # 15 minutes unless the request says otherwise


@pytest.mark.parametrize(
    "requests, where, fragment",
    [
        (
            (OUT, Request("x", "B", "A", pickup_window=BACK.pickup_window, return_of="x")),
            "requests[1].return_of",
            "itself",
        ),
        (
            (OUT, Request("x", "B", "A", pickup_window=BACK.pickup_window, return_of="nope")),
            "requests[1].return_of",
            "unknown request 'nope'",
        ),
        (
            (OUT, BACK, Request("x", "B", "A", pickup_window=BACK.pickup_window, return_of="out")),
            "requests[2].return_of",
            "already has a return trip ('back')",
        ),
        (
            (OUT, BACK, Request("x", "A", "B", pickup_window=BACK.pickup_window, return_of="back")),
            "requests[2].return_of",
            "is itself the return of 'out'",
        ),
        # the outbound arrives at 08:21 at the earliest: a return by 07:45 comes before it
        (
            (
                OUT,
                Request(
                    "x",
                    "B",
                    "A",
                    pickup_window=TimeWindow(7 * H + 30 * M, 7 * H + 45 * M),
                    return_of="out",
                ),
            ),
            "requests[1].pickup_window",
            "before its outbound trip 'out' can arrive (08:21",
        ),
        # ... and 08:30 leaves no 15 minutes after alighting
        (
            (
                OUT,
                Request(
                    "x",
                    "B",
                    "A",
                    pickup_window=TimeWindow(8 * H + 15 * M, 8 * H + 30 * M),
                    return_of="out",
                ),
            ),
            "requests[1].pickup_window",
            "minimum stay of 15 min (08:37)",
        ),
        # an appointment back home is checked on its appointment
        (
            (OUT, Request("x", "B", "A", arrive_by_s=8 * H + 50 * M, return_of="out")),
            "requests[1].arrive_by",
            "before its outbound trip",
        ),
        (
            (
                OUT,
                Request(
                    "x", "B", "A", pickup_window=BACK.pickup_window, return_of="out", min_stay_s=-60
                ),
            ),
            "requests[1].min_stay_s",
            "non-negative",
        ),
    ],
)
def test_bad_return_links_name_the_field(
    requests: tuple[Request, ...], where: str, fragment: str
) -> None:
    with pytest.raises(InputError) as e:
        _day(*requests)
    assert e.value.where == where, str(e.value)
    assert fragment in e.value.message, e.value.message


def test_a_shorter_stay_admits_an_earlier_return() -> None:
    quick = Request(
        "x",
        "B",
        "A",
        pickup_window=TimeWindow(8 * H + 15 * M, 8 * H + 30 * M),
        return_of="out",
        min_stay_s=300,
    )
    assert _day(OUT, quick).partner_id("x") == "out"


def test_links_are_checked_when_requests_change() -> None:
    p = _day(OUT)
    with pytest.raises(InputError) as e:
        p.with_requests([OUT, replace(BACK, pickup_window=TimeWindow(7 * H, 7 * H))], ["back"])
    assert e.value.where == "requests[1].pickup_window"
    # an outbound replaced by one arriving too late for its return is caught on the outbound
    q = _day(OUT, BACK)
    late = replace(OUT, pickup_window=TimeWindow(11 * H, 11 * H + 15 * M))
    with pytest.raises(InputError) as e:
        q.check_link(late, "requests[0]")
    assert e.value.where == "requests[0].pickup_window"
    q.check_link(BACK, "requests[1]")  # a valid return passes


def test_a_location_says_how_an_address_was_placed_or_is_refused() -> None:
    door = Location("a", 2.6, 50.0, "12 rue de Corbie, Albert", placed="commune")
    assert door.placed == "commune"
    with pytest.raises(InputError, match=r"location\[a\]\.placed"):
        Location("a", 2.6, 50.0, placed="door")
