"""Request and vehicle dicts (the input vocabulary of ``dispatcher.io``) compiled into a
``Problem`` on the territory and road network of the service, validated field by field, with
what an earlier compile of the same day resolved (places, matrices) reused.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np

from dispatcher.errors import InputError
from dispatcher.io.problem import problem_from_dicts, request_from_dict, resolve_place
from dispatcher.model import (
    Location,
    ObjectiveWeights,
    Problem,
    Request,
    ServiceRules,
    SolverParams,
    Vehicle,
)
from dispatcher.service.context import Context

log = logging.getLogger("dispatcher.service")

MAX_REMEMBERED_REQUESTS = 20_000
Matrix = Sequence[Sequence[int]]


def rewhere(e: InputError, old: str, new: str) -> InputError:
    """``e`` with the prefix ``old`` of its ``where`` replaced by ``new`` (or ``new`` put in
    front)."""
    where = (
        new + e.where[len(old) :]
        if e.where.startswith(old)
        else (f"{new}.{e.where}" if e.where else new)
    )
    return type(e)(e.message, where)


def unlinked(dicts: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The request dicts with ``return_of`` kept only towards requests of the same list (a return
    whose outbound is cancelled or not taken stays a trip of its own); the others are the very
    dicts given (their compile is remembered by identity, ``_Compiled.key``)."""
    ids = {str(d.get("id")) for d in dicts}
    return [
        d
        if d.get("return_of") in (None, "") or str(d["return_of"]) in ids
        else {**d, "return_of": None}
        for d in dicts
    ]


def dict_key(d: Any) -> str:
    return json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)


@dataclass
class _Compiled:
    """What a full compile of a day resolved, to compile the next request lists of that day
    without resolving every place and computing the matrices again: the requests by their dict,
    the fleet (by the dicts it came from), and the matrices of every place seen."""

    vehicles_key: str
    vehicles: tuple[Vehicle, ...]
    vehicle_places: tuple[tuple[Location, ...], ...]  # per vehicle, in compile order
    index: dict[str, int]  # location id -> row of the matrices
    names: dict[str, str]  # location id -> its name (an address placed on a point: the address)
    duration_s: Any
    distance_m: Any
    requests: dict[str, tuple[Request, Location, Location]] = field(default_factory=dict)
    keys: dict[int, tuple[object, str]] = field(
        default_factory=dict
    )  # id(dict) -> (the dict, its key)
    rules: ServiceRules | None = None  # the day's service rules, as the full compile had them
    known: tuple[Location, ...] = ()  # the places of the matrices' rows, in row order
    # the places of the last Problem built from here and its matrices as lists: the next
    # booking of the day mostly uses the same places, and gets the very same objects (so
    # neither they nor their stored pieces nor the routes' screens are made again)
    last: tuple[tuple[Location, ...], Matrix, Matrix] | None = None

    def places(
        self, locations: tuple[Location, ...]
    ) -> tuple[tuple[Location, ...], Matrix, Matrix]:
        """``locations`` (the same tuple as last time when equal) and the rows and columns of
        those places (in that order) of the matrices, as lists of ints: what the real-time
        insertion indexes fastest."""
        if self.last is not None and self.last[0] == locations:
            return self.last
        rows = [self.index[loc.id] for loc in locations]
        sel = np.ix_(rows, rows)
        dur = np.asarray(self.duration_s)[sel].tolist()
        dist = np.asarray(self.distance_m)[sel].tolist()
        self.last = (locations, dur, dist)
        return self.last

    def add_places(self, new: Sequence[Location], network: Any) -> bool:
        """Grow the matrices by the places ``new`` (the road network's pairwise shortest paths
        between every place known and these, as a full compile computes them: a pair's figures
        depend on its two places only); False when the network cannot (the full compile then
        says why, and where)."""
        places = (*self.known, *new)
        try:
            dur, dist = network.matrices(
                [(loc.lon, loc.lat) for loc in places], labels=[loc.id for loc in places]
            )
        except Exception:
            return False
        self.known, self.duration_s, self.distance_m = places, dur, dist
        self.index = {loc.id: i for i, loc in enumerate(places)}
        self.names.update((loc.id, loc.name) for loc in new)
        self.last = None
        return True

    def key(self, d: Any) -> str:
        """``dict_key(d)``, remembered by the dict's identity: the day's accepted request dicts
        are the same objects from one booking to the next (held with the day's version), and
        request dicts are never changed once given to a compile."""
        got = self.keys.get(id(d))
        if got is not None and got[0] is d:
            return got[1]
        k = dict_key(d)
        if len(self.keys) > MAX_REMEMBERED_REQUESTS:
            self.keys.clear()
        self.keys[id(d)] = (d, k)
        return k


