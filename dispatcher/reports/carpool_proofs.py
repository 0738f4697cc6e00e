"""Carpool proof records, in the layout of the French carpool proof register (registre de
preuve de covoiturage, RPC): one journey per passenger carried by a carpool driver of the plan,
exported as JSON for the operator to submit. Nothing is sent anywhere.

Each record follows the register's journey (its API v3 as we read it; check the current schema
before submitting): ``operator_journey_id`` (the day, the driver and the request), the operator's
id and class (``C``: proven by the operator's own data), ``start`` and ``end`` (UTC datetime,
``lat``, ``lon``: the pickup and the drop-off as planned), ``distance`` (metres driven with the
passenger on board, along the planned route), the ``driver`` and the ``passenger`` with their
``identity`` as the register's pseudonyms (``identity_key``: SHA-256 of the operator's salt and
the person's normalised phone number; ``operator_user_id`` the same keyed hash, shorter), the
passenger's ``seats`` and ``contribution`` (cents, the fare rules' carpool contribution), the
driver's ``revenue`` (contribution plus incentive) and ``incentives`` (the territory's, with its
SIREN).

What is approximated (``docs/fares.md``): times and positions are the plan's, not a GPS trace;
the identity key hashes the phone number alone (the register's own key also takes the person's
name and birth date, which the service does not hold); the incentive's ``siret`` is the
intercommunality's SIREN; a rider without a phone number gets a key from the request id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dispatcher.fares.pricing import Fare
from dispatcher.io.times import format_time
from dispatcher.model import Plan, Problem

SCHEMA = "dispatcher/carpool-proofs/1"


def _phone(phone: str) -> str:
    digits = "".join(ch for ch in str(phone or "") if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    if digits.startswith("33") and len(digits) == 11:
        digits = "0" + digits[2:]
    return "+33" + digits[1:] if digits.startswith("0") and len(digits) == 10 else digits


def identity_key(salt: bytes, who: str) -> str:
    """The register's pseudonym of a person: SHA-256 of the operator's salt and the identity."""
    return hashlib.sha256(salt + b"\x1f" + who.encode()).hexdigest()


def _utc(problem: Problem, s: int) -> str:
    local = format_time(s, problem.day, problem.timezone)
    if isinstance(local, int):
        return str(local)
    return datetime.fromisoformat(local).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _identity(salt: bytes, phone: str, fallback: str) -> dict[str, Any]:
    who = _phone(phone) or f"id:{fallback}"
    key = identity_key(salt, who)
    return {"identity_key": key, "operator_user_id": key[:24], "phone_trunc": None}


def carpool_proofs(
    problem: Problem,
    plan: Plan,
    fares: Mapping[str, Fare],
    *,
    operator_id: str,
    salt: bytes,
    incentive_siren: str = "",
) -> dict[str, Any]:
    """The proof records of the plan's carpool journeys (see the module's docstring)."""
    journeys = []
    for route in plan.routes:
        v = problem.vehicle(route.vehicle_id)
        if v.kind != "carpool":
            continue
        driver = _identity(salt, v.phone, v.id)
        visits = list(route.visits)
        for i, pick in enumerate(visits):
            if pick.kind != "pickup":
                continue
            j = next(
                k for k in range(i + 1, len(visits)) if visits[k].request_id == pick.request_id
            )
            drop = visits[j]
            r = problem.request(pick.request_id)
            dist = sum(
                problem.travel_m(visits[k].location_id, visits[k + 1].location_id)
                for k in range(i, j)
            )
            fare = fares.get(r.id)
            contribution = fare.amount_cents if fare else 0
            incentive = fare.incentive_cents if fare else 0
            a, b = problem.location(r.pickup), problem.location(r.dropoff)
            day = problem.day.isoformat() if problem.day else ""
            journeys.append(
                {
                    "operator_journey_id": f"{day}:{route.vehicle_id}:{r.id}",
                    "operator_trip_id": f"{day}:{route.vehicle_id}",
                    "operator_class": "C",
                    "start": {"datetime": _utc(problem, pick.start_s), "lat": a.lat, "lon": a.lon},
                    "end": {"datetime": _utc(problem, drop.start_s), "lat": b.lat, "lon": b.lon},
                    "distance": dist,
                    "driver": {"identity": driver, "revenue": contribution + incentive},
                    "passenger": {
                        "identity": _identity(salt, r.phone, r.id),
                        "seats": r.seats + r.wheelchairs,
                        "contribution": contribution,
                    },
                    "incentives": [{"index": 0, "siret": incentive_siren, "amount": incentive}]
                    if incentive
                    else [],
                }
            )
    return {
        "schema": SCHEMA,
        "operator_id": operator_id,
        "day": problem.day.isoformat() if problem.day else None,
        "journeys": journeys,
    }
