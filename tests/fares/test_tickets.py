"""Ticket codes: a forged, altered, replayed or other-day code is refused (property test), and
each verdict of the offline check."""

from __future__ import annotations

import string
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.fares.tickets import (
    Claim,
    TicketState,
    check_code,
    make_code,
    new_serial,
    qr_svg,
    read_code,
)

KEY = b"service key of the test, 32 byt."
DAY = date(2030, 1, 8)
B32 = string.ascii_uppercase + "234567"


def _state(states: dict[str, TicketState]):  # type: ignore[no-untyped-def]
    return states.get


@settings(max_examples=200, deadline=None)
@given(
    serial=st.text(B32, min_size=10, max_size=10),
    passengers=st.integers(1, 9),
    shift=st.integers(-400, 400).filter(lambda d: d != 0),
    where=st.integers(0, 200),
    char=st.sampled_from(B32 + "0189-"),
    other_key=st.binary(min_size=16, max_size=32).filter(lambda k: k != KEY),
)
def test_forged_altered_replayed_or_other_day_codes_are_refused(  # type: ignore[no-untyped-def]
    serial, passengers, shift, where, char, other_key
):
    claim = Claim("T", serial, DAY, passengers)
    code = make_code(KEY, claim)
    states = {serial: TicketState()}
    assert read_code(KEY, code) == claim
    # as typed by hand: case and spaces forgiven
    assert read_code(KEY, " " + code.lower().replace("-", " - ") + " ") == claim
    # valid once, then replayed
    assert check_code(KEY, code, DAY, _state(states)).result == "valid"
    states[serial] = TicketState(used=True)
    assert check_code(KEY, code, DAY, _state(states)).result == "already_used"
    # another day
    assert (
        check_code(KEY, code, DAY + timedelta(days=shift), _state({serial: TicketState()})).result
        == "wrong_day"
    )
    # altered: any one character changed
    k = where % len(code)
    if code[k] != char:
        altered = code[:k] + char + code[k + 1 :]
        assert check_code(KEY, altered, DAY, _state({serial: TicketState()})).result == "forged"
    # forged: signed with another key, or another day signed over
    forged = make_code(other_key, claim)
    assert check_code(KEY, forged, DAY, _state({serial: TicketState()})).result == "forged"
    moved = code.replace(DAY.strftime("%Y%m%d"), (DAY + timedelta(days=shift)).strftime("%Y%m%d"))
    assert check_code(KEY, moved, DAY + timedelta(days=shift), _state(states)).result == "forged"


def test_each_verdict() -> None:
    s = new_serial()
    code = make_code(KEY, Claim("T", s, DAY, 1))
    assert check_code(KEY, code, DAY, _state({})).result == "unknown"
    assert (
        check_code(KEY, code, DAY, _state({s: TicketState(cancelled=True)})).result == "cancelled"
    )
    assert check_code(KEY, "not a code", DAY, _state({})).result == "forged"
    card = make_code(KEY, Claim("C", s, None, 1))
    assert check_code(KEY, card, DAY, _state({s: TicketState(trips_left=1)})).result == "valid"
    assert (
        check_code(KEY, card, DAY, _state({s: TicketState(trips_left=0)})).result == "already_used"
    )
    pass_ = make_code(KEY, Claim("P", s, DAY, 1))
    last = DAY + timedelta(days=30)
    ok = _state({s: TicketState(valid_to=last)})
    assert check_code(KEY, pass_, last, ok).result == "valid"
    assert check_code(KEY, pass_, last + timedelta(days=1), ok).result == "wrong_day"
    assert check_code(KEY, pass_, DAY - timedelta(days=1), ok).result == "wrong_day"
    v = check_code(KEY, code, DAY, _state({s: TicketState()}))
    assert v.ok and v.message == "Titre valable." and v.message_en == "Valid ticket."


def test_qr_code_is_svg() -> None:
    svg = qr_svg(make_code(KEY, Claim("T", new_serial(), DAY, 1)))
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>") and "<path" in svg


def test_qr_svg_draws_exactly_the_dark_modules() -> None:
    """The SVG's black path covers the dark modules of segno's QR code and nothing else, inside
    its quiet zone, at the size it says."""
    import re

    import segno

    from dispatcher.fares.tickets import QR_BORDER, QR_SCALE

    code = make_code(KEY, Claim("T", new_serial(), DAY, 1))
    svg = qr_svg(code)
    matrix = segno.make(code, error="m", mask=0).matrix
    want = {(x, y) for y, row in enumerate(matrix) for x, v in enumerate(row) if v}
    black = re.search(r'<path fill="#000" d="([^"]*)"', svg)
    assert black is not None
    got: set[tuple[int, int]] = set()
    for x, y, n, back in re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", black.group(1)):
        assert n == back
        cells = {(int(x) - QR_BORDER + k, int(y) - QR_BORDER) for k in range(int(n))}
        assert not cells & got  # no module drawn twice
        got |= cells
    assert got == want and len(want) > 100
    side = len(matrix) + 2 * QR_BORDER
    assert f'viewBox="0 0 {side} {side}"' in svg and f'width="{side * QR_SCALE}"' in svg
