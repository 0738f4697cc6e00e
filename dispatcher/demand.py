"""A seeded generator of realistic rural demand and fleets, for the demo and the benchmarks.

It returns plain dicts in the project's request and vehicle input vocabulary (not model
objects: the stops still have to be placed on the road graph). Same arguments, same seed ->
identical output, on any machine (only ``random.Random`` and ``math`` are used).

The demand model, in short:

* origins drawn in proportion to commune population (the commune's main stop);
* destinations: with probability ``hub_share`` a hub (Albert and the pôles, or the chosen
  neighbours' main towns) other than the origin's commune, drawn by gravity
  (hub population / distance²); otherwise another, non-hub commune by the same gravity rule;
  a hub commune with extra stops (e.g. Albert station) gets some trips to those;
* a time-of-day profile with a morning peak (08:30), a midday bump, an afternoon peak
  (16:45) and a flat base;
* ``appointment_share`` of the outbound trips are appointments (``arrive_by_s`` set, no pickup
  window); the others have a pickup window of ``pickup_window_s``;
* ``return_share`` of the outbound trips (appointments or not) get a return trip later the same
  day, from the destination back to the origin, with a pickup window that opens after the
  outbound's arrival plus an activity time; ``return_of`` names the outbound;
* ``wheelchair_share`` of the parties travel with a wheelchair (``wheelchairs=1``, ``seats``
  0 or 1 companion); other parties are 1 to 3 seated passengers, mostly 1;
* ``recurring_share`` of the trips are regular weekly trips (see :func:`recurring_requests`):
  they depend on the territory and the ``weekday`` only, not on the seed, so the same weekday
  of two weeks (two seeds) shares them; their ids start with ``w``.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

from dispatcher.errors import InputError
from dispatcher.territory import Commune, Stop, Territory, haversine_m

ROUND_S = 300  # times are rounded to 5 minutes, as a booking clerk would
GRAVITY_FLOOR_M = 2000.0  # below this, distance no longer increases attraction
EST_SPEED_KPH = 50.0  # rough rural door-to-door speed, only used to keep times plausible
EST_CIRCUITY = 1.3
# Time-of-day profile of outbound trips: (weight, mean hour, standard deviation in hours);
# the remaining weight is spread uniformly over the service day.
PEAKS: tuple[tuple[float, float, float], ...] = (
    (0.35, 8.5, 0.75),
    (0.15, 12.0, 1.0),
    (0.30, 16.75, 1.0),
)
GROUP_SIZES = ((1, 0.80), (2, 0.15), (3, 0.05))
APPOINTMENT_ACTIVITY_MIN = (30, 45, 60, 60, 90, 120, 180)
OTHER_ACTIVITY_MIN = (60, 90, 120, 150, 180, 240, 300)


def _check_share(name: str, v: float) -> None:
    if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0):
        raise InputError(f"must be a number between 0 and 1, got {v!r}", name)


def _check_int(name: str, v: int, low: int = 0) -> None:
    if not (isinstance(v, int) and not isinstance(v, bool) and v >= low):
        raise InputError(f"must be an integer >= {low}, got {v!r}", name)


def estimated_ride_s(a: Stop, b: Stop) -> int:
    """A rough door-to-door drive time (straight line x circuity at 50 km/h), for plausibility
    only."""
    d = haversine_m(a.lon, a.lat, b.lon, b.lat) * EST_CIRCUITY
    return int(d / (EST_SPEED_KPH / 3.6)) + 120


class _Draw:
    """Weighted draws over a fixed list, reproducible (cumulative weights + bisect)."""

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(accumulate(weights))

    def __call__(self, rng: random.Random) -> Any:
        x = rng.random() * self.cum[-1]
        return self.items[min(bisect.bisect_right(self.cum, x), len(self.items) - 1)]


class _Gravity:
    """Destination draws per origin commune, computed lazily and cached."""

    def __init__(self, territory: Territory) -> None:
        hub_insees = {h.insee for h in territory.hubs}
        self.main = {c.insee: territory.main_stop(c.insee) for c in territory.communes}
        self.hubs = [c for c in territory.communes if c.insee in hub_insees]
        self.others = [c for c in territory.communes if c.insee not in hub_insees]
        self._cache: dict[tuple[str, bool], _Draw | None] = {}

    def draw(self, origin: Commune, to_hub: bool, rng: random.Random) -> Commune | None:
        key = (origin.insee, to_hub)
        if key not in self._cache:
            o = self.main[origin.insee]
            pool = [c for c in (self.hubs if to_hub else self.others) if c.insee != origin.insee]
            weights = []
            for c in pool:
                s = self.main[c.insee]
                d = max(GRAVITY_FLOOR_M, haversine_m(o.lon, o.lat, s.lon, s.lat))
                weights.append(max(c.population, 1) / (d * d))
            self._cache[key] = _Draw(pool, weights) if pool else None
        draw = self._cache[key]
        return None if draw is None else draw(rng)


def _round(t: float) -> int:
    return int(round(t / ROUND_S)) * ROUND_S


def _time_of_day(rng: random.Random, lo: int, hi: int) -> int:
    """A time in [lo, hi] from the day profile (resampled when a peak falls outside)."""
    for _ in range(20):
        u = rng.random()
        acc = 0.0
        t: float | None = None
        for w, mean_h, sd_h in PEAKS:
            acc += w
            if u < acc:
                t = rng.gauss(mean_h * 3600, sd_h * 3600)
                break
        if t is None:
            t = rng.uniform(lo, hi)
        if lo <= t <= hi:
            return int(t)
    return int(rng.uniform(lo, hi))


def _party(rng: random.Random, wheelchair_share: float) -> tuple[int, int]:
    if rng.random() < wheelchair_share:
        return (1 if rng.random() < 0.4 else 0), 1
    u = rng.random()
    acc = 0.0
    for size, p in GROUP_SIZES:
        acc += p
        if u < acc:
            return size, 0
    return 1, 0


# Regular weekly trips. Albert's market is assumed to be on Saturday morning (pass
# ``market_days`` to change it, or to add the neighbours' markets: (INSEE, weekday) pairs).
MARKET_DAYS: tuple[tuple[str, int], ...] = (("80016", 5),)
CARE_TOWNS = ("80016", "80021")  # Albert and Amiens: dialysis units and hospital consultations
CARE_DAYS = ((0, 2, 4), (1, 3, 5))  # dialysis three times a week: Mon-Wed-Fri or Tue-Thu-Sat
CARE_SESSIONS_H = (8.0, 13.5)  # arrival for the morning or the afternoon session
CARE_SESSION_MIN = 270  # four hours of treatment and the time to get ready
MARKET_STAY_MIN = (90, 120, 150)
ACTIVITY_STAY_MIN = (90, 120, 180)
RECURRING_KINDS = (("care", 0.4), ("market", 0.3), ("activity", 0.3))
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _check_weekday(name: str, v: int) -> None:
    if not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 6):
        raise InputError(f"must be a weekday number, 0 = Monday .. 6 = Sunday, got {v!r}", name)


def _ceil_round(t: float) -> int:
    return int(math.ceil(t / ROUND_S)) * ROUND_S


def _regular_riders(
    territory: Territory,
    wheelchair_share: float,
    day_start_s: int,
    day_end_s: int,
    pickup_window_s: int,
    market_days: Sequence[tuple[str, int]],
) -> Iterator[tuple[int, str, tuple[int, ...], dict[str, Any], dict[str, Any] | None]]:
    """The territory's regular riders, an endless reproducible stream seeded by the territory only:
    ``(rider number, kind, weekdays, outbound dict, return dict or None)`` (ids left to set)."""
    insees = sorted(c.insee for c in territory.communes)
    rng = random.Random("dispatcher.recurring:" + ",".join(insees))
    by_insee = {c.insee: c for c in territory.communes}
    origin_draw = _Draw(territory.communes, [max(c.population, 1) for c in territory.communes])
    gravity = _Gravity(territory)
    care = [by_insee[i] for i in CARE_TOWNS if i in by_insee]
    markets = [(by_insee[i], d) for i, d in market_days if i in by_insee]
    kinds = [
        (k, w) for k, w in RECURRING_KINDS if (k != "care" or care) and (k != "market" or markets)
    ]
    kind_draw = _Draw([k for k, _ in kinds], [w for _, w in kinds])
    rider = 0
    while True:
        rider += 1
        origin: Commune = origin_draw(rng)
        kind: str = kind_draw(rng)
        seats, wheelchairs = _party(rng, wheelchair_share)
        pickup = gravity.main[origin.insee]
        back_after_min: int
        if kind == "care":
            pool = [c for c in care if c.insee != origin.insee]
            dest = (
                _Draw(
                    pool,
                    [
                        max(c.population, 1)
                        / max(
                            GRAVITY_FLOOR_M,
                            haversine_m(
                                pickup.lon,
                                pickup.lat,
                                gravity.main[c.insee].lon,
                                gravity.main[c.insee].lat,
                            ),
                        )
                        ** 2
                        for c in pool
                    ],
                )(rng)
                if pool
                else None
            )
            days: tuple[int, ...] = CARE_DAYS[rng.randrange(len(CARE_DAYS))]
            session = CARE_SESSIONS_H[rng.randrange(len(CARE_SESSIONS_H))]
            back_after_min = CARE_SESSION_MIN
        elif kind == "market":
            dest, day = markets[rng.randrange(len(markets))]
            days = (day,)
            session = rng.uniform(8.5, 10.0)
            back_after_min = MARKET_STAY_MIN[rng.randrange(len(MARKET_STAY_MIN))]
        else:
            dest = gravity.draw(origin, True, rng) or gravity.draw(origin, False, rng)
            days = (rng.randrange(6),)  # one weekly activity, Monday to Saturday
            session = rng.uniform(9.0, 16.0)
            back_after_min = ACTIVITY_STAY_MIN[rng.randrange(len(ACTIVITY_STAY_MIN))]
        if dest is None or dest.insee == origin.insee:
            continue  # lives in the town: walks there
        dropoff = gravity.main[dest.insee]
        ride_s = estimated_ride_s(pickup, dropoff)
        out: dict[str, Any] = {
            "id": "",
            "pickup": pickup.id,
            "dropoff": dropoff.id,
            "seats": seats,
            "wheelchairs": wheelchairs,
            "pickup_window": None,
            "arrive_by_s": None,
            "return_of": None,
        }
        if kind == "care":
            arrive = max(_round(session * 3600), _ceil_round(day_start_s + ride_s + 900))
            if arrive > day_end_s:
                continue
            out["arrive_by_s"] = arrive
            free_from = arrive
        else:
            latest = day_end_s - pickup_window_s
            start = min(max(_round(session * 3600), day_start_s), latest)
            out["pickup_window"] = [start, start + pickup_window_s]
            free_from = start + pickup_window_s + ride_s
        back: dict[str, Any] | None = None
        start = _ceil_round(free_from + 60 * back_after_min)
        if start + pickup_window_s <= day_end_s:
            back = {
                "id": "",
                "pickup": dropoff.id,
                "dropoff": pickup.id,
                "seats": seats,
                "wheelchairs": wheelchairs,
                "pickup_window": [start, start + pickup_window_s],
                "arrive_by_s": None,
                "return_of": None,
            }
        yield rider, kind, days, out, back


def recurring_requests(
    territory: Territory,
    weekday: int,
    n: int,
    *,
    wheelchair_share: float = 0.05,
    day_start_s: int = 7 * 3600,
    day_end_s: int = 19 * 3600,
    pickup_window_s: int = 900,
    market_days: Sequence[tuple[str, int]] = MARKET_DAYS,
) -> list[dict[str, Any]]:
    """Up to ``n`` regular trips of ``weekday`` (0 = Monday .. 6 = Sunday): a function of the
    territory, the weekday and these arguments only (no seed), so every week repeats them.

    The territory has an endless, reproducible list of regular riders, drawn by population:
    care (dialysis three times a week, Mon-Wed-Fri or Tue-Thu-Sat, to Albert or Amiens by
    gravity, arriving for the 08:00 or 13:30 session and going home about 4 h 30 later), the
    market (``market_days``: Albert on Saturday by default, an assumption to check locally;
    there from 08:30 to 10:00, back after 1 h 30 to 2 h 30) and one weekly activity (a day from
    Monday to Saturday, to a hub, back after 1 h 30 to 3 h). The trips of the riders who travel
    on ``weekday`` are taken in that order until ``n``: the outbound (``w<rider>a``) then its
    return (``w<rider>b``, ``return_of`` set), the return dropped when only one place is left.
    Fewer than ``n`` when the weekday has few regular riders (none on Sunday by default).
    """
    _check_weekday("weekday", weekday)
    _check_int("n", n)
    _check_share("wheelchair_share", wheelchair_share)
    out: list[dict[str, Any]] = []
    if n == 0:
        return out
    riders = _regular_riders(
        territory, wheelchair_share, day_start_s, day_end_s, pickup_window_s, market_days
    )
    for _ in range(
        20 * n + 200
    ):  # a bounded look through the riders (a quiet weekday may have few)
        rider, _kind, days, outbound, back = next(riders)
        if weekday not in days:
            continue
        outbound["id"] = f"w{rider:04d}a"
        out.append(outbound)
        if back is not None and len(out) < n:
            back["id"], back["return_of"] = f"w{rider:04d}b", outbound["id"]
            out.append(back)
        if len(out) >= n:
            break
    return out


def generate_requests(
    territory: Territory,
    n: int,
    seed: int = 0,
    *,
    wheelchair_share: float = 0.05,
    appointment_share: float = 0.3,
    return_share: float = 0.3,
    hub_share: float = 0.8,
    day_start_s: int = 7 * 3600,
    day_end_s: int = 19 * 3600,
    pickup_window_s: int = 900,
    recurring_share: float = 0.0,
    weekday: int | None = None,
    market_days: Sequence[tuple[str, int]] = MARKET_DAYS,
) -> list[dict[str, Any]]:
    """``n`` request dicts over ``territory``, reproducible by ``seed`` (see the module doc).

    With ``recurring_share`` > 0 and a ``weekday`` (0 = Monday .. 6 = Sunday), about
    ``recurring_share * n`` of them are that weekday's regular trips
    (:func:`recurring_requests`, ids ``w…``, first in the list); the rest are drawn by ``seed``
    (ids ``r…``, numbered from 1 as without recurring trips).

    Each dict: ``{"id", "pickup", "dropoff", "seats", "wheelchairs", "pickup_window",
    "arrive_by_s", "return_of"}`` with stop ids of the territory, exactly one of
    ``pickup_window`` ([start_s, end_s]) and ``arrive_by_s`` set, never pickup == dropoff, and
    every time inside [day_start_s, day_end_s]. A return trip follows its outbound in the list.
    """
    _check_int("n", n)
    _check_int("seed", seed)
    for name, v in (
        ("wheelchair_share", wheelchair_share),
        ("appointment_share", appointment_share),
        ("return_share", return_share),
        ("hub_share", hub_share),
    ):
        _check_share(name, v)
    _check_int("pickup_window_s", pickup_window_s)
    _check_int("day_start_s", day_start_s)
    _check_int("day_end_s", day_end_s)
    if day_end_s > 2 * 86400:
        raise InputError(f"must be within two days of midnight, got {day_end_s}", "day_end_s")
    if day_end_s - day_start_s < pickup_window_s + 3600:
        raise InputError(
            "the service day must last at least the pickup window plus one hour", "day_end_s"
        )
    if len(territory.communes) < 2:
        raise InputError("needs a territory of at least two communes", "territory")
    _check_share("recurring_share", recurring_share)
    if weekday is not None:
        _check_weekday("weekday", weekday)
    if recurring_share > 0 and weekday is None:
        raise InputError("recurring trips need a weekday (0 = Monday .. 6 = Sunday)", "weekday")

    regular: list[dict[str, Any]] = []
    if recurring_share > 0 and weekday is not None:
        regular = recurring_requests(
            territory,
            weekday,
            int(round(recurring_share * n)),
            wheelchair_share=wheelchair_share,
            day_start_s=day_start_s,
            day_end_s=day_end_s,
            pickup_window_s=pickup_window_s,
            market_days=market_days,
        )
    rng = random.Random(f"dispatcher.demand:{seed}")
    origin_draw = _Draw(territory.communes, [max(c.population, 1) for c in territory.communes])
    gravity = _Gravity(territory)
    width = max(4, len(str(n)))
    out: list[dict[str, Any]] = regular
    n_regular = len(regular)

    def new_id() -> str:
        return f"r{len(out) - n_regular + 1:0{width}d}"

    while len(out) < n:
        origin: Commune = origin_draw(rng)
        to_hub = rng.random() < hub_share
        dest = gravity.draw(origin, to_hub, rng) or gravity.draw(origin, not to_hub, rng)
        assert dest is not None  # two communes at least, so one of the pools is non-empty
        pickup = gravity.main[origin.insee]
        dropoff = gravity.main[dest.insee]
        extras = [s for s in territory.stops_of(dest.insee) if s.id != dropoff.id]
        if extras and rng.random() < 0.3:
            dropoff = extras[rng.randrange(len(extras))]
        seats, wheelchairs = _party(rng, wheelchair_share)
        ride_s = estimated_ride_s(pickup, dropoff)

        outbound: dict[str, Any] = {
            "id": new_id(),
            "pickup": pickup.id,
            "dropoff": dropoff.id,
            "seats": seats,
            "wheelchairs": wheelchairs,
            "pickup_window": None,
            "arrive_by_s": None,
            "return_of": None,
        }
        earliest_arrival = day_start_s + ride_s + 900  # a vehicle must be able to get there
        wants_appointment = rng.random() < appointment_share
        if wants_appointment and earliest_arrival <= day_end_s:
            t = _time_of_day(rng, earliest_arrival, day_end_s)
            arrive = min(max(_round(t), earliest_arrival), day_end_s)
            outbound["arrive_by_s"] = arrive
            free_from = arrive
            activities = APPOINTMENT_ACTIVITY_MIN
        else:
            latest = day_end_s - pickup_window_s
            start = min(max(_round(_time_of_day(rng, day_start_s, latest)), day_start_s), latest)
            outbound["pickup_window"] = [start, start + pickup_window_s]
            free_from = start + pickup_window_s + ride_s
            activities = OTHER_ACTIVITY_MIN
        out.append(outbound)

        if len(out) < n and rng.random() < return_share:
            start = (
                int(
                    math.ceil(
                        (free_from + 60 * activities[rng.randrange(len(activities))]) / ROUND_S
                    )
                )
                * ROUND_S
            )
            if start + pickup_window_s <= day_end_s:
                out.append(
                    {
                        "id": new_id(),
                        "pickup": outbound["dropoff"],
                        "dropoff": outbound["pickup"],
                        "seats": seats,
                        "wheelchairs": wheelchairs,
                        "pickup_window": [start, start + pickup_window_s],
                        "arrive_by_s": None,
                        "return_of": outbound["id"],
                    }
                )
    return out


def generate_fleet(
    territory: Territory,
    n_vehicles: int,
    n_wheelchair: int,
    seed: int = 0,
    *,
    shift: tuple[int, int] = (7 * 3600, 19 * 3600),
    break_window: tuple[int, int] = (11 * 3600 + 1800, 14 * 3600),
    break_s: int = 2700,
    main_hub_share: float = 0.6,
) -> list[dict[str, Any]]:
    """``n_vehicles`` minibus dicts, ``n_wheelchair`` of them wheelchair-accessible.

    Each dict: ``{"id", "start", "end", "shift", "seats", "wheelchairs", "breaks", "kind"}``.
    Depots are the territory's hubs' main stops: ``main_hub_share`` of the vehicles at the first
    hub (Albert for the pilot), the rest spread round-robin over the other hubs, then shuffled by
    ``seed``. Standard minibuses have 8 seats; accessible ones 6 seats and 2 wheelchair places.
    Every driver has one break of ``break_s`` inside ``break_window``.
    """
    _check_int("n_vehicles", n_vehicles)
    _check_int("n_wheelchair", n_wheelchair)
    _check_int("seed", seed)
    _check_share("main_hub_share", main_hub_share)
    if n_wheelchair > n_vehicles:
        raise InputError(f"{n_wheelchair} wheelchair vehicles out of {n_vehicles}", "n_wheelchair")
    if not (0 <= shift[0] < shift[1]):
        raise InputError(f"must start before it ends, got {list(shift)}", "shift")
    if not (break_window[0] < break_window[1] and break_window[1] - break_window[0] >= break_s > 0):
        raise InputError("the break window must be at least as long as the break", "break_window")
    hubs = list(territory.hubs) or [territory.main_stop(territory.communes[0].insee)]
    n_main = n_vehicles if len(hubs) == 1 else int(math.ceil(main_hub_share * n_vehicles))
    depots = [hubs[0]] * n_main + [
        hubs[1 + k % (len(hubs) - 1)] for k in range(n_vehicles - n_main)
    ]
    rng = random.Random(f"dispatcher.fleet:{seed}")
    rng.shuffle(depots)
    width = max(2, len(str(n_vehicles)))
    fleet = []
    for i, depot in enumerate(depots):
        accessible = i < n_wheelchair
        fleet.append(
            {
                "id": f"v{i + 1:0{width}d}",
                "start": depot.id,
                "end": depot.id,
                "shift": [int(shift[0]), int(shift[1])],
                "seats": 6 if accessible else 8,
                "wheelchairs": 2 if accessible else 0,
                "breaks": [
                    {
                        "window": [int(break_window[0]), int(break_window[1])],
                        "duration_s": int(break_s),
                    }
                ],
                "kind": "minibus",
            }
        )
    return fleet


COMMUTE_TOWNS = (("80016", 2), ("80523", 1))  # Albert, and Méaulte (the aircraft plant)


def generate_carpool_offers(
    territory: Territory,
    n: int,
    seed: int = 0,
    *,
    towns: Sequence[tuple[str, int]] = COMMUTE_TOWNS,
    depart_between: tuple[int, int] = (6 * 3600 + 1800, 8 * 3600 + 1800),
) -> list[dict[str, Any]]:
    """A morning of commuters offering seats, as carpool offer dicts.

    Drivers live in the villages (drawn by population) and drive to work in one of ``towns``
    (INSEE, weight; Albert and Méaulte by default) every weekday, leaving within a 20-minute
    window between ``depart_between``; 1 to 3 free seats, the default detour rule.
    """
    _check_int("n", n)
    _check_int("seed", seed)
    rng = random.Random(f"dispatcher.carpool:{seed}")
    dests = [
        (territory.main_stop(insee), w)
        for insee, w in towns
        if any(c.insee == insee for c in territory.communes)
    ]
    if not dests:
        raise InputError("none of the commuting towns is in the territory", "towns")
    dest_ids = {s.insee for s, _ in dests}
    villages = [c for c in territory.communes if c.insee not in dest_ids]
    weights = [max(c.population, 1) for c in villages]
    offers = []
    for i in range(n):
        home = rng.choices(villages, weights)[0]
        work = rng.choices([s for s, _ in dests], [w for _, w in dests])[0]
        dep = _round(rng.uniform(*depart_between))
        offers.append(
            {
                "driver_id": f"c{i + 1:03d}",
                "origin": territory.main_stop(home.insee).id,
                "destination": work.id,
                "seats": rng.choice((1, 2, 3, 3)),
                "departure_window": [dep, dep + 1200],
                "days": [0, 1, 2, 3, 4],
            }
        )
    return offers
