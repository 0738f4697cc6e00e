"""Request and response bodies of the API (pydantic), in the vocabulary of ``docs/schema.md``.

Bodies are checked here for shape and ranges; places, times and the rules between fields are
then checked by ``dispatcher.io`` exactly as for the CLI's files.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from dispatcher.io.fields import CONTROL

MAX_T = 2 * 86400
Seconds = Annotated[int, Field(ge=0, le=MAX_T)]
# HH:MM, HH:MM:SS, ISO 8601 with offset, or digits (ASCII only)
Time = (
    Annotated[int, Field(ge=0, le=MAX_T)]
    | Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[0-9:+\-TZhH. ]+$")]
)
Count = Annotated[int, Field(ge=0, le=100)]
RIDER_EXAMPLE = "rdr-3f9c0a71d2b84e65"
Id = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:@+-]+$")]
Text = Annotated[str, Field(max_length=200)]


def _admits_bool(annotation: Any) -> bool:
    if annotation is bool:
        return True
    return any(_admits_bool(a) for a in get_args(annotation))


class Strict(BaseModel):
    """A body with no unknown field, where true/false is never read as a number (pydantic would
    take ``{"time_limit_s": false}`` as 0) and no text holds a control character (NUL...)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and not _admits_bool(field.annotation):
            raise ValueError("true/false is not a value of this field")
        if isinstance(value, str) and CONTROL.search(value):
            raise ValueError("holds a control character; only printable text")
        return value


class Point(Strict):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


Place = Annotated[str, Field(min_length=1, max_length=200)] | Point


class Window(Strict):
    start: Time
    end: Time


class RequestIn(Strict):
    """One trip: places are stop ids, commune names or INSEE codes, or points; times HH:MM,
    ISO 8601 or seconds."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "r1",
                    "pickup": "Méaulte",
                    "dropoff": "Albert",
                    "seats": 1,
                    "pickup_window": {"start": "08:00", "end": "08:15"},
                    "name": "Mme Martin",
                    "phone": "0322000000",
                }
            ]
        },
    )

    id: Id
    pickup: Place
    dropoff: Place
    seats: Count = 1
    wheelchairs: Count = 0
    pickup_window: Window | None = None
    arrive_by: Time | None = None
    not_before: Time | None = None
    boarding_s: Annotated[int, Field(ge=0, le=3600)] | None = None
    alighting_s: Annotated[int, Field(ge=0, le=3600)] | None = None
    max_ride_s: Annotated[int, Field(ge=0, le=MAX_T)] | None = None
    priority: Annotated[int, Field(ge=1, le=100)] = 1
    return_of: Id | None = Field(
        default=None, description="Id of the outbound trip this one is the return of."
    )
    min_stay_s: Annotated[int, Field(ge=0, le=MAX_T)] | None = Field(
        default=None,
        description="A return: least time (s) from the outbound's drop-off to its pickup "
        "(default 900).",
    )
    name: Text = ""
    phone: Text = ""
    accepts_carpool: bool | None = Field(
        default=None, description="May ride with a carpool driver (default true)."
    )
    rider_category: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="Fare category of the rider (docs/fares.md: full, reduced, solidarity, "
        "child...; default full). A category granted on social criteria is personal data.",
    )
    fare_product: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="Fare product (single, on_board, card10, monthly...; default single).",
    )


class BookingIn(RequestIn):
    """A booking: a request whose id may be left out (one is then given)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "web-1042",
                    "pickup": "Bray-sur-Somme",
                    "dropoff": "Albert",
                    "arrive_by": "10:00",
                    "seats": 1,
                    "wheelchairs": 0,
                }
            ]
        },
    )

    id: Id | None = None  # type: ignore[assignment]  # optional here: the service gives one


