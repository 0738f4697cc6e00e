"""Driver manifests: for each vehicle, the day in order, as CSV and as a printable HTML page.

A manifest is derived from the Problem and the Plan alone. Each route becomes a list of lines:
leaving the start depot, every visit (who boards at a pickup, who alights at a drop-off, with
the seats and wheelchair places of the party, its name and phone number when given), every
break, and the return to the end depot. Times are local wall-clock ``HH:MM`` (the model's
seconds since midnight of the service day; a time after midnight gets ``+1``).

The CSV has one line per manifest line for the whole fleet (a ``vehicle_id`` column), made for
French Excel by default (:mod:`dispatcher.io.sheets`); the HTML
page has one section per vehicle with a page break between vehicles, French by default
(``lang="en"`` for English). Every text from the input is HTML-escaped.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from dispatcher.errors import InputError
from dispatcher.io.sheets import check_style, csv_text, write_csv
from dispatcher.model import DAY_S, Plan, Problem, Request, Route, hhmm

Lang = Literal["fr", "en"]
LANGS: tuple[str, ...] = ("fr", "en")
Action = Literal["start", "pickup", "dropoff", "break", "end"]

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Feuille de route",
        "day": "Journée du",
        "vehicle": "Véhicule",
        "driver": "Conducteur",
        "phone": "Téléphone",
        "shift": "Service",
        "capacity": "Capacité",
        "seats": "places assises",
        "wheelchair_places": "places fauteuil",
        "start": "Départ du dépôt",
        "end": "Retour au dépôt",
        "pickup": "Montée",
        "dropoff": "Descente",
        "break": "Pause",
        "wheelchair": "Fauteuil roulant",
        "appointment": "Rendez-vous à",
        "time": "Heure",
        "arrival": "Arrivée",
        "place": "Lieu",
        "action": "Action",
        "passenger": "Passager",
        "request": "Réservation",
        "party": "Personnes",
        "notes": "Remarques",
        "fare": "Tarif / titre",
        "ticket": "Code du titre",
        "load": "À bord après",
        "minutes": "min",
        "no_route": "Aucune course ce jour.",
        "summary": "{n} réservations, {km:.1f} km, de {start} à {end}",
        "refused": "Demandes refusées",
        "reason": "Motif",
        "lang": "fr",
    },
    "en": {
        "title": "Driver's manifest",
        "day": "Service day",
        "vehicle": "Vehicle",
        "driver": "Driver",
        "phone": "Phone",
        "shift": "Shift",
        "capacity": "Capacity",
        "seats": "seats",
        "wheelchair_places": "wheelchair places",
        "start": "Leave the depot",
        "end": "Back at the depot",
        "pickup": "Boarding",
        "dropoff": "Alighting",
        "break": "Break",
        "wheelchair": "Wheelchair",
        "appointment": "Appointment at",
        "time": "Time",
        "arrival": "Arrival",
        "place": "Place",
        "action": "Action",
        "passenger": "Passenger",
        "request": "Booking",
        "party": "Party",
        "notes": "Notes",
        "fare": "Fare / ticket",
        "ticket": "Ticket code",
        "load": "On board after",
        "minutes": "min",
        "no_route": "No trips this day.",
        "summary": "{n} bookings, {km:.1f} km, from {start} to {end}",
        "refused": "Refused requests",
        "reason": "Reason",
        "lang": "en",
    },
}

CSV_COLUMNS: tuple[str, ...] = (
    "vehicle_id",
    "line",
    "stop",
    "action",
    "label",
    "arrival",
    "time",
    "departure",
    "place_id",
    "place",
    "request_id",
    "name",
    "phone",
    "seats",
    "wheelchairs",
    "wheelchair_note",
    "appointment",
    "load_seats",
    "load_wheelchairs",
    "duration_min",
    "fare",
    "fare_cents",
    "ticket",
)
# The CSV headers a person reads (``--csv excel``); ``--csv machine`` keeps CSV_COLUMNS
CSV_HEADERS: dict[str, dict[str, str]] = {
    "fr": {
        "vehicle_id": "Véhicule",
        "line": "Ligne",
        "stop": "Arrêt n°",
        "action": "Code action",
        "label": "Action",
        "arrival": "Arrivée",
        "time": "Heure",
        "departure": "Départ",
        "place_id": "Code lieu",
        "place": "Lieu",
        "request_id": "Réservation",
        "name": "Passager",
        "phone": "Téléphone",
        "seats": "Places assises",
        "wheelchairs": "Places fauteuil",
        "wheelchair_note": "Fauteuil roulant",
        "appointment": "Rendez-vous à",
        "load_seats": "À bord après (assis)",
        "load_wheelchairs": "À bord après (fauteuils)",
        "duration_min": "Durée (min)",
        "fare": "Tarif",
        "fare_cents": "Tarif (centimes)",
        "ticket": "Titre attendu",
    },
    "en": {
        "vehicle_id": "Vehicle",
        "line": "Line",
        "stop": "Stop no.",
        "action": "Action code",
        "label": "Action",
        "arrival": "Arrival",
        "time": "Time",
        "departure": "Departure",
        "place_id": "Place code",
        "place": "Place",
        "request_id": "Booking",
        "name": "Passenger",
        "phone": "Phone",
        "seats": "Seats",
        "wheelchairs": "Wheelchair places",
        "wheelchair_note": "Wheelchair",
        "appointment": "Appointment at",
        "load_seats": "On board after (seated)",
        "load_wheelchairs": "On board after (wheelchairs)",
        "duration_min": "Duration (min)",
        "fare": "Fare",
        "fare_cents": "Fare (cents)",
        "ticket": "Expected ticket",
    },
}


# How people call a vehicle, on its manifest and on the map: its mode, then its name
MODE_WORDS = {
    "fr": {"minibus": "Minibus", "volunteer": "Bénévole", "carpool": "Covoiturage"},
    "en": {"minibus": "Minibus", "volunteer": "Volunteer", "carpool": "Carpool"},
}


def vehicle_label(problem: Problem, route: Route | None, lang: str = "fr", vid: str = "") -> str:
    """A vehicle as people call it: its mode, then its name (and id), e.g. "Minibus v01",
    "Covoiturage c010", "Minibus Jean (v02)" (the vehicle of ``route``, else ``vid``)."""
    from dispatcher.solver.kpis import route_mode, vehicle_mode

    v = problem.vehicle(route.vehicle_id if route is not None else vid)
    mode = route_mode(route, v) if route is not None else vehicle_mode(v)
    word = MODE_WORDS.get(lang, MODE_WORDS["fr"]).get(mode, mode)
    if v.name and v.name != v.id:
        named = v.name if v.name.lower().startswith(word.lower()) else f"{word} {v.name}"
        return f"{named} ({v.id})"
    return f"{word} {v.id}"


def time_of_day(seconds: int) -> str:
    """Seconds since midnight -> local ``HH:MM`` to the minute (``HH:MM +1`` the day after)."""
    days, rest = divmod(int(seconds), DAY_S)
    text = hhmm(rest - rest % 60)
    return text if days == 0 else f"{text} +{days}"


def _lang(lang: str) -> dict[str, str]:
    if lang not in LABELS:
        raise InputError(f"must be one of {', '.join(LANGS)}, got {lang!r}", "lang")
    return LABELS[lang]


@dataclass(frozen=True)
class ManifestLine:
    """One line of a driver's day. ``stop`` numbers the places in order (consecutive visits at
    the same place share a number); ``seats``/``wheelchairs`` are the party's, ``load_*`` the
    load after the line."""

    vehicle_id: str
    line: int
    stop: int
    action: Action
    arrival_s: int
    time_s: int  # start of service (for a break: its start)
    departure_s: int
    place_id: str = ""
    place: str = ""
    request_id: str = ""
    name: str = ""
    phone: str = ""
    seats: int = 0
    wheelchairs: int = 0
    appointment_s: int | None = None
    load_seats: int = 0
    load_wheelchairs: int = 0
    duration_s: int = 0
    fare: str = ""  # a pickup: the fare the rider pays (product and amount)
    fare_cents: int | None = None
    ticket: str = ""  # a pickup: the ticket code expected on board


@dataclass(frozen=True)
class VehicleManifest:
    vehicle_id: str
    name: str
    label: dict[str, str]  # lang -> the vehicle as people call it (``vehicle_label``)
    phone: str
    seats: int
    wheelchairs: int
    shift_start_s: int
    shift_end_s: int
    distance_m: int
    requests: int
    lines: tuple[ManifestLine, ...]


@dataclass(frozen=True)
class OnBoard:
    """What the driver sees at a rider's pickup: the fare (``"Ticket unitaire · 2,00 €"``), its
    amount, and the code of the ticket expected on board."""

    fare: str = ""
    fare_cents: int | None = None
    ticket: str = ""


def on_board(
    fares: Mapping[str, Any] | None,
    tickets: Mapping[str, str] | None = None,
    rules: Any = None,
    lang: str = "fr",
) -> dict[str, OnBoard]:
    """Request id -> :class:`OnBoard` from the trips' fares (``dispatcher.fares.Fare``; product
    names from ``rules`` when given) and their ticket codes."""
    out: dict[str, OnBoard] = {}
    for rid in set(fares or {}) | set(tickets or {}):
        f = (fares or {}).get(rid)
        text, cents = "", None
        if f is not None:
            prod = rules.products.get(f.product) if rules is not None else None
            name = (prod.name_en or prod.name if lang == "en" else prod.name) if prod else ""
            if not name:
                name = f.product
            text, cents = f"{name} · {f.display}", f.amount_cents
        out[rid] = OnBoard(text, cents, (tickets or {}).get(rid, ""))
    return out


def _place_name(problem: Problem, location_id: str) -> str:
    loc = problem.location(location_id)
    return loc.name or loc.id


def _route_lines(
    problem: Problem, route: Route, onboard: Mapping[str, OnBoard] | None = None
) -> list[ManifestLine]:
    v = problem.vehicle(route.vehicle_id)
    out: list[ManifestLine] = []
    stop = 0
    last_place: str | None = None

    def add(**kw: object) -> None:
        out.append(ManifestLine(vehicle_id=route.vehicle_id, line=len(out) + 1, stop=stop, **kw))  # type: ignore[arg-type]

    depart = route.start_s
    add(
        action="start",
        arrival_s=route.start_s,
        time_s=depart,
        departure_s=depart,
        place_id=v.start,
        place=_place_name(problem, v.start),
    )
    last_place = v.start
    breaks_after: dict[int, list[tuple[int, int]]] = {}
    for b in route.breaks:
        breaks_after.setdefault(b.after, []).append((b.start_s, b.duration_s))

    def add_breaks(after: int, load: tuple[int, int]) -> None:
        for start, dur in sorted(breaks_after.get(after, [])):
            add(
                action="break",
                arrival_s=start,
                time_s=start,
                departure_s=start + dur,
                load_seats=load[0],
                load_wheelchairs=load[1],
                duration_s=dur,
            )

    load = (0, 0)
    add_breaks(-1, load)
    for k, vis in enumerate(route.visits):
        r: Request = problem.request(vis.request_id)
        if vis.location_id != last_place:
            stop += 1
            last_place = vis.location_id
        load = (vis.seats, vis.wheelchairs)
        ob = (onboard or {}).get(r.id) if vis.kind == "pickup" else None
        add(
            action=vis.kind,
            arrival_s=vis.arrival_s,
            time_s=vis.start_s,
            departure_s=vis.departure_s,
            place_id=vis.location_id,
            place=_place_name(problem, vis.location_id),
            request_id=r.id,
            name=r.name,
            phone=r.phone,
            seats=r.seats,
            wheelchairs=r.wheelchairs,
            appointment_s=r.arrive_by_s if vis.kind == "dropoff" else None,
            load_seats=vis.seats,
            load_wheelchairs=vis.wheelchairs,
            fare=ob.fare if ob else "",
            fare_cents=ob.fare_cents if ob else None,
            ticket=ob.ticket if ob else "",
        )
        add_breaks(k, load)
    # breaks recorded after the last visit index (or beyond) that were not yet listed
    for after in sorted(a for a in breaks_after if a >= len(route.visits)):
        add_breaks(after, load)
    if v.end != last_place:
        stop += 1
    add(
        action="end",
        arrival_s=route.end_s,
        time_s=route.end_s,
        departure_s=route.end_s,
        place_id=v.end,
        place=_place_name(problem, v.end),
    )
    return out


def build_manifests(
    problem: Problem,
    plan: Plan,
    include_idle: bool = False,
    onboard: Mapping[str, OnBoard] | None = None,
) -> list[VehicleManifest]:
    """One manifest per route of the plan (in the order of the fleet); with ``include_idle``,
    also one for every vehicle without a route or visit; ``onboard``: each pickup's fare and
    ticket code (:func:`on_board`)."""
    routes = {r.vehicle_id: r for r in plan.routes}
    for vid in routes:
        try:
            problem.vehicle(vid)
        except KeyError:
            raise InputError(
                f"the plan has a route for unknown vehicle {vid!r}", "plan.routes"
            ) from None
    out = []
    for v in problem.vehicles:
        route = routes.get(v.id)
        if route is None or not route.visits:
            if not include_idle:
                continue
            lines: list[ManifestLine] = []
            dist = 0
        else:
            lines = _route_lines(problem, route, onboard)
            dist = route.distance_m
        out.append(
            VehicleManifest(
                vehicle_id=v.id,
                name=v.name,
                label={lang: vehicle_label(problem, route, lang, v.id) for lang in LANGS},
                phone=v.phone,
                seats=v.seats,
                wheelchairs=v.wheelchairs,
                shift_start_s=v.shift.start_s,
                shift_end_s=v.shift.end_s,
                distance_m=dist,
                requests=sum(1 for ln in lines if ln.action == "pickup"),
                lines=tuple(lines),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def manifest_rows(
    problem: Problem, plan: Plan, lang: str = "fr", onboard: Mapping[str, OnBoard] | None = None
) -> list[dict[str, str | int]]:
    """The CSV rows (one per manifest line, every vehicle), with ``CSV_COLUMNS`` as keys."""
    t = _lang(lang)
    rows: list[dict[str, str | int]] = []
    for m in build_manifests(problem, plan, onboard=onboard):
        for ln in m.lines:
            rows.append(
                {
                    "vehicle_id": ln.vehicle_id,
                    "line": ln.line,
                    "stop": ln.stop,
                    "action": ln.action,
                    "label": t[ln.action],
                    "arrival": time_of_day(ln.arrival_s),
                    "time": time_of_day(ln.time_s),
                    "departure": time_of_day(ln.departure_s),
                    "place_id": ln.place_id,
                    "place": ln.place,
                    "request_id": ln.request_id,
                    "name": ln.name,
                    "phone": ln.phone,
                    "seats": ln.seats if ln.request_id else "",
                    "wheelchairs": ln.wheelchairs if ln.request_id else "",
                    "wheelchair_note": t["wheelchair"] + f" x{ln.wheelchairs}"
                    if ln.wheelchairs
                    else "",
                    "appointment": time_of_day(ln.appointment_s)
                    if ln.appointment_s is not None
                    else "",
                    "load_seats": ln.load_seats,
                    "load_wheelchairs": ln.load_wheelchairs,
                    "duration_min": round(ln.duration_s / 60) if ln.action == "break" else "",
                    "fare": ln.fare,
                    "fare_cents": "" if ln.fare_cents is None else ln.fare_cents,
                    "ticket": ln.ticket,
                }
            )
    return rows


def manifest_csv(
    problem: Problem,
    plan: Plan,
    lang: str = "fr",
    style: str = "excel",
    onboard: Mapping[str, OnBoard] | None = None,
) -> str:
    """The CSV text: for French Excel by default (``style="machine"``: ``,``, no BOM, the
    column keys as headers; see :mod:`dispatcher.io.sheets`)."""
    rows = manifest_rows(problem, plan, lang, onboard)
    return csv_text(rows, CSV_COLUMNS, check_style(style, "style"), CSV_HEADERS[lang])


def write_manifest_csv(
    problem: Problem,
    plan: Plan,
    path: str | Path,
    lang: str = "fr",
    style: str = "excel",
    onboard: Mapping[str, OnBoard] | None = None,
) -> Path:
    rows = manifest_rows(problem, plan, lang, onboard)
    return write_csv(path, rows, CSV_COLUMNS, check_style(style, "style"), CSV_HEADERS[lang])


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; margin: 1.5em; color: #111; }
h1 { font-size: 16pt; margin: 0 0 .2em 0; }
.meta { margin: 0 0 .8em 0; color: #333; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #999; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
tr.pickup td.action { font-weight: bold; color: #05612b; }
tr.dropoff td.action { font-weight: bold; color: #8a1c1c; }
tr.break td, tr.start td, tr.end td { background: #f6f6f6; font-style: italic; }
.wheelchair { font-weight: bold; }
td.fare { white-space: nowrap; }
td.ticket code { font-size: 9pt; word-break: break-all; }
section.vehicle { page-break-after: always; break-after: page; }
section.vehicle:last-of-type { page-break-after: auto; break-after: auto; }
@media print { body { margin: 0; } }
"""


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def manifest_html(
    problem: Problem,
    plan: Plan,
    lang: str = "fr",
    title: str | None = None,
    onboard: Mapping[str, OnBoard] | None = None,
) -> str:
    """A printable page: one section per vehicle with a route, a page break between vehicles;
    with ``onboard``, each pickup's fare and the ticket code expected."""
    t = _lang(lang)
    day = problem.day.isoformat() if problem.day else ""
    heading = title or t["title"]
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{t["lang"]}"><head><meta charset="utf-8">',
        f"<title>{_e(heading)}{' ' + _e(day) if day else ''}</title>",
        f"<style>{_CSS}</style></head><body>",
    ]
    manifests = build_manifests(problem, plan, onboard=onboard)
    paying = bool(onboard)
    tickets = any(ob.ticket for ob in (onboard or {}).values())
    if not manifests:
        parts.append(f"<p>{_e(t['no_route'])}</p>")
    for m in manifests:
        parts.append(
            f'<section class="vehicle" id="vehicle-{_e(m.vehicle_id)}" '
            f'data-vehicle="{_e(m.vehicle_id)}">'
        )
        parts.append(f"<h1>{_e(heading)} · {_e(m.label[t['lang']])}</h1>")
        meta = []
        if day:
            meta.append(f"{_e(t['day'])} {_e(day)}")
        meta.append(f"{_e(t['shift'])} {time_of_day(m.shift_start_s)}–{time_of_day(m.shift_end_s)}")
        cap = f"{m.seats} {t['seats']}" + (
            f", {m.wheelchairs} {t['wheelchair_places']}" if m.wheelchairs else ""
        )
        meta.append(
            f"{_e(t['capacity'])} : {_e(cap)}"
            if lang == "fr"
            else f"{_e(t['capacity'])}: {_e(cap)}"
        )
        if m.phone:
            meta.append(f"{_e(t['phone'])} {_e(m.phone)}")
        start = m.lines[0].time_s if m.lines else m.shift_start_s
        end = m.lines[-1].time_s if m.lines else m.shift_end_s
        meta.append(
            _e(
                t["summary"].format(
                    n=m.requests,
                    km=m.distance_m / 1000,
                    start=time_of_day(start),
                    end=time_of_day(end),
                )
            )
        )
        parts.append(f'<p class="meta">{" · ".join(meta)}</p>')
        parts.append(
            "<table><thead><tr>"
            + "".join(
                f"<th>{_e(t[k])}</th>"
                for k in (
                    "time",
                    "arrival",
                    "place",
                    "action",
                    "request",
                    "passenger",
                    "phone",
                    "party",
                    "notes",
                    "load",
                    *(("fare",) if paying else ()),
                    *(("ticket",) if tickets else ()),
                )
            )
            + "</tr></thead><tbody>"
        )
        for ln in m.lines:
            notes = []
            party = ""
            if ln.request_id:
                party = f"{ln.seats}"
                if ln.wheelchairs:
                    party += (
                        f" + {ln.wheelchairs} FR" if lang == "fr" else f" + {ln.wheelchairs} WC"
                    )
                    notes.append(
                        f'<span class="wheelchair">{_e(t["wheelchair"])} ×{ln.wheelchairs}</span>'
                    )
                if ln.appointment_s is not None:
                    notes.append(f"{_e(t['appointment'])} {time_of_day(ln.appointment_s)}")
            if ln.action == "break":
                notes.append(f"{round(ln.duration_s / 60)} {_e(t['minutes'])}")
            load = f"{ln.load_seats}" + (f" + {ln.load_wheelchairs}" if ln.load_wheelchairs else "")
            parts.append(
                f'<tr class="{ln.action}" data-request="{_e(ln.request_id)}">'
                f"<td>{time_of_day(ln.time_s)}</td><td>{time_of_day(ln.arrival_s)}</td>"
                f"<td>{_e(ln.place)}</td>"
                f'<td class="action">{_e(t[ln.action])}</td><td>{_e(ln.request_id)}</td>'
                f"<td>{_e(ln.name)}</td>"
                f"<td>{_e(ln.phone)}</td><td>{_e(party)}</td><td>{'; '.join(notes)}</td>"
                f"<td>{_e(load)}</td>"
                + (f'<td class="fare">{_e(ln.fare)}</td>' if paying else "")
                + (f'<td class="ticket"><code>{_e(ln.ticket)}</code></td>' if tickets else "")
                + "</tr>"
            )
        parts.append("</tbody></table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_manifest_html(
    problem: Problem,
    plan: Plan,
    path: str | Path,
    lang: str = "fr",
    onboard: Mapping[str, OnBoard] | None = None,
) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(manifest_html(problem, plan, lang, onboard=onboard), encoding="utf-8")
    return p


def manifests_as_dicts(manifests: Sequence[VehicleManifest]) -> list[dict[str, object]]:
    """Plain dicts (for JSON answers of the API)."""
    return [asdict(m) for m in manifests]
