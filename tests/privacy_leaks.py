"""The leak check shared by the in-process and the real-server tests: every GET route of the
app's OpenAPI document, called by every role on a day seeded by ``tests.privacy_seed``, answers
none of the seeded values that ``dispatcher.service.privacy.TABLE`` hides from that role. The
routes come from the OpenAPI document and the forbidden values from the table, so that a new
GET route, or a new rule, is checked without writing a test for it."""

from __future__ import annotations

import itertools
import re
from datetime import date
from typing import Any

from dispatcher.api.routes import PERSONAL_VIEWS
from dispatcher.service.privacy import hidden
from tests.privacy_seed import PORTAL_SECRETS, SECRETS, Call

ROLES = {"operator": "operator", "portal": "portal", "portal2": "portal", "planner": "planner"}
OWNER = "portal"  # the client that made the seeded booking


def forbidden(client: str) -> list[str]:
    """The seeded values ``client`` may never receive, read from the table."""
    role = ROLES[client]
    out = [v for (s, k), vs in SECRETS.items() if k in hidden(s, role, own=False) for v in vs]
    own = client == OWNER
    out += [v for (s, k), vs in PORTAL_SECRETS.items() if k in hidden(s, role, own) for v in vs]
    return out


def everything() -> list[str]:
    return [v for vs in (*SECRETS.values(), *PORTAL_SECRETS.values()) for v in vs]


def get_routes(openapi: dict[str, Any]) -> dict[str, str]:
    """Every GET path of the document and the personal data view it declares."""
    return {
        path: ops["get"].get("x-personal-data", "")
        for path, ops in openapi["paths"].items()
        if "get" in ops
    }


def _ids_seen(call: Call, client: str, day: str) -> dict[str, list[str]]:
    """The ids of offers, volunteers and routes as ``client`` reads them (a planner: pseudonyms),
    plus the real ones: the path parameters to try."""
    seen: dict[str, list[str]] = {
        "driver_id": ["car-secretname"],
        "volunteer_id": ["vol-secretname"],
        "vehicle_id": ["bus-1"],
        "request_id": ["rider-secret-a", "booking-secret-p"],
        "booking_id": ["booking-secret-p", "rider-secret-a"],
    }
    r = call(client, "GET", f"/v1/days/{day}/carpool-offers")
    if r.status_code == 200:
        seen["driver_id"] += [o["driver_id"] for o in r.json()]
    r = call(client, "GET", "/v1/volunteers")
    if r.status_code == 200:
        seen["volunteer_id"] += [v["id"] for v in r.json()]
    r = call(client, "GET", f"/v1/days/{day}/plan")
    seen["manifest_vehicle"] = [""]
    if r.status_code == 200:
        seen["manifest_vehicle"] += [rt["vehicle_id"] for rt in r.json()["routes"]]
    return seen


def check_no_leaks(call: Call, openapi: dict[str, Any], day: date, jobs: list[str]) -> int:
    """Call every GET route with every client; fail on a leak. Returns the calls made."""
    routes = get_routes(openapi)
    undeclared = sorted(p for p, view in routes.items() if view not in PERSONAL_VIEWS)
    assert not undeclared, f"GET routes without x-personal-data: {undeclared}"
    d = day.isoformat()
    calls, answered = 0, set()
    for client in ROLES:
        seen = {**_ids_seen(call, client, d), "day": [d], "job_id": jobs}
        banned = forbidden(client)
        for path in routes:
            names = re.findall(r"{(\w+)}", path)
            unknown = [n for n in names if n not in seen]
            assert not unknown, f"no value to try for {unknown} of {path}: add one here"
            for values in itertools.product(*(seen[n] for n in names)):
                url = path
                for n, v in zip(names, values, strict=True):
                    url = url.replace("{" + n + "}", v)
                queries = (
                    [{"vehicle_id": v} if v else {} for v in seen["manifest_vehicle"]]
                    if path.endswith("/manifest")
                    else [{}]
                )
                for params in queries:
                    r = call(client, "GET", url, params=params)
                    calls += 1
                    assert r.status_code < 500, (client, url, r.text)
                    if r.status_code == 200:
                        answered.add(path)
                    text = r.text
                    asked = url + repr(params)  # an error may say back what it was asked
                    leaks = [v for v in banned if v in text and v not in asked]
                    assert not leaks, f"{client} reads {leaks} at {url} {params}"
                    if path.endswith("/access-log"):
                        leaks = [v for v in everything() if v in text]
                        assert not leaks, f"the access log holds {leaks}"
    silent = sorted(set(routes) - answered)
    assert not silent, f"routes that answered no client (the check proves nothing): {silent}"
    return calls