REQUEST_BATCH_EXAMPLE: dict[str, Any] = {
    "requests": [
        {
            "id": "r1",
            "pickup": "Méaulte",
            "dropoff": "Albert",
            "pickup_window": {"start": "08:00", "end": "08:15"},
        },
        {
            "id": "r2",
            "pickup": "Acheux-en-Amiénois",
            "dropoff": "Albert",
            "arrive_by": "09:30",
            "seats": 2,
        },
    ]
}


class RequestBatchIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [REQUEST_BATCH_EXAMPLE]}
    )

    requests: list[RequestIn] = Field(min_length=1, max_length=5000)


class BreakIn(Strict):
    window: Window
    duration_s: Annotated[int, Field(ge=1, le=86400)]


class VehicleIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "bus-1",
                    "start": "Albert",
                    "shift": {"start": "07:00", "end": "19:00"},
                    "seats": 8,
                    "wheelchairs": 0,
                    "breaks": [{"window": {"start": "11:30", "end": "14:00"}, "duration_s": 2700}],
                    "kind": "minibus",
                    "name": "Jean Dupont",
                }
            ]
        },
    )

    id: Id
    start: Place
    end: Place | None = None
    shift: Window
    seats: Count = 8
    wheelchairs: Count = 0
    breaks: list[BreakIn] = Field(default_factory=list, max_length=10)
    cost_per_km: float = Field(default=0.5, ge=0, le=1000)
    cost_per_hour: float = Field(default=25.0, ge=0, le=10000)
    fixed_cost: float = Field(default=0.0, ge=0, le=100000)
    kind: Literal["minibus", "car", "volunteer"] = "minibus"
    name: Text = ""
    phone: Text = ""
    max_duration_s: int | None = Field(
        default=None, ge=1, le=2 * 86400, description="Driver's maximum duty time, seconds."
    )
    max_driving_s: int | None = Field(
        default=None,
        ge=1,
        le=86400,
        description="Maximum continuous driving (elapsed time between breaks), seconds.",
    )
    driving_break_s: int | None = Field(
        default=None,
        ge=1,
        le=86400,
        description="Shortest break that ends a stretch of driving, seconds (default 2700).",
    )


class DayIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "open", "note": "Market day in Albert"}]},
    )

    status: Literal["open", "closed"] = "open"
    note: Annotated[str, Field(max_length=2000)] = ""


class PlanJobIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"time_limit_s": 10, "seed": 0}]}
    )

    time_limit_s: float | None = Field(
        default=None, ge=0, le=3600, description="Solver time limit (default: the server's)."
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)


