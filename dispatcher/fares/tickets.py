"""Ticket codes signed by the service, and their check, offline: pure functions over the key and
what the checker knows of each ticket (``TicketState``: from the store at the service, from the
manifest on a driver's device).

A code reads ``DT1-K-SERIAL-DAY-N-SIGNATURE``: version ``DT1``; ``K`` the kind (``T`` a trip
ticket, ``C`` a card of trips, ``P`` a pass); ``SERIAL`` ten random base-32 characters; ``DAY``
the service day ``YYYYMMDD`` of a trip ticket (a pass: its first day; a card: ``0``); ``N`` the
passengers it carries; ``SIGNATURE`` the first 15 bytes of HMAC-SHA256 of everything before it
under the service's ticket key, in base 32 (24 characters). Changing any character makes the
signature wrong: the code is ``forged``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import segno

VERSION = "DT1"
KINDS = {"T": "trip", "C": "card", "P": "pass"}
RESULTS = ("valid", "already_used", "wrong_day", "cancelled", "forged", "unknown")
MESSAGES: dict[str, tuple[str, str]] = {
    "valid": ("Titre valable.", "Valid ticket."),
    "already_used": ("Titre déjà utilisé.", "Ticket already used."),
    "wrong_day": ("Titre d'un autre jour.", "Ticket for another day."),
    "cancelled": ("Titre annulé (réservation annulée).", "Ticket cancelled (booking cancelled)."),
    "forged": ("Code invalide : falsifié ou mal recopié.", "Invalid code: forged or mistyped."),
    "unknown": ("Titre inconnu du service.", "Ticket unknown to the service."),
}


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def new_serial() -> str:
    """Ten random base-32 characters (50 bits)."""
    return _b32(secrets.token_bytes(7))[:10]


@dataclass(frozen=True)
class Claim:
    """What a code says: its kind (``T``, ``C``, ``P``), serial, day and passengers."""

    kind: str
    serial: str
    day: date | None
    passengers: int = 1


@dataclass(frozen=True)
class TicketState:
    """What the checker knows of a ticket: cancelled (its booking was), used (a trip ticket
    already validated), trips left on a card, the last day of a pass."""

    cancelled: bool = False
    used: bool = False
    trips_left: int | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class Verdict:
    result: str
    claim: Claim | None = None

    @property
    def ok(self) -> bool:
        return self.result == "valid"

    @property
    def message(self) -> str:
        return MESSAGES[self.result][0]

    @property
    def message_en(self) -> str:
        return MESSAGES[self.result][1]


def _signature(key: bytes, body: str) -> str:
    return _b32(hmac.new(key, body.encode(), hashlib.sha256).digest()[:15])


def make_code(key: bytes, claim: Claim) -> str:
    """The signed code of ``claim``."""
    if claim.kind not in KINDS:
        raise ValueError(f"unknown ticket kind {claim.kind!r}")
    day = claim.day.strftime("%Y%m%d") if claim.day else "0"
    body = f"{VERSION}-{claim.kind}-{claim.serial}-{day}-{claim.passengers}"
    return f"{body}-{_signature(key, body)}"


def read_code(key: bytes, code: str) -> Claim | None:
    """The claim of a well-signed code, or None (forged, altered, mistyped). Spaces and case as
    typed by hand are forgiven."""
    text = "".join(str(code).split()).upper()
    parts = text.split("-")
    if len(parts) != 6 or parts[0] != VERSION or parts[1] not in KINDS:
        return None
    body, sig = "-".join(parts[:5]), parts[5]
    if not hmac.compare_digest(sig, _signature(key, body)):
        return None
    _, kind, serial, day_s, n = parts[:5]
    try:
        day = None if day_s == "0" else date(int(day_s[:4]), int(day_s[4:6]), int(day_s[6:]))
        passengers = int(n)
    except ValueError:
        return None
    return Claim(kind, serial, day, passengers)


def check_code(
    key: bytes, code: str, day: date, state_of: Callable[[str], TicketState | None]
) -> Verdict:
    """Whether ``code`` lets its bearer board on ``day``: ``forged`` (bad signature),
    ``unknown`` (well signed but the checker knows no such ticket), ``cancelled``,
    ``wrong_day`` (a trip ticket of another day, a pass out of its days), ``already_used`` (a
    trip ticket validated before, a card with no trip left), else ``valid``. Records nothing:
    the caller records the validation (and marks the ticket used, or takes a trip off the
    card)."""
    claim = read_code(key, code)
    if claim is None:
        return Verdict("forged")
    state = state_of(claim.serial)
    if state is None:
        return Verdict("unknown", claim)
    if state.cancelled:
        return Verdict("cancelled", claim)
    if claim.kind == "T" and claim.day != day:
        return Verdict("wrong_day", claim)
    if claim.kind == "P" and (
        claim.day is None or not claim.day <= day <= (state.valid_to or claim.day)
    ):
        return Verdict("wrong_day", claim)
    if claim.kind == "T" and state.used:
        return Verdict("already_used", claim)
    if claim.kind == "C" and (state.trips_left or 0) <= 0:
        return Verdict("already_used", claim)
    return Verdict("valid", claim)


QR_SCALE, QR_BORDER = 4, 2  # pixels per module, modules of quiet zone around
_DARK_RUNS = re.compile(rb"\x01+")


def qr_svg(code: str) -> str:
    """The code as a QR code, an SVG document: ``segno`` encodes it (error correction M, mask
    pattern 0: a valid QR code without the search for the best mask, four times faster), and
    each row's runs of dark modules become one rectangle of a single ``<path>`` (what segno's
    own SVG writer draws, written here in a fraction of its time)."""
    matrix = segno.make(code, error="m", mask=0).matrix
    side = len(matrix) + 2 * QR_BORDER
    d = "".join(
        f"M{m.start() + QR_BORDER} {y + QR_BORDER}h{m.end() - m.start()}v1h-{m.end() - m.start()}z"
        for y, row in enumerate(matrix)
        for m in _DARK_RUNS.finditer(bytes(row))
    )
    px = side * QR_SCALE
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<path fill="#fff" d="M0 0h{side}v{side}h-{side}z"/><path fill="#000" d="{d}"/></svg>'
    )
