"""The bodies and answers of the day as it happens (vehicles' events, the live day, rider
notifications, a manual move): the contract the driver's page and the operator's console use."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal[
    "position", "arrived", "departed", "boarded", "no_show", "dropped_off", "unavailable", "delayed"
]


class EventIn(BaseModel):
    """An event of a vehicle. ``event_id``: the client's own id of it (a replay of the same event
    is answered 200 with the stored one; another event under the same id is a 409)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "bus-1-0001",
                    "type": "boarded",
                    "time": "2026-12-03T09:12:00+01:00",
                    "request_id": "r-17",
                    "passengers": 2,
                }
            ]
        },
    )

    event_id: str = Field(min_length=1, max_length=100)
    type: EventType
    time: str = Field(description="ISO 8601 with its offset, e.g. 2026-12-03T09:12:00+01:00")
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    request_id: str | None = Field(default=None, max_length=100)
    passengers: int | None = Field(
        default=None, ge=0, le=50, description="boarded: the actual count (a companion...)"
    )
    delay_min: float | None = Field(default=None, ge=0, le=360)
    note: str | None = Field(default=None, max_length=500)


class StoredEventOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    event_id: str
    type: EventType
    time: str
    seq: int
    vehicle_id: str
    sent_by: dict[str, Any]
    received_at: str | None = None


class Position(BaseModel):
    lon: float
    lat: float
    time: str


class Window(BaseModel):
    start: str
    end: str


class StopOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: Literal["pickup", "dropoff", "break", "depot"]
    request_id: str | None
    place_name: str | None
    lon: float | None
    lat: float | None
    planned: str | None
    eta: str | None
    promised_window: Window | None
    passengers: int
    wheelchair: bool
    done: bool


class LiveVehicleOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    vehicle_id: str
    name: str
    position: Position | None
    status: Literal["planned", "on_road", "unavailable", "done"]
    delay_s: int
    next_stops: list[StopOut]


class AlertOut(BaseModel):
    kind: Literal[
        "late",
        "broken_promise",
        "return_before_outbound",
        "no_show",
        "unavailable",
        "refused_after_promise",
    ]
    vehicle_id: str | None
    request_id: str | None
    message: str = Field(description="In French, for the operator")
    minutes: int | None


class LiveBookingOut(BaseModel):
    request_id: str
    state: Literal["promised", "on_board", "done", "no_show", "refused", "cancelled"]
    vehicle_id: str | None
    promised_window: Window | None
    eta: str | None


class LiveOut(BaseModel):
    day: str
    as_of: str
    vehicles: list[LiveVehicleOut]
    alerts: list[AlertOut]
    bookings: list[LiveBookingOut]


class EventAnswerOut(BaseModel):
    event: StoredEventOut
    live: LiveVehicleOut


class NotificationOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    day: str
    request_id: str
    rider_ref: str = Field(description="The rider id (keyed hash of the phone), never the number")
    kind: str
    message: str = Field(description="In French, for the rider")
    created_at: str | None
    sent_at: str | None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vehicle_id: str = Field(min_length=1, max_length=100)