class ScenarioIn(PlanJobIn):
    """A what-if plan of a day's requests, with another fleet if given; never replaces the
    day's plan."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "day": "2030-01-07",
                    "time_limit_s": 5,
                    "seed": 1,
                    "vehicles": [
                        {
                            "id": "extra-1",
                            "start": "Albert",
                            "shift": {"start": "07:00", "end": "19:00"},
                        }
                    ],
                }
            ]
        },
    )

    day: date
    vehicles: list[VehicleIn] | None = Field(default=None, max_length=500)


# ---- responses ---------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": "InputError",
                    "where": "body.requests[0].seats",
                    "message": "must be a non-negative integer, got -1",
                }
            ]
        }
    )

    error: str
    where: str = ""
    message: str
    message_en: str | None = Field(
        None, description="The message in English, where ``message`` is French (a refusal)"
    )


class RefusalOut(ErrorOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": "Refused",
                    "where": "booking",
                    "status": "refused",
                    "request_id": "web-1042",
                    "reason": "displaced",
                    "message": "Réalisable seul, mais pas avec les autres réservations de la "
                    "journée.",
                    "message_en": "Feasible alone, but not together with the other bookings of the "
                    "day.",
                    "details": {},
                }
            ]
        }
    )

    status: Literal["refused"] = "refused"
    request_id: str
    reason: str
    message_en: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class StopPromise(BaseModel):
    place: str
    location_id: str
    planned: str | int
    window: dict[str, str | int]
    placed: Literal["street", "commune"] | None = Field(
        default=None,
        description="A postal address the geocoder placed less precisely than its house: on its "
        "street, or at the commune's main stop (absent when placed at the house).",
    )
    notice: str | None = Field(default=None, description="What to tell the rider (French).")
    notice_en: str | None = Field(default=None, description="The same in English.")


class FareOut(BaseModel):
    """The fare of a trip (docs/fares.md): what the rider pays, in cents and as shown."""

    product: str
    category: str
    amount_cents: int
    display: str = Field(description='The amount in French format, e.g. "2,50 €".')
    unit_cents: int
    passengers: int
    companions: int = Field(description="Wheelchair users' companions riding free.")
    zone: str
    mode: str
    incentive_cents: int | None = Field(
        default=None, description="A carpool: the territory's incentive to the driver."
    )


class TicketOut(BaseModel):
    """A trip ticket: its signed code (to show as text or as the QR code), its payment state and
    status."""

    code: str = Field(description="Signed by the service (HMAC-SHA256), checked on board.")
    payment: Literal["unpaid", "paid", "on_board"] = "unpaid"
    status: Literal["valid", "cancelled"] = "valid"
    qr_svg: str | None = Field(default=None, description="The code as a QR code (SVG).")


class TicketCheckIn(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"code": "DT1-T-FGUERDPP5G-20300108-1-G65QKMMZGVLW2BEFITHROZP5"}]
        },
    )

    code: Annotated[str, Field(min_length=1, max_length=200)]
    day: date | None = Field(default=None, description="The day of the check (default: today).")
    vehicle_id: Annotated[str, Field(max_length=100)] | None = None


class TicketCheckOut(BaseModel):
    result: Literal["valid", "already_used", "wrong_day", "cancelled", "forged", "unknown"]
    ok: bool
    message: str
    message_en: str
    day: str
    ticket: dict[str, Any] | None = None


class PaymentIn(Strict):
    payment: Literal["unpaid", "paid", "on_board"]


class CardIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"product": "card10"}]}
    )

    product: Annotated[str, Field(min_length=1, max_length=64)]
    valid_from: date | None = Field(default=None, description="A pass: its first day (today).")


class PromiseOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "accepted",
                    "request_id": "web-1042",
                    "vehicle_id": "bus-1",
                    "pickup": {
                        "place": "Bray-sur-Somme",
                        "location_id": "80136",
                        "planned": "2030-01-07T09:20:00+01:00",
                        "window": {
                            "start": "2030-01-07T08:53:00+01:00",
                            "end": "2030-01-07T09:38:00+01:00",
                        },
                    },
                    "dropoff": {
                        "place": "Albert",
                        "location_id": "80016",
                        "planned": "2030-01-07T09:40:00+01:00",
                        "window": {
                            "start": "2030-01-07T09:30:00+01:00",
                            "end": "2030-01-07T10:00:00+01:00",
                        },
                    },
                    "fare": {
                        "product": "single",
                        "category": "full",
                        "amount_cents": 200,
                        "display": "2,00 €",
                        "unit_cents": 200,
                        "passengers": 1,
                        "companions": 0,
                        "zone": "inside",
                        "mode": "minibus",
                    },
                }
            ]
        }
    )

    status: Literal["accepted"] = "accepted"
    request_id: str
    vehicle_id: str
    pickup: StopPromise
    dropoff: StopPromise
    fare: FareOut | None = None
    ticket: TicketOut | None = None
    replayed: bool = False


class RequestOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "r1",
                    "day": "2030-01-07",
                    "source": "batch",
                    "status": "pending",
                    "request": {
                        "id": "r1",
                        "pickup": "Méaulte",
                        "dropoff": "Albert",
                        "pickup_window": {"start": "08:00", "end": "08:15"},
                    },
                    "promise": None,
                    "refusal": None,
                    "created_at": "2030-01-06T16:00:00+00:00",
                    "updated_at": "2030-01-06T16:00:00+00:00",
                }
            ]
        }
    )

    id: str
    day: str
    source: Literal["batch", "booking"]
    status: Literal["pending", "accepted", "refused", "cancelled", "no_show"]
    request: dict[str, Any]
    promise: dict[str, Any] | None = None
    refusal: dict[str, Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ReturnTripOut(BaseModel):
    """What cancelling an outbound did to its return trip."""

    request_id: str
    status: Literal["pending", "accepted", "refused", "cancelled", "no_show"]
    action: Literal["kept", "cancelled"] = Field(
        description="kept: a trip of its own now (unlinked); cancelled: cancelled with it"
    )
    linked: bool = False


class CancelledOut(RequestOut):
    """A cancelled request, and what became of its return trip (None: it has none)."""

    return_trip: ReturnTripOut | None = None


class SubmittedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"day": "2030-01-07", "created": 2, "ids": ["r1", "r2"]}]}
    )

    day: str
    created: int
    ids: list[str]


class DayOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "day": "2030-01-07",
                    "status": "open",
                    "note": "",
                    "version": 3,
                    "has_plan": True,
                    "plan_updated_at": "2030-01-06T16:05:00+00:00",
                    "requests": {"accepted": 12, "refused": 1},
                }
            ]
        }
    )

    day: str
    status: str
    note: str
    version: int
    has_plan: bool
    plan_updated_at: str | None = None
    requests: dict[str, int]


class JobOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5f0c2a9e1b7d4c11",
                    "kind": "plan",
                    "day": "2030-01-07",
                    "status": "done",
                    "params": {"time_limit_s": 10, "seed": 0},
                    "result": {"served": 12, "refused": 1, "check_ok": True},
                    "error": None,
                    "created_at": "2030-01-06T16:00:00+00:00",
                    "started_at": "2030-01-06T16:00:00+00:00",
                    "finished_at": "2030-01-06T16:00:10+00:00",
                }
            ]
        }
    )

    id: str
    kind: str
    day: str
    status: Literal["queued", "running", "done", "failed"]
    params: dict[str, Any]
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class CheckOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"ok": True, "summary": "ok: 3 routes, 12 served, 1 refused", "violations": []}
            ]
        }
    )

    ok: bool
    summary: str
    violations: list[dict[str, str]]


class HealthOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "database": "ok"}]})

    status: str
    database: str


class VersionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"version": "0.1.0", "api": "v1", "database_revision": "0002", "database": "sqlite"}
            ]
        }
    )

    version: str
    api: str
    database_revision: str | None
    database: str


class WhoAmIOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": 3, "role": "portal", "name": "booking portal", "prefix": "dsp_Xk2a91cd"}
            ]
        }
    )

    id: int
    role: str
    name: str
    prefix: str
    vehicle_id: str | None = Field(default=None, description="A driver key: its vehicle")
    day: date | None = Field(default=None, description="A driver key: its service day")


PLAN_EXAMPLE: dict[str, Any] = {
    "schema": "dispatcher/plan/1",
    "day": "2030-01-07",
    "timezone": "Europe/Paris",
    "routes": [
        {
            "vehicle_id": "bus-1",
            "start": "2030-01-07T07:41:00+01:00",
            "end": "2030-01-07T09:02:00+01:00",
            "distance_m": 48210,
            "visits": [
                {
                    "request_id": "r1",
                    "kind": "pickup",
                    "location_id": "80523",
                    "arrival": "2030-01-07T08:00:00+01:00",
                    "start": "2030-01-07T08:00:00+01:00",
                    "departure": "2030-01-07T08:01:00+01:00",
                    "load": {"seats": 1, "wheelchairs": 0},
                    "ride_time_s": None,
                }
            ],
            "breaks": [],
        }
    ],
    "rejections": [],
    "kpis": {"served": 1},
    "stats": {"status": "solved", "status_detail": "ROUTING_SUCCESS_PARALLEL_CHEAPEST_INSERTION"},
}
GEOJSON_EXAMPLE: dict[str, Any] = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[2.648, 50.003], [2.642, 49.982]]},
            "properties": {"kind": "route", "vehicle_id": "bus-1"},
        }
    ],
}


# ---- carpool offers, matchings and volunteers --------------------------------------------------


HalfDay = Literal["am", "pm"]
RiderStatus = Literal["pending", "accepted", "refused"]


class CarpoolOfferIn(Strict):
    """A private driver's trip on the service day that riders may share: places as for requests,
    a departure window and/or an arrival window; the detour accepted is ``max_detour_share`` of
    the direct drive, capped at ``max_detour_cap_s``; with meeting points riders board and alight
    only there. ``driver_id`` is the offer's id within the day."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "driver_id": "c001",
                    "origin": "Mailly-Maillet",
                    "destination": "Albert",
                    "seats": 3,
                    "departure_window": {"start": "07:30", "end": "07:50"},
                    "max_detour_share": 0.25,
                    "max_detour_cap_s": 900,
                    "name": "M. Leroy",
                    "phone": "0611000000",
                }
            ]
        },
    )

    driver_id: Id
    origin: Place
    destination: Place
    seats: Annotated[int, Field(ge=1, le=8)] = 3
    departure_window: Window | None = None
    arrival_window: Window | None = None
    max_detour_share: float = Field(default=0.25, ge=0, le=5)
    max_detour_cap_s: Annotated[int, Field(ge=0, le=MAX_T)] = 900
    meeting_points: list[Place] = Field(default_factory=list, max_length=20)
    name: Text = ""
    phone: Text = ""


