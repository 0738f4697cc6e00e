"""Fares at the service: the fare rules of the service configuration (``[fares]``, else the
embedded Pays du Coquelicot rules), the zones of the server's territory, and the one way a
promise, a plan and a request are priced (``dispatcher.fares``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dispatcher.errors import InputError
from dispatcher.fares.plan import fares_section, request_fare, trip_mode
from dispatcher.fares.pricing import Fare
from dispatcher.model import Plan, Problem
from dispatcher.service.context import Context


def promise_fare(ctx: Context, problem: Problem, vehicle_id: str, rid: str) -> Fare:
    """The fare of request ``rid`` carried by ``vehicle_id`` on ``problem``."""
    r = problem.request(rid)
    return request_fare(ctx.fares, problem, r, trip_mode(problem, vehicle_id), ctx.zone_of)


def plan_fares(ctx: Context, problem: Problem, plan: Plan) -> dict[str, Any]:
    """The ``fares`` part of a plan's JSON (``dispatcher.fares.plan.fares_section``)."""
    return fares_section(ctx.fares, problem, plan, ctx.zone_of)


def check_fare_fields(ctx: Context, dicts: Sequence[Mapping[str, Any]], where: str) -> None:
    """Every request's rider category and fare product are the rules' (InputError naming it)."""
    rules = ctx.fares
    for i, d in enumerate(dicts):
        at = where if where == "body" else f"{where}[{i}]"
        for k, known in (("rider_category", rules.categories), ("fare_product", rules.products)):
            v = d.get(k)
            if v not in (None, "") and v not in known:
                what = "rider category" if k == "rider_category" else "fare product"
                raise InputError(f"unknown {what} {v!r}; known: {', '.join(known)}", f"{at}.{k}")