class Compiler:
    """Compiles and validates the requests and vehicles of the service's days."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._compiled: dict[date, _Compiled] = {}

    def compile(
        self,
        day: date,
        reqs: Sequence[Mapping[str, Any]],
        vehicles: Sequence[Mapping[str, Any]],
        params: SolverParams,
    ) -> Problem:
        """The day's Problem. A return trip stays bookable when its outbound is cancelled or not
        planned: the link is kept only between requests of this problem."""
        reqs = unlinked(reqs)
        fast = self._compile_known(day, reqs, vehicles, params)
        if fast is not None:
            return fast
        problem = self.from_dicts(reqs, vehicles, day, rules=self.rules(day), params=params)
        return self._remember(day, reqs, vehicles, problem)

    def from_dicts(
        self,
        reqs: Sequence[Mapping[str, Any]],
        vehicles: Sequence[Mapping[str, Any]],
        day: date | None = None,
        **kw: Any,
    ) -> Problem:
        """``problem_from_dicts`` on the service's territory, road network, time zone and
        geocoder (postal addresses placed as the CLI places them)."""
        return problem_from_dicts(
            reqs,
            vehicles,
            self.ctx.territory,
            self.ctx.network,
            day=day,
            timezone=self.ctx.tz,
            geocoder=self.ctx.geocoder,
            **kw,
        )

    def rules(self, day: date) -> ServiceRules:
        """The service rules of ``day``: its service hours from the service configuration (a
        day without service says why)."""
        return self.ctx.service.service_rules(day)

    def for_day(self, day: date) -> Any:
        """``compile`` bound to ``day``: (requests, vehicles, params) -> Problem."""

        def compile_(
            reqs: Sequence[Mapping[str, Any]],
            vehicles: Sequence[Mapping[str, Any]],
            params: SolverParams,
        ) -> Problem:
            return self.compile(day, reqs, vehicles, params)

        return compile_

    def _remember(
        self,
        day: date,
        reqs: Sequence[Mapping[str, Any]],
        vehicles: Sequence[Mapping[str, Any]],
        problem: Problem,
    ) -> Problem:
        """Remember what the full compile ``problem`` resolved; returns it with its matrices as
        the lists the next compiles of the day share (``_Compiled.matrices``)."""
        try:
            places = tuple(
                tuple(
                    problem.location(x)
                    for x in (
                        v.start,
                        v.end,
                        *(() if v.home is None else (v.home,)),
                        *v.allowed_stops,
                    )
                )
                for v in problem.vehicles
            )
            c = _Compiled(
                dict_key(list(vehicles)),
                problem.vehicles,
                places,
                {loc.id: i for i, loc in enumerate(problem.locations)},
                {loc.id: loc.name for loc in problem.locations},
                problem.duration_s,
                problem.distance_m,
            )
            for d, r in zip(reqs, problem.requests, strict=True):
                c.requests[dict_key(d)] = (
                    r,
                    problem.location(r.pickup),
                    problem.location(r.dropoff),
                )
        except Exception:  # nothing to remember (never fails a compile)
            log.debug("compile of %s not remembered", day, exc_info=True)
            return problem
        c.rules, c.known = problem.rules, problem.locations
        self._compiled[day] = c
        locations, dur, dist = c.places(problem.locations)
        out = copy.copy(problem)  # the same validated problem, its matrices as lists
        object.__setattr__(out, "duration_s", dur)
        object.__setattr__(out, "distance_m", dist)
        return out

    def _compile_known(
        self,
        day: date,
        reqs: Sequence[Mapping[str, Any]],
        vehicles: Sequence[Mapping[str, Any]],
        params: SolverParams,
    ) -> Problem | None:
        """The Problem ``problem_from_dicts`` would compile, built from what an earlier compile of
        the day resolved: the same fleet, every place already in its matrices (the matrices are
        pairwise shortest paths, so the rows and columns of the places used, in first-use order,
        are what a fresh compile computes); None when that is not the case."""
        c = self._compiled.get(day)
        if c is None or dict_key(list(vehicles)) != c.vehicles_key:
            return None
        if len(c.requests) > MAX_REMEMBERED_REQUESTS:
            self._compiled.pop(day, None)
            return None
        tz, territory, coder = self.ctx.tz, self.ctx.territory, self.ctx.geocoder
        order: dict[str, Location] = {}
        out: list[Request] = []
        fresh: set[str] = set()  # requests not compiled before: validated in full below
        for k, d in enumerate(reqs):
            key = c.key(d)
            got = c.requests.get(key)
            if got is None:
                try:
                    r = request_from_dict(d, f"requests[{k}]", day, tz)
                    pick = resolve_place(r.pickup, territory, f"requests[{k}].pickup", coder)
                    drop = resolve_place(r.dropoff, territory, f"requests[{k}].dropoff", coder)
                except Exception:  # the full compile says what is wrong, and where
                    return None
                both = list({pick.id: pick, drop.id: drop}.values())
                if any(loc.id in c.index and c.names.get(loc.id) != loc.name for loc in both):
                    return None  # a new address placed on a known point (the full compile
                    # gives it a point of its own)
                new = [loc for loc in both if loc.id not in c.index]
                if new and not c.add_places(new, self.ctx.network):
                    return None  # a place the road network cannot reach: the full compile says
                got = (replace(r, pickup=pick.id, dropoff=drop.id), pick, drop)
                fresh.add(r.id)
            r, pick, drop = got
            order.setdefault(pick.id, pick)
            order.setdefault(drop.id, drop)
            out.append(r)
        for places in c.vehicle_places:
            for loc in places:
                order.setdefault(loc.id, loc)
        locations, duration_s, distance_m = c.places(tuple(order.values()))
        problem = Problem(
            locations=locations,
            duration_s=duration_s,
            distance_m=distance_m,
            requests=(),
            vehicles=c.vehicles,
            rules=c.rules if c.rules is not None else self.rules(day),
            weights=ObjectiveWeights(),
            params=params,
            day=day,
            timezone=tz,
        )
        try:
            problem = problem.with_requests(out, fresh)
        except InputError:
            return None  # the full compile says what is wrong, and where
        for k, d in enumerate(reqs):  # remembered once valid
            if out[k].id in fresh:
                c.requests.setdefault(
                    c.key(d),
                    (out[k], problem.location(out[k].pickup), problem.location(out[k].dropoff)),
                )
        return problem

    # ---- validation -----------------------------------------------------------------------------
    def validate_requests(
        self,
        day: date,
        dicts: Sequence[Mapping[str, Any]],
        where: str,
        stored_ids: set[str] | None = None,
        each: Callable[[Mapping[str, Any], str], None] | None = None,
        stored: Mapping[str, Mapping[str, Any]] | None = None,
        returns: Mapping[str, str] | None = None,
    ) -> None:
        """Every field, place and time of these requests, or an InputError naming the first bad one.

        Each request is compiled alone; its ``return_of`` link must name another request of the
        same batch or one of ``stored_ids`` (the day's stored requests it may link to), not a
        return itself nor one with a return already (of the batch, or ``returns``: the day's
        stored outbound id -> return id), and the return is compiled with its outbound (from the
        batch, or ``stored``: the dicts of the stored ones still in the day) so that its window
        leaves the outbound time to arrive and the stay; ``each(d, where)`` then checks what
        needs more than the request (the clock, the store)."""
        batch = {str(d.get("id")): d for d in dicts if isinstance(d, Mapping)}
        stored_ids = stored_ids or set()
        stored = stored or {}
        taken = dict(returns or {})  # outbound id -> its return id
        for k, d in enumerate(dicts):
            at = f"{where}[{k}]" if where.endswith("requests") else where
            link = d.get("return_of") if isinstance(d, Mapping) else None
            outbound: Mapping[str, Any] | None = None
            if link not in (None, ""):
                link = str(link)
                if link == str(d.get("id")):
                    raise InputError(
                        f"request {link!r} cannot be the return of itself", f"{at}.return_of"
                    )
                if link not in batch and link not in stored_ids:
                    raise InputError(
                        f"unknown request {link!r} (not in this batch nor on {day.isoformat()})",
                        f"{at}.return_of",
                    )
                outbound = batch.get(link, stored.get(link))
                if outbound is not None and outbound.get("return_of") not in (None, ""):
                    raise InputError(
                        f"request {link!r} is itself the return of {outbound['return_of']!r}: "
                        "a return names its outbound trip",
                        f"{at}.return_of",
                    )
                if taken.get(link, d.get("id")) != d.get("id"):
                    raise InputError(
                        f"request {link!r} already has a return trip ({taken[link]!r})",
                        f"{at}.return_of",
                    )
                taken[link] = str(d.get("id"))
                d = {**d, "return_of": None}
            try:
                self.from_dicts([d], [], day)
            except InputError as e:
                raise rewhere(
                    e,
                    "requests[0]",
                    f"{where}[{k}]" if len(dicts) > 1 or where.endswith("requests") else where,
                ) from None
            except (ValueError, TypeError, OverflowError) as e:
                raise InputError(f"invalid value: {e}", at) from None
            if outbound is not None:
                self._validate_return(day, outbound, {**d, "return_of": link}, at)
            if each is not None:
                each(d, at)

    def _validate_return(
        self, day: date, outbound: Mapping[str, Any], ret: Mapping[str, Any], at: str
    ) -> None:
        """The return compiled with its outbound: its window after the outbound's earliest
        arrival and the stay (an error of the outbound alone is the outbound's, said where it
        is validated)."""
        try:
            self.from_dicts([{**outbound, "return_of": None}, ret], [], day)
        except InputError as e:
            if e.where.startswith("requests[1]"):
                raise rewhere(e, "requests[1]", at) from None
        except (ValueError, TypeError, OverflowError):
            pass

    def validate_vehicle(self, d: Mapping[str, Any], where: str) -> None:
        try:
            self.from_dicts([], [d])
        except InputError as e:
            raise rewhere(e, "vehicles[0]", where) from None
        except (ValueError, TypeError, OverflowError) as e:
            raise InputError(f"invalid value: {e}", where) from None