class CarpoolOfferBatchIn(Strict):
    """A batch of offers, all or nothing: ``{"offers": [...]}`` or the bare list."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "offers": [
                        {
                            "driver_id": "c001",
                            "origin": "Mailly-Maillet",
                            "destination": "Albert",
                            "seats": 3,
                            "departure_window": {"start": "07:30", "end": "07:50"},
                        },
                        {
                            "driver_id": "c002",
                            "origin": "Bray-sur-Somme",
                            "destination": "Méaulte",
                            "seats": 2,
                            "arrival_window": {"start": "08:15", "end": "08:30"},
                            "meeting_points": ["Bray-sur-Somme", "Morlancourt"],
                        },
                    ]
                }
            ]
        },
    )

    offers: list[CarpoolOfferIn] = Field(min_length=1, max_length=2000)

    @model_validator(mode="before")
    @classmethod
    def _bare_list(cls, data: Any) -> Any:
        return {"offers": data} if isinstance(data, list) else data


class CarpoolOfferOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "driver_id": "c001",
                    "day": "2030-01-07",
                    "status": "active",
                    "offer": {
                        "driver_id": "c001",
                        "origin": "Mailly-Maillet",
                        "destination": "Albert",
                        "seats": 3,
                        "departure_window": {"start": "07:30", "end": "07:50"},
                    },
                    "created_at": "2030-01-06T16:00:00+00:00",
                    "updated_at": "2030-01-06T16:00:00+00:00",
                }
            ]
        }
    )

    driver_id: str
    day: str
    status: Literal["active", "withdrawn"]
    offer: dict[str, Any]
    created_at: str | None = None
    updated_at: str | None = None


class OffersSubmittedOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"day": "2030-01-07", "created": 2, "ids": ["c001", "c002"]}]
        }
    )

    day: str
    created: int
    ids: list[str]


class VolunteerIn(Strict):
    """A volunteer driver with their own car: available on the half-days given (am 07:00-12:30,
    pm 13:30-19:00), from and back to ``home``, serving places within ``max_km_from_home`` km by
    road; reimbursed ``cost_per_km`` (default: the volunteer mode's)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "vol-martine",
                    "home": "Acheux-en-Amiénois",
                    "half_days": ["am", "pm"],
                    "seats": 3,
                    "wheelchairs": 0,
                    "max_km_from_home": 25,
                    "name": "Martine B.",
                    "phone": "0322111111",
                }
            ]
        },
    )

    id: Id
    home: Place
    half_days: list[HalfDay] = Field(
        default_factory=lambda: list[HalfDay](["am"]), min_length=1, max_length=2
    )
    seats: Annotated[int, Field(ge=1, le=8)] = 3
    wheelchairs: Count = 0
    max_km_from_home: float = Field(default=30.0, gt=0, le=500)
    cost_per_km: float | None = Field(default=None, ge=0, le=100)
    name: Text = ""
    phone: Text = ""


