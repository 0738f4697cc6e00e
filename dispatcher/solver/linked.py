"""Linked trips in the solvers: an outbound and its return (``Request.return_of``) are one need,
served both or neither, and the return's pickup starts no earlier than the outbound's drop-off
plus its alighting time plus the return's ``min_stay_s`` (the checker states the rule).

**The order, statically.** Each pair gets a *split time* ``T``: the outbound's drop-off starts
by ``T`` and the return's pickup from ``T + alighting + min_stay``. Any plan keeping both
windows keeps the order, whichever routes the two halves are on, so every search (OR-Tools, the
ALNS layer, real-time insertion) and the route timing (:mod:`dispatcher.solver.schedule`) plan
each route on its own as before: :func:`dispatcher.solver.schedule.stop_window`, the windows
they all read, applies the split. ``T`` is the outbound's latest possible arrival when that
leaves the return its whole window (the usual case: an appointment at 09:00 and a return asked
for 11:30 are not narrowed at all); otherwise the return keeps its window and the outbound must
arrive by the return's earliest pickup minus the stay (as if the return's window were an
appointment for the outbound), and when even that is too early, the outbound's earliest arrival.
A precedence constraint between the two routes' time variables would be exact where this is a
(sound) strengthening; it is not used because the routes are timed one by one afterwards, which
loses a precedence across routes (measured: 9 returns before their outbound on a day of
overlapping windows, ``benchmarks/results/linked_trips.md``); on the generated days the split
narrows no window at all.

**Both or neither.** The ALNS layer removes and inserts a pair as a unit. OR-Tools searches
without the rule (a CP constraint on the two pickups' activity, ``SearchOptions.link_activity``,
kept its first-solution heuristics from finding a plan on a congested day); afterwards a half
left alone gets its other half re-inserted, and
:func:`dispatcher.solver.repair.drop_orphans` takes a half whose other half is still refused off
its route, refused too.

**Live days.** A live plan's times must stay inside the split windows, whatever the route timing
does next; :func:`settle_pair` writes a split compatible with the planned times into the two
requests' own windows (as promises are written), after which the split narrows nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from dispatcher.model import Plan, Problem, Request, TimeWindow

Bounds = dict[tuple[str, str], tuple[int, int]]


def stay_s(problem: Problem, outbound: Request, ret: Request) -> int:
    """From the start of the outbound's drop-off to the earliest start of the return's pickup."""
    return problem.alighting_s(outbound) + ret.min_stay_s


def split_s(problem: Problem, outbound: Request, ret: Request) -> int:
    """The pair's split time ``T`` (see the module doc), from the requests' own windows."""
    drop = problem.dropoff_tw(outbound)
    pick = problem.pickup_tw(ret)
    return min(drop.end_s, max(drop.start_s, pick.start_s - stay_s(problem, outbound, ret)))


def bounds(problem: Problem) -> Bounds:
    """``(request id, "dropoff"|"pickup") -> (lo, hi)``: the bound the split puts on the
    outbound's drop-off and on the return's pickup, for every pair of the problem (computed once
    for the problem's tuple of requests)."""
    held = problem.__dict__.get("_linked_bounds")
    if held is not None and held[0] is problem.requests:
        out: Bounds = held[1]
        return out
    out = {}
    for o, r in problem.linked_pairs():
        t = split_s(problem, o, r)
        out[(o.id, "dropoff")] = (-(10**9), t)
        out[(r.id, "pickup")] = (t + stay_s(problem, o, r), 10**9)
    object.__setattr__(problem, "_linked_bounds", (problem.requests, out))
    return out


def settle_pair(
    problem: Problem,
    outbound: Request,
    ret: Request,
    dropoff_s: int,
    pickup_s: int | None = None,
) -> tuple[Request, Request] | None:
    """The two requests with a split written into their own windows that holds for an outbound
    dropped off at ``dropoff_s`` and a return picked up at ``pickup_s`` (not yet planned: None):
    ``T`` is :func:`split_s` moved into ``[dropoff_s, pickup_s - stay]``; the outbound arrives by
    ``T``, the return is picked up from ``T + stay``. Afterwards :func:`split_s` of the pair is
    ``T`` itself: the solvers' windows are the requests' own. None when the return's window
    ends before ``dropoff_s`` plus the stay."""
    stay = stay_s(problem, outbound, ret)
    t = max(split_s(problem, outbound, ret), dropoff_s)
    if pickup_s is not None:
        t = min(t, pickup_s - stay)
    drop = problem.dropoff_tw(outbound)
    pick = problem.pickup_tw(ret)
    if t < dropoff_s or t + stay > pick.end_s:
        return None
    o2 = outbound
    if t < drop.end_s:
        o2 = replace(outbound, arrive_by_s=t, not_before_s=min(drop.start_s, t))
    r2 = ret
    if t + stay > pick.start_s:
        r2 = replace(ret, pickup_window=TimeWindow(t + stay, pick.end_s))
    return o2, r2


def anchor(problem: Problem, plan: Plan | None, fixed: Iterable[str]) -> tuple[Problem, list[str]]:
    """``problem`` with each linked trip of which exactly one half is ``fixed`` (promised before
    its other half was asked for, or carried by another mode) cut in two: the other half stands
    alone, its windows bounded by the fixed half's times in ``plan`` (by the fixed half's
    windows when the plan does not hold it), so that it comes after (a return) or before (an
    outbound) whatever the plan does with it. Returns the problem and the other halves that
    cannot be bounded so (their window ends too early or starts too late), left out of it."""
    keep = set(fixed)
    times = (
        {}
        if plan is None
        else {(v.request_id, v.kind): v.start_s for rt in plan.routes for v in rt.visits}
    )
    bounded: dict[str, Request] = {}
    unfit: list[str] = []
    for o, r in problem.linked_pairs():
        if (o.id in keep) == (r.id in keep):
            continue
        if o.id in keep:  # the return is free: it follows the outbound's drop-off
            drop = times.get((o.id, "dropoff"), problem.dropoff_tw(o).end_s)
            settled = settle_pair(problem, o, r, drop)
        else:  # the outbound is free: it arrives before the return's pickup
            pick = times.get((r.id, "pickup"), problem.pickup_tw(r).start_s)
            settled = settle_pair(problem, o, r, problem.dropoff_tw(o).start_s, pick)
        if settled is None:
            unfit.append(r.id if o.id in keep else o.id)
            continue
        # both windows take the split (the fixed half's hold its times): the order holds
        # however the two are re-timed, and the link is cut
        bounded[o.id] = settled[0]
        bounded[r.id] = replace(settled[1], return_of=None)
    if not bounded and not unfit:
        return problem, []
    gone = set(unfit)
    reqs = [bounded.get(q.id, q) for q in problem.requests if q.id not in gone]
    reqs = [q if q.return_of not in gone else replace(q, return_of=None) for q in reqs]
    return replace(problem, requests=tuple(reqs)), unfit


def orphans(problem: Problem, served: Iterable[str]) -> list[str]:
    """The served halves of linked trips whose other half is not served, in problem order."""
    done = set(served)
    out = []
    for o, r in problem.linked_pairs():
        if (o.id in done) != (r.id in done):
            out.append(o.id if o.id in done else r.id)
    order = {q.id: k for k, q in enumerate(problem.requests)}
    return sorted(out, key=order.__getitem__)


def units(problem: Problem, ids: Iterable[str]) -> list[list[str]]:
    """``ids`` grouped into what is served together: a linked pair whose two halves are both in
    ``ids`` is one unit (outbound first), any other request a unit of its own; in the order of
    each unit's first id."""
    want = list(dict.fromkeys(ids))
    inside = set(want)
    seen: set[str] = set()
    out: list[list[str]] = []
    for rid in want:
        if rid in seen:
            continue
        mate = problem.partner_id(rid)
        if mate is not None and mate in inside:
            o = rid if problem.request(rid).return_of is None else mate
            pair = [o, mate if o == rid else rid]
            out.append(pair)
            seen.update(pair)
        else:
            out.append([rid])
            seen.add(rid)
    return out


__all__ = [
    "anchor",
    "bounds",
    "orphans",
    "settle_pair",
    "split_s",
    "stay_s",
    "units",
]
