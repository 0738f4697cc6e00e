"""Compiled kernels of the ALNS layer (see :mod:`dispatcher.solver.alns`).

Everything here works on plain integer arrays so that numba compiles it once (``cache=True``);
without numba the same functions run as ordinary Python (correct, about a hundred times slower).

Node numbering is the OR-Tools model's: vehicle ``s`` starts at node ``s`` and ends at node
``nv + s``; request ``q`` is picked up at node ``2 nv + 2 q`` and dropped off at ``2 nv + 2 q + 1``.
A route is a row of ``seq`` holding ``slen[s]`` nodes, start depot first and end depot last.

The model tuple ``M`` is (T, C, vcls, lo, hi, dem, cap, ride, maxdur, fixed, pen, allowed, rel,
nv2, mate, span_w, brk, svc, bal_w): ``T[a, b]`` service at ``a`` plus travel to ``b`` (seconds),
``C[vcls[s], a, b]`` the arc cost (1e-5 EUR), ``lo/hi`` the window of each node's start of
service, ``dem[0|1, node]`` seats and wheelchairs (+ at pickups, - at drop-offs),
``cap[0|1, s]``, ``ride[q]`` the longest time from the pickup's start of service to the
drop-off's, ``maxdur[s]`` the longest route,
``fixed[s]`` the vehicle's fixed cost, ``pen[q]`` the refusal penalty, ``allowed[q, s]``,
``rel[q, q']`` the Shaw relatedness (smaller: more related), ``nv2 = 2 nv``, ``mate[q]`` the other
half of request q's linked trip (-1: none), ``span_w[s]`` the cost per second of the route's
span (the drivers' hours from leaving the depot to coming back, waiting included; 0: none, and
then the hours, if any, are on the arcs), ``brk[0|1|2, s]`` the duration, earliest and latest
start of the vehicle's break (duration 0: none), ``svc[node]`` the service time, ``bal_w`` the
balance cost per second of the plan's global span (the latest end of a used route minus the
earliest start of one, each route timed on its shortest span; 0: none). A linked trip
is served both or neither: a repair inserts the two halves together or neither, and after every
destroy and repair a half whose other half is out leaves its route (``drop_orphans``), so no
plan with one half is ever scored.
Their order is in the windows (``lo``/``hi``, see :mod:`dispatcher.solver.linked`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

try:  # numba is optional: the same code runs in Python without it
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is missing
    HAVE_NUMBA = False

    def njit(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef,unused-ignore]
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


BIG = np.int64(1) << np.int64(60)


BREAK_TRIES = 4  # gaps tried for a vehicle's break, from the latest it may start in


@njit(cache=True)
def route_ok(row, L, s, M, x, pos):  # type: ignore[no-untyped-def]
    """Whether the node sequence ``row[:L]`` can be served by vehicle ``s``: capacities, then the
    exact timing (windows, travel, ride-time limits, route duration) and, for a vehicle with a
    break (``brk``), a gap between two stops of the route that holds it.

    The break is a floating stop: in gap g (between ``row[g]`` and ``row[g + 1]``) it starts
    after the service at ``row[g]`` and within its window, and the next stop comes at least its
    duration after the break's start and the travel plus its duration after that service, as in
    :class:`dispatcher.solver.schedule.RouteTimer`'s network. The gaps tried are the last ones
    the route can leave within the break's latest start (``BREAK_TRIES`` of them, latest first:
    the fewer stops it delays the likelier it fits), then as many of the earlier ones, where it
    delays the next stop least (:func:`_break_delays`); the gap found is left in ``x[L]`` (-1:
    none), for :func:`min_span`. ``x`` and ``pos`` are scratch arrays (length > L and >= the
    number of nodes)."""
    # M's arrays are taken here, before any branch, and handed to timing as arrays: one taken
    # further down (an M[i] in an expression, or in an inlined callee) costs about 0.15 us a
    # call here, numba's reference counts on it left unpruned (0.38 against 0.27 us on a8-96)
    T, lo, hi, dem, cap, ride, maxdur = M[0], M[3], M[4], M[5], M[6], M[7], M[8]
    nv2, brk, svc = M[13], M[16], M[17]
    l0 = 0
    l1 = 0
    for k in range(1, L - 1):
        nd = row[k]
        l0 += dem[0, nd]
        l1 += dem[1, nd]
        if l0 > cap[0, s] or l1 > cap[1, s]:
            return False
    x[L] = -1
    if brk[0, s] <= 0 or L <= 2:  # no break, or an unused vehicle (which takes none)
        return timing(row, L, s, T, lo, hi, ride, maxdur, nv2, brk, svc, x, pos, -1)
    if not timing(row, L, s, T, lo, hi, ride, maxdur, nv2, brk, svc, x, pos, -1):  # (relaxed)
        return False
    latest = brk[2, s]
    gl = -1
    for g in range(L - 1):
        if x[g] + svc[row[g]] > latest:
            break
        gl = g
    # The gaps tried: first the last ones the route leaves within the break's latest start, then
    # among the earlier ones those where the break delays the next stop least in the relaxed
    # timing (it fills a wait: a morning route whose lunch falls in an idle hour)
    n_late = min(BREAK_TRIES, gl + 1)
    n_early = min(BREAK_TRIES, gl + 1 - n_late)
    for k in range(n_late + n_early):
        if k < n_late:
            g = gl - k
        else:
            if k == n_late:  # (the tries above overwrote x: the relaxed timing again)
                timing(row, L, s, T, lo, hi, ride, maxdur, nv2, brk, svc, x, pos, -1)
                delay = _break_delays(row, gl + 1 - n_late, s, T, hi, brk, x)
            g = int(np.argmin(delay))
            if delay[g] == BIG:
                return False
            delay[g] = BIG
        if timing(row, L, s, T, lo, hi, ride, maxdur, nv2, brk, svc, x, pos, g):
            x[L] = g
            return True
    return False


@njit(cache=True)
def _break_delays(row, n, s, T, hi, brk, x):  # type: ignore[no-untyped-def]
    """For gaps 0..n-1 of the route timed without its break (``x``): how much later the next stop
    comes with the break in that gap (BIG if it cannot end in time for it)."""
    bdur = brk[0, s]
    bafter = brk[1, s] + bdur
    delay = np.full(n, BIG)
    for g in range(n):
        nxt = x[g] + T[row[g], row[g + 1]] + bdur
        if nxt < bafter:
            nxt = bafter
        if nxt <= hi[row[g + 1]]:
            delay[g] = nxt - x[g + 1]
    return delay


# inlined where it is called (numba's IR inlining): at route_ok's call without a break, g is the
# constant -1 and the compiler drops the break's terms (the literature's days)
@njit(cache=True, inline="always")
# a numba kernel (C901): one flat loop on purpose, a call costs in the hot path
def timing(row, L, s, T, lo, hi, ride, maxdur, nv2, brk, svc, x, pos, g):  # type: ignore[no-untyped-def]  # noqa: C901
    """Whether ``row[:L]`` can be timed on vehicle ``s`` (windows, travel, ride-time limits,
    route duration), with the vehicle's break in gap ``g`` (-1: no break); capacities are
    :func:`route_ok`'s, and so are the model's arrays ``T`` to ``svc`` (see ``M`` above).

    Every timing rule is a difference constraint; the least solution of the lower-bound
    constraints is found by a monotone fixpoint from the windows' starts (forward pass along
    the route, then each violated ride or duration limit pushes the earlier time later and the
    forward pass resumes there), which is Bellman-Ford with a round order that suits routes.
    The order is feasible iff that least solution exists within the windows' ends, left in
    ``x``. With the break in gap g, the arc from g to g + 1 takes its duration more, the stop
    after it comes after its earliest end, and the stop at g must be done by its latest start
    (scalars here: a call per stop costs in the hot path)."""
    bdur = np.int64(0)
    bafter = np.int64(0)
    hig = np.int64(0)
    if g >= 0:
        bdur = brk[0, s]
        bafter = brk[1, s] + bdur
        hig = min(hi[row[g]], brk[2, s] - svc[row[g]])
    x[0] = lo[row[0]]
    if x[0] > (hig if g == 0 else hi[row[0]]):
        return False
    for k in range(1, L):
        b = row[k]
        t = x[k - 1] + T[row[k - 1], b]
        if k - 1 == g:
            t += bdur
            if t < bafter:
                t = bafter
        if t < lo[b]:
            t = lo[b]
        if t > (hig if k == g else hi[b]):
            return False
        x[k] = t
        pos[b] = k
    for _ in range(L + 2):
        m = L
        for k in range(1, L - 1):
            nd = row[k]
            if (nd - nv2) % 2 == 1:
                pk = pos[nd - 1]
                need = x[k] - ride[(nd - nv2) // 2]
                if x[pk] < need:
                    if need > (hig if pk == g else hi[row[pk]]):
                        return False
                    x[pk] = need
                    if pk < m:
                        m = pk
        if x[L - 1] - x[0] > maxdur[s]:
            need = x[L - 1] - maxdur[s]
            if need > (hig if g == 0 else hi[row[0]]):
                return False
            x[0] = need
            m = 0
        if m == L:
            return True
        for k in range(m + 1, L):
            t = x[k - 1] + T[row[k - 1], row[k]]
            if k - 1 == g:
                t += bdur
            if t > x[k]:
                if t > (hig if k == g else hi[row[k]]):
                    return False
                x[k] = t
    return False


@njit(cache=True)
# a numba kernel (C901): one flat loop on purpose, a call costs in the hot path
def min_span(row, L, s, M, x, z, pos):  # type: ignore[no-untyped-def]  # noqa: C901
    """The shortest span (end minus start) of the route ``row[:L]`` on vehicle ``s``, given
    ``x`` and ``pos`` as :func:`route_ok` leaves them when it says True (``x`` its least
    solution, ``x[L]`` the break's gap). A shortest span ends at the earliest end ``x[L-1]``
    (the latest of two timings is a timing too, and shifting a timing earlier only breaks lower
    bounds that the least one holds), so it starts at the latest start given that end: the
    greatest solution of the same difference constraints with the end fixed, found by the mirror
    fixpoint (backward pass, each violated ride limit pulls the drop-off earlier, the backward
    pass resumes there).
    The break's gap is given (the one route_ok found). ``z`` is scratch (length >= L)."""
    T, hi, ride, nv2, brk, svc = M[0], M[4], M[7], M[13], M[16], M[17]
    g = x[L]  # the break's gap, as route_ok leaves it
    bdur = np.int64(0)
    hig = np.int64(0)
    if g >= 0:
        bdur = brk[0, s]
        hig = min(hi[row[g]], brk[2, s] - svc[row[g]])
    z[L - 1] = x[L - 1]
    for k in range(L - 2, -1, -1):
        t = z[k + 1] - T[row[k], row[k + 1]] - (bdur if k == g else 0)
        h = hig if k == g else hi[row[k]]
        z[k] = t if t < h else h
    for _ in range(L + 2):
        m = -1
        for k in range(1, L - 1):
            nd = row[k]
            if (nd - nv2) % 2 == 1:
                lim = z[pos[nd - 1]] + ride[(nd - nv2) // 2]
                if z[k] > lim:
                    z[k] = lim
                    if k > m:
                        m = k
        if m < 0:
            return x[L - 1] - z[0]
        for k in range(m - 1, -1, -1):
            t = z[k + 1] - T[row[k], row[k + 1]] - (bdur if k == g else 0)
            if t < z[k]:
                z[k] = t
    return x[L - 1] - x[0]  # (not reached on a feasible route: the least solution's span)


@njit(cache=True)
def arc_cost(row, L, s, M):  # type: ignore[no-untyped-def]
    """Arc costs of the route plus the vehicle's fixed cost if it serves anyone."""
    Cs, vcls, fixed = M[1], M[2], M[9]
    C = Cs[vcls[s]]
    if L <= 2:
        return np.int64(0)
    c = fixed[s]
    for k in range(L - 1):
        c += C[row[k], row[k + 1]]
    return c


@njit(cache=True)
def span_cost(row, L, s, M, W):  # type: ignore[no-untyped-def]
    """The cost of the route's shortest span (0 without a span cost, or for an empty route).
    Times it into ``W[0][4]`` / ``W[0][5]`` / ``W[1]``. A route the model cannot time (a start
    route the exact timer made, a removal on a non-metric matrix) is charged its whole shift:
    charged nothing, it was the cheapest route there is, and the search kept and sought it."""
    w = M[15][s]
    if w <= 0.0 or L <= 2:
        return np.int64(0)
    x = W[0][4]
    if not route_ok(row, L, s, M, x, W[1]):
        return np.int64(math.floor(w * (M[4][row[L - 1]] - M[3][row[0]]) + 0.5))
    return np.int64(math.floor(w * min_span(row, L, s, M, x, W[0][5], W[1]) + 0.5))


@njit(cache=True)
def balance_cost(seq, slen, M, W):  # type: ignore[no-untyped-def]
    """The balance cost of the plan (OR-Tools' global span cost): ``bal_w`` times the latest end
    of a used route minus the earliest start of one, each route timed on its shortest span (its
    earliest end, and its latest start given that end: :func:`min_span`'s timing, the one the
    drivers' hours are charged on); 0 without one. Times into ``W[0][4]`` / ``W[0][5]`` /
    ``W[1]``."""
    bal_w = M[18]
    if bal_w <= 0:
        return np.int64(0)
    x, z, pos = W[0][4], W[0][5], W[1]
    first = BIG
    last = -BIG
    for s in range(slen.shape[0]):
        L = slen[s]
        if L <= 2 or not route_ok(seq[s], L, s, M, x, pos):  # (a plan's routes are feasible)
            continue
        end = x[L - 1]
        start = end - min_span(seq[s], L, s, M, x, z, pos)
        if start < first:
            first = start
        if end > last:
            last = end
    if last < first:
        return np.int64(0)
    return bal_w * (last - first)


@njit(cache=True)
def route_cost(row, L, s, M, W):  # type: ignore[no-untyped-def]
    """The route's cost: arcs, fixed cost if it serves anyone, and its span's cost."""
    c = arc_cost(row, L, s, M)
    if M[15][s] > 0.0:
        c += span_cost(row, L, s, M, W)
    return c


@njit(cache=True)
def _build_inserted(row, L, p, d, i, j, tmp):  # type: ignore[no-untyped-def]
    """``tmp`` = row with p after position i and d after position j (original positions)."""
    n = 0
    for k in range(i + 1):
        tmp[n] = row[k]
        n += 1
    tmp[n] = p
    n += 1
    if j == i:
        tmp[n] = d
        n += 1
        for k in range(i + 1, L):
            tmp[n] = row[k]
            n += 1
        return
    for k in range(i + 1, j + 1):
        tmp[n] = row[k]
        n += 1
    tmp[n] = d
    n += 1
    for k in range(j + 1, L):
        tmp[n] = row[k]
        n += 1


SPAN_EVALS = 8  # with a span cost: at most this many feasible candidates timed per call


@njit(cache=True)
def _first_feasible(row, L, s, p, d, cnt, cd, ci, cj, M, W, route_c):  # type: ignore[no-untyped-def]
    """The cheapest collected candidate whose route passes the exact check. With a span cost,
    the candidates' arc costs are lower bounds (a stop more never shortens the shortest span on
    a metric matrix): the feasible ones are costed with their span, cheapest bound first, until
    the bound reaches the best cost (or ``SPAN_EVALS`` of them); ``route_c`` is the route's cost."""
    work, pos, tmp = W[0], W[1], W[2]
    order = np.argsort(cd[:cnt])
    w = M[15][s]
    best, bi, bj = BIG, -1, -1
    n_eval = 0
    for t in range(cnt):
        k = order[t]
        if cd[k] >= best:
            break
        _build_inserted(row, L, p, d, ci[k], cj[k], tmp)
        if route_ok(tmp, L + 2, s, M, work[4], pos):
            if w <= 0.0:
                return cd[k], ci[k], cj[k]
            sc = np.int64(math.floor(w * min_span(tmp, L + 2, s, M, work[4], work[5], pos) + 0.5))
            c = arc_cost(tmp, L + 2, s, M) + sc - route_c
            if c < best:
                best, bi, bj = c, ci[k], cj[k]
            n_eval += 1
            if n_eval >= SPAN_EVALS:
                break
    return best, bi, bj


@njit(cache=True)
# a numba kernel (C901): one flat loop on purpose, a call costs in the hot path
def best_insertion(q, s, seq, slen, M, W, ub, route_c):  # type: ignore[no-untyped-def]  # noqa: C901
    """Cheapest feasible insertion of request q into route s (whose cost is ``route_c``, see
    :func:`route_cost`) costing less than ``ub``:
    (delta, i, j) with the pickup after position i and the drop-off after position j, or
    (BIG, -1, -1). Positions are enumerated with necessary conditions (capacity, earliest and
    latest times without ride limits, a lower bound on the ride) and only the survivors, the
    cheapest first, get the exact check."""
    T, Cs, vcls, lo, hi = M[0], M[1], M[2], M[3], M[4]  # (M's arrays at the top: see route_ok)
    dem, cap, ride, fixed, nv2 = M[5], M[6], M[7], M[9], M[13]
    C = Cs[vcls[s]]
    work, cd, ci, cj = W[0], W[3], W[4], W[5]
    row = seq[s]
    L = slen[s]
    p = nv2 + 2 * q
    d = p + 1
    E, Lt, ld0, ld1 = work[0], work[1], work[2], work[3]
    E[0] = lo[row[0]]
    ld0[0] = 0
    ld1[0] = 0
    for k in range(1, L):
        t = E[k - 1] + T[row[k - 1], row[k]]
        E[k] = t if t > lo[row[k]] else lo[row[k]]
        ld0[k] = ld0[k - 1] + dem[0, row[k]]
        ld1[k] = ld1[k - 1] + dem[1, row[k]]
    Lt[L - 1] = hi[row[L - 1]]
    for k in range(L - 2, -1, -1):
        t = Lt[k + 1] - T[row[k], row[k + 1]]
        Lt[k] = t if t < hi[row[k]] else hi[row[k]]
    # an empty route costs nothing (not even its start-to-end arc); using it costs the fixed cost
    extra = fixed[s] + C[row[0], row[1]] if L == 2 else 0
    dp0, dp1 = dem[0, p], dem[1, p]
    c0, c1 = cap[0, s], cap[1, s]
    lim = ride[q]
    cap_buf = cd.shape[0]
    best, bi, bj = BIG, -1, -1
    cnt = 0
    for i in range(L - 1):
        a = row[i]
        b = row[i + 1]
        if ld0[i] + dp0 > c0 or ld1[i] + dp1 > c1:
            continue
        tp = E[i] + T[a, p]
        if tp < lo[p]:
            tp = lo[p]
        if tp > hi[p]:
            continue
        base = C[a, p] - C[a, b] + extra
        # drop-off right after the pickup
        delta = base + C[p, d] + C[d, b]
        if delta < ub:
            td = tp + T[p, d]
            if td < lo[d]:
                td = lo[d]
            if td <= hi[d] and td + T[d, b] <= Lt[i + 1]:
                cd[cnt] = delta
                ci[cnt] = i
                cj[cnt] = i
                cnt += 1
        if tp + T[p, b] > Lt[i + 1]:
            continue
        lp = Lt[i + 1] - T[p, b]
        if lp > hi[p]:
            lp = hi[p]
        base += C[p, b]
        e = tp + T[p, b]
        if e < lo[b]:
            e = lo[b]
        for j in range(i + 1, L - 1):
            c = row[j]
            nx = row[j + 1]
            if ld0[j] + dp0 > c0 or ld1[j] + dp1 > c1:
                break
            td = e + T[c, d]
            if td < lo[d]:
                td = lo[d]
            if td - lp > lim:
                break
            if td <= hi[d] and td + T[d, nx] <= Lt[j + 1]:
                delta = base + C[c, d] + C[d, nx] - C[c, nx]
                if delta < ub:
                    cd[cnt] = delta
                    ci[cnt] = i
                    cj[cnt] = j
                    cnt += 1
            e2 = e + T[c, nx]
            if e2 < lo[nx]:
                e2 = lo[nx]
            if e2 > Lt[j + 1]:
                break
            e = e2
            if cnt >= cap_buf - 2:
                b2, i2, j2 = _first_feasible(row, L, s, p, d, cnt, cd, ci, cj, M, W, route_c)
                if i2 >= 0 and b2 < best:
                    best, bi, bj = b2, i2, j2
                    ub = best
                cnt = 0
        if cnt >= cap_buf - 2:
            b2, i2, j2 = _first_feasible(row, L, s, p, d, cnt, cd, ci, cj, M, W, route_c)
            if i2 >= 0 and b2 < best:
                best, bi, bj = b2, i2, j2
                ub = best
            cnt = 0
    if cnt > 0:
        b2, i2, j2 = _first_feasible(row, L, s, p, d, cnt, cd, ci, cj, M, W, route_c)
        if i2 >= 0 and b2 < best:
            best, bi, bj = b2, i2, j2
    return best, bi, bj


@njit(cache=True)
def insert_at(q, s, i, j, seq, slen, M):  # type: ignore[no-untyped-def]
    """Put request q into route s (pickup after position i, drop-off after j, original
    positions)."""
    nv2 = M[13]
    p = nv2 + 2 * q
    row = seq[s]
    L = slen[s]
    # shift right by 2 from j+1, by 1 from i+1 to j
    for k in range(L - 1, j, -1):
        row[k + 2] = row[k]
    row[j + 2] = p + 1
    for k in range(j, i, -1):
        row[k + 1] = row[k]
    row[i + 1] = p
    slen[s] = L + 2


@njit(cache=True)
def remove_from(q, s, seq, slen, M, W, check):  # type: ignore[no-untyped-def]
    """Take request q out of route s; with ``check``, only if the rest of the route stays
    feasible (always true when travel times obey the triangle inequality). Returns success."""
    nv2 = M[13]
    p = nv2 + 2 * q
    row = seq[s]
    L = slen[s]
    tmp = W[2]
    n = 0
    for k in range(L):
        if row[k] != p and row[k] != p + 1:
            tmp[n] = row[k]
            n += 1
    if check and n > 2 and not route_ok(tmp, n, s, M, W[0][4], W[1]):
        return False
    for k in range(n):
        row[k] = tmp[k]
    slen[s] = n
    return True


@njit(cache=True)
def drop_orphans(seq, slen, where, rcost, M, W):  # type: ignore[no-untyped-def]
    """Take off their routes the halves of linked trips whose other half is unassigned (no
    timing check: removing stops never breaks a route on a metric matrix, and the plan's routes
    are timed exactly afterwards). Returns how many were taken off."""
    mate = M[14]
    n = 0
    for q in range(where.shape[0]):
        m = mate[q]
        if m >= 0 and where[q] >= 0 and where[m] < 0:
            s = where[q]
            remove_from(q, s, seq, slen, M, W, False)
            where[q] = -1
            rcost[s] = route_cost(seq[s], slen[s], s, M, W)
            n += 1
    return n


@njit(cache=True)
def seed_rng(seed):  # type: ignore[no-untyped-def]
    np.random.seed(seed)


@njit(cache=True)
def plan_cost(seq, slen, rcost, where, M, W, mode, bank_w):  # type: ignore[no-untyped-def]
    """The plan's objective: its routes' costs, the balance cost (if any) and per unassigned
    request its refusal penalty (mode 0) or ``bank_w`` (mode 1, the request bank)."""
    pen = M[10]
    tot = balance_cost(seq, slen, M, W) if M[18] > 0 else np.int64(0)
    for s in range(rcost.shape[0]):
        tot += rcost[s]
    for q in range(where.shape[0]):
        if where[q] < 0:
            tot += pen[q] if mode == 0 else bank_w
    return tot


@njit(cache=True)
def _remove_request(q, seq, slen, where, rcost, M, W):  # type: ignore[no-untyped-def]
    s = where[q]
    if s < 0:
        return False
    if not remove_from(q, s, seq, slen, M, W, True):
        return False
    where[q] = -1
    rcost[s] = route_cost(seq[s], slen[s], s, M, W)
    return True


@njit(cache=True)
# a numba kernel (C901): one flat loop on purpose, a call costs in the hot path
def _destroy(op, k, seq, slen, where, rcost, active, M, W):  # type: ignore[no-untyped-def]  # noqa: C901
    """Remove about k requests: 0 random, 1 worst (cost saving), 2 related (Shaw), 3 a route,
    4 strings of consecutive stops in the routes of related requests."""
    nr = where.shape[0]
    nv2 = M[13]
    rel = M[12]
    assigned = np.empty(nr, np.int64)
    na = 0
    for q in range(nr):
        if where[q] >= 0:
            assigned[na] = q
            na += 1
    if na == 0:
        return
    if k > na:
        k = na
    if op == 0:
        for t in range(k):
            u = t + np.random.randint(na - t)
            assigned[t], assigned[u] = assigned[u], assigned[t]
            _remove_request(assigned[t], seq, slen, where, rcost, M, W)
    elif op == 1:
        save = np.empty(na, np.float64)
        for t in range(na):
            q = assigned[t]
            s = where[q]
            C = M[1][M[2][s]]
            row = seq[s]
            L = slen[s]
            p = nv2 + 2 * q
            ip = 0
            idd = 0
            for h in range(L):
                if row[h] == p:
                    ip = h
                elif row[h] == p + 1:
                    idd = h
            if idd == ip + 1:
                sv = (
                    C[row[ip - 1], p]
                    + C[p, p + 1]
                    + C[p + 1, row[idd + 1]]
                    - C[row[ip - 1], row[idd + 1]]
                )
            else:
                sv = (
                    C[row[ip - 1], p]
                    + C[p, row[ip + 1]]
                    - C[row[ip - 1], row[ip + 1]]
                    + C[row[idd - 1], p + 1]
                    + C[p + 1, row[idd + 1]]
                    - C[row[idd - 1], row[idd + 1]]
                )
            save[t] = -float(sv)
        order = np.argsort(save)
        lst = assigned[order]
        n = na
        for _ in range(k):
            y = np.random.random()
            h = int(y * y * y * n)
            q = lst[h]
            for g in range(h, n - 1):
                lst[g] = lst[g + 1]
            n -= 1
            _remove_request(q, seq, slen, where, rcost, M, W)
    elif op == 2:
        removed = np.empty(k, np.int64)
        seed = assigned[np.random.randint(na)]
        removed[0] = seed
        nrem = 1
        _remove_request(seed, seq, slen, where, rcost, M, W)
        inset = np.zeros(nr, np.bool_)
        inset[seed] = True
        while nrem < k:
            r = removed[np.random.randint(nrem)]
            cand = np.empty(na, np.int64)
            score = np.empty(na, np.float64)
            nc = 0
            for t in range(na):
                q = assigned[t]
                if not inset[q]:
                    cand[nc] = q
                    score[nc] = rel[r, q]
                    nc += 1
            if nc == 0:
                break
            order = np.argsort(score[:nc])
            y = np.random.random()
            h = int(y**6 * nc)
            q = cand[order[h]]
            inset[q] = True
            removed[nrem] = q
            nrem += 1
            _remove_request(q, seq, slen, where, rcost, M, W)
    elif op == 4:
        # strings: around the seed and the requests most related to it, one stretch of
        # consecutive stops per route (Christiaens & Vanden Berghe's SISR, simplified)
        seed = assigned[np.random.randint(na)]
        order = np.argsort(rel[seed])
        touched = np.zeros(nv2 // 2, np.bool_)
        got = np.empty(nr, np.int64)
        n_out = 0
        for t in range(nr):
            if n_out >= k:
                break
            q = order[t]
            s = where[q]
            if s < 0 or touched[s]:
                continue
            touched[s] = True
            row = seq[s]
            L = slen[s]
            p = nv2 + 2 * q
            ip = 1
            for h in range(1, L - 1):
                if row[h] == p:
                    ip = h
                    break
            stops = L - 2
            lmax = min(stops, 2 * (k - n_out))
            ln = 1 + np.random.randint(lmax)
            st = ip - np.random.randint(ln)
            if st < 1:
                st = 1
            if st + ln > L - 1:
                st = L - 1 - ln
            ng = 0
            for h in range(st, st + ln):
                qq = (row[h] - nv2) // 2
                dup = False
                for g in range(ng):
                    if got[g] == qq:
                        dup = True
                        break
                if not dup:
                    got[ng] = qq
                    ng += 1
            for g in range(ng):
                if _remove_request(got[g], seq, slen, where, rcost, M, W):
                    n_out += 1
    elif op == 3:
        nvh = nv2 // 2
        cand_r = np.empty(nvh, np.int64)
        nc = 0
        for s in range(nvh):
            if active[s] and slen[s] > 2:
                cand_r[nc] = s
                nc += 1
        if nc == 0:
            return
        s = cand_r[np.random.randint(nc)]
        row = seq[s]
        for h in range(1, slen[s] - 1):
            nd = row[h]
            if (nd - nv2) % 2 == 0:
                where[(nd - nv2) // 2] = -1
        row[1] = row[slen[s] - 1]
        slen[s] = 2
        rcost[s] = 0


@njit(cache=True)
# a numba kernel (C901): one flat loop on purpose, a call costs in the hot path
def _repair(kreg, noise, seq, slen, where, rcost, active, M, W, bd, bn, bi, bj, mode):  # type: ignore[no-untyped-def]  # noqa: C901
    """Insert the unassigned requests: kreg 1 = greedy (cheapest first), kreg >= 2 = regret-k
    (the request that loses most by not getting its best route first); with ``noise`` > 0 the
    ranking costs are perturbed by up to +/- noise. A request whose insertion costs more than
    its refusal (mode 0) stays out."""
    nr = where.shape[0]
    nv = slen.shape[0]
    pen, allowed, mate = M[10], M[11], M[14]
    bank = np.empty(nr, np.int64)
    nb = 0
    for q in range(nr):
        if where[q] < 0:
            bank[nb] = q
            nb += 1
    if nb == 0:
        return
    for t in range(nb):
        q = bank[t]
        ub = pen[q] if mode == 0 else BIG
        for s in range(nv):
            if active[s] and allowed[q, s]:
                dl, i, j = best_insertion(q, s, seq, slen, M, W, ub, rcost[s])
            else:
                dl, i, j = BIG, -1, -1
            bd[q, s] = dl
            bi[q, s] = i
            bj[q, s] = j
            bn[q, s] = float(dl) + (noise * (2.0 * np.random.random() - 1.0) if i >= 0 else 0.0)
    kbest = np.empty(max(kreg, 1), np.float64)
    while nb > 0:
        best_t = -1
        best_score = -np.inf
        best_cost = np.inf
        for t in range(nb):
            q = bank[t]
            for h in range(kreg):
                kbest[h] = np.inf
            feas = 0
            for s in range(nv):
                if bi[q, s] < 0:
                    continue
                feas += 1
                v = bn[q, s]
                if v < kbest[kreg - 1]:
                    h = kreg - 1
                    while h > 0 and kbest[h - 1] > v:
                        kbest[h] = kbest[h - 1]
                        h -= 1
                    kbest[h] = v
            if feas == 0:
                continue
            if kreg == 1:
                score = -kbest[0]
            else:
                score = 0.0
                for h in range(1, kreg):
                    if kbest[h] == np.inf:
                        score += 1e15
                    else:
                        score += kbest[h] - kbest[0]
            if score > best_score or (score == best_score and kbest[0] < best_cost):
                best_score = score
                best_cost = kbest[0]
                best_t = t
        if best_t < 0:
            break
        q = bank[best_t]
        sbest = -1
        vb = np.inf
        for s in range(nv):
            if bi[q, s] >= 0 and bn[q, s] < vb:
                vb = bn[q, s]
                sbest = s
        insert_at(q, sbest, bi[q, sbest], bj[q, sbest], seq, slen, M)
        where[q] = sbest
        rcost[sbest] += bd[q, sbest]
        bank[best_t] = bank[nb - 1]
        nb -= 1
        # the other half of a linked trip goes in now, at its cheapest, or neither half does
        s2 = -1
        m = mate[q]
        if m >= 0 and where[m] < 0:
            ub2 = pen[q] + pen[m] - bd[q, sbest] if mode == 0 else BIG
            b2, i2, j2 = BIG, -1, -1
            for s in range(nv):
                if active[s] and allowed[m, s]:
                    dl, i, j = best_insertion(
                        m, s, seq, slen, M, W, ub2 if b2 > ub2 else b2, rcost[s]
                    )
                    if i >= 0 and dl < b2:
                        b2, s2, i2, j2 = dl, s, i, j
            for t in range(nb):
                if bank[t] == m:
                    bank[t] = bank[nb - 1]
                    nb -= 1
                    break
            if s2 < 0:  # undo: the routes are as they were, the bank's costs still hold
                remove_from(q, sbest, seq, slen, M, W, False)
                where[q] = -1
                rcost[sbest] -= bd[q, sbest]
                continue
            insert_at(m, s2, i2, j2, seq, slen, M)
            where[m] = s2
            rcost[s2] += b2
        for t in range(nb):
            q2 = bank[t]
            for h in range(2):
                s = sbest if h == 0 else s2
                if s < 0 or (h == 1 and s2 == sbest):
                    continue
                if active[s] and allowed[q2, s]:
                    ub = pen[q2] if mode == 0 else BIG
                    dl, i, j = best_insertion(q2, s, seq, slen, M, W, ub, rcost[s])
                else:
                    dl, i, j = BIG, -1, -1
                bd[q2, s] = dl
                bi[q2, s] = i
                bj[q2, s] = j
                bn[q2, s] = float(dl) + (
                    noise * (2.0 * np.random.random() - 1.0) if i >= 0 else 0.0
                )


REPAIRS = (
    (1, False),
    (2, False),
    (3, False),
    (4, False),
    (1, True),
    (2, True),
    (3, True),
)  # (regret k, noise)
N_DESTROY = 5


@njit(cache=True)
def run_chunk(  # type: ignore[no-untyped-def]
    n_iter,
    temp,
    kmin,
    kmax,
    noise_amp,
    mode,
    bank_w,
    M,
    W,
    cur,
    best,
    cand,
    active,
    dw,
    rw,
    dscore,
    rscore,
    duse,
    ruse,
    objs,
):
    """``n_iter`` ALNS iterations at temperature ``temp`` (simulated annealing acceptance).
    ``cur``/``best``/``cand`` are (seq, slen, where, rcost) tuples; ``objs`` = [current, best]
    objective; operator weights ``dw``/``rw`` pick the operators, their scores and uses are
    accumulated in ``dscore``/``rscore``/``duse``/``ruse`` (the caller updates the weights).
    Returns the number of new best solutions found."""
    bd, bn, bi, bj = W[6], W[7], W[8], W[9]
    n_best = 0
    rk = np.array([1, 2, 3, 4, 1, 2, 3])
    rnoise = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    for _ in range(n_iter):
        cand[0][:, :] = cur[0]
        cand[1][:] = cur[1]
        cand[2][:] = cur[2]
        cand[3][:] = cur[3]
        # roulette wheels
        u = np.random.random() * dw.sum()
        dop = 0
        acc = dw[0]
        while acc < u and dop < dw.shape[0] - 1:
            dop += 1
            acc += dw[dop]
        u = np.random.random() * rw.sum()
        rop = 0
        acc = rw[0]
        while acc < u and rop < rw.shape[0] - 1:
            rop += 1
            acc += rw[rop]
        k = kmin + np.random.randint(kmax - kmin + 1)
        _destroy(dop, k, cand[0], cand[1], cand[2], cand[3], active, M, W)
        drop_orphans(cand[0], cand[1], cand[2], cand[3], M, W)
        _repair(
            rk[rop],
            rnoise[rop] * noise_amp,
            cand[0],
            cand[1],
            cand[2],
            cand[3],
            active,
            M,
            W,
            bd,
            bn,
            bi,
            bj,
            mode,
        )
        drop_orphans(cand[0], cand[1], cand[2], cand[3], M, W)  # never expected to act
        obj = plan_cost(cand[0], cand[1], cand[3], cand[2], M, W, mode, bank_w)
        duse[dop] += 1
        ruse[rop] += 1
        sc = 0.0
        accept = False
        if obj < objs[1]:
            sc = 33.0
            accept = True
            objs[1] = obj
            best[0][:, :] = cand[0]
            best[1][:] = cand[1]
            best[2][:] = cand[2]
            best[3][:] = cand[3]
            n_best += 1
        elif obj < objs[0]:
            sc = 9.0
            accept = True
        elif temp > 0 and obj < objs[0] - temp * math.log(1.0 - np.random.random()):
            if obj != objs[0]:
                sc = 13.0
            accept = True
        if accept:
            objs[0] = obj
            cur[0][:, :] = cand[0]
            cur[1][:] = cand[1]
            cur[2][:] = cand[2]
            cur[3][:] = cand[3]
        dscore[dop] += sc
        rscore[rop] += sc
    return n_best