class CarpoolMatchIn(Strict):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"max_group": 3, "time_limit_s": 5}]}
    )

    max_group: Annotated[int, Field(ge=1, le=3)] = Field(
        default=3, description="Riders per driver considered (1: one rider each)."
    )
    time_limit_s: float = Field(
        default=5.0, ge=0, le=60, description="Time limit of the matcher's integer programme."
    )
    statuses: list[RiderStatus] = Field(
        default_factory=lambda: list[RiderStatus](["pending", "accepted", "refused"]),
        min_length=1,
        max_length=3,
        description="Requests of the day to match, by status (refused bookings are never riders).",
    )


class PlaceTime(BaseModel):
    place: str
    location_id: str
    time: str


class MatchedRider(BaseModel):
    request_id: str
    seats: int
    pickup: PlaceTime
    dropoff: PlaceTime


class MatchStop(BaseModel):
    request_id: str
    kind: Literal["pickup", "dropoff"]
    place: str
    location_id: str
    time: str


class CarpoolMatchOut(BaseModel):
    driver_id: str
    name: str = ""
    origin: PlaceTime
    destination: PlaceTime
    riders: list[MatchedRider]
    stops: list[MatchStop]
    direct_s: int
    detour_s: int
    detour_m: int


class UnmatchedOut(BaseModel):
    request_id: str
    reason: str
    message: str
    message_en: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


MATCHING_EXAMPLE: dict[str, Any] = {
    "day": "2030-01-07",
    "version": 5,
    "stale": False,
    "created_at": "2030-01-06T16:00:00+00:00",
    "riders": 2,
    "drivers": 1,
    "matched": 1,
    "optimal": True,
    "total_detour_s": 240,
    "check": {
        "ok": True,
        "summary": "OK: 1 served, 1 refused, 1 vehicles, 23.9 km, 0.37 h",
        "violations": [],
    },
    "declined_carpool": ["r7"],
    "matches": [
        {
            "driver_id": "c001",
            "name": "M. Leroy",
            "origin": {
                "place": "Mailly-Maillet",
                "location_id": "80499",
                "time": "2030-01-07T07:36:00+01:00",
            },
            "destination": {
                "place": "Albert",
                "location_id": "80016",
                "time": "2030-01-07T07:58:00+01:00",
            },
            "riders": [
                {
                    "request_id": "r3",
                    "seats": 1,
                    "pickup": {
                        "place": "Auchonvillers",
                        "location_id": "80039",
                        "time": "2030-01-07T07:40:00+01:00",
                    },
                    "dropoff": {
                        "place": "Albert",
                        "location_id": "80016",
                        "time": "2030-01-07T07:57:00+01:00",
                    },
                }
            ],
            "stops": [
                {
                    "request_id": "r3",
                    "kind": "pickup",
                    "place": "Auchonvillers",
                    "location_id": "80039",
                    "time": "2030-01-07T07:40:00+01:00",
                },
                {
                    "request_id": "r3",
                    "kind": "dropoff",
                    "place": "Albert",
                    "location_id": "80016",
                    "time": "2030-01-07T07:57:00+01:00",
                },
            ],
            "direct_s": 1080,
            "detour_s": 240,
            "detour_m": 1900,
        }
    ],
    "unmatched": [
        {
            "request_id": "r4",
            "reason": "pickup_unreachable",
            "message": "Aucun véhicule ne peut atteindre le lieu de prise en charge dans le "
            "créneau demandé.",
            "message_en": "No vehicle can reach the pickup within the requested window.",
            "details": {},
        }
    ],
}


class CarpoolMatchingOut(BaseModel):
    """A carpool matching of a day: who rides with whom, when and where, the detour of each
    driver, and each rider left with the reason (French and English)."""

    model_config = ConfigDict(json_schema_extra={"examples": [MATCHING_EXAMPLE]})

    day: str
    version: int = Field(description="The day's version the matching was computed at.")
    stale: bool = Field(description="The day's requests or offers changed since.")
    created_at: str | None = None
    riders: int
    drivers: int
    matched: int
    optimal: bool
    total_detour_s: int
    check: CheckOut
    declined_carpool: list[str] = Field(
        default_factory=list, description="Requests of the day that do not accept carpools."
    )
    matches: list[CarpoolMatchOut]
    unmatched: list[UnmatchedOut]


# ---- personal data ----------------------------------------------------------------------------


class RiderIn(Strict):
    """A person, by phone number or by rider id (one of them)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"phone": "03 22 00 00 00"}, {"rider_id": RIDER_EXAMPLE}]},
    )

    phone: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    rider_id: Annotated[str, Field(pattern=r"^rdr-[0-9a-f]{16}$")] | None = None

    @model_validator(mode="after")
    def _one(self) -> RiderIn:
        if (self.phone is None) == (self.rider_id is None):
            raise ValueError("give a phone number or a rider id (one of them)")
        return self


class AccessEntryOut(BaseModel):
    """One read of personal data (or an export, an erasure, a purge): who, what, when. Persons
    appear only as rider ids."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "at": "2030-01-06T16:00:00+00:00",
                    "key_id": 1,
                    "role": "operator",
                    "action": "plans.manifest",
                    "day": "2030-01-07",
                    "records": 24,
                    "rider_ids": [RIDER_EXAMPLE],
                }
            ]
        }
    )

    id: int
    at: str | None
    key_id: int | None
    role: str
    action: str
    day: str | None
    records: int
    rider_ids: list[str]


class PersonalDataOut(BaseModel):
    """Everything stored about a person (schema ``dispatcher/personal-data/1``): their requests
    and bookings with promises and refusals, their trips in the stored plans, carpool offers and
    matches, their volunteer record, and who read their data. Anyone else in these records
    appears by a pseudonym."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "schema": "dispatcher/personal-data/1",
                    "rider_id": RIDER_EXAMPLE,
                    "exported_at": "2030-01-08T10:00:00+00:00",
                    "retention_days": 90,
                    "requests": [],
                    "trips": [],
                    "carpool_offers": [],
                    "carpool_matches": [],
                    "volunteer": [],
                    "vehicles": [],
                    "access_log": [],
                }
            ]
        }
    )

    schema_: str = Field(alias="schema")
    rider_id: str
    exported_at: str | None
    retention_days: int
    requests: list[RequestOut]
    trips: list[dict[str, Any]]
    carpool_offers: list[CarpoolOfferOut]
    carpool_matches: list[dict[str, Any]]
    volunteer: list[dict[str, Any]]
    vehicles: list[dict[str, Any]]
    access_log: list[AccessEntryOut]


class ErasureOut(BaseModel):
    """What an erasure did, in counts (``found``: whether anything was stored about the person)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rider_id": RIDER_EXAMPLE,
                    "found": True,
                    "counts": {"cancelled": 1, "requests": 3, "plans": 2, "problems": 2},
                }
            ]
        }
    )

    rider_id: str
    found: bool
    counts: dict[str, int]
