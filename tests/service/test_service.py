"""The application layer without HTTP: the use cases called as plain Python, as the CLI or
another host would, with the service's clock set by the test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dispatcher.errors import InputError
from dispatcher.service.app import Service
from dispatcher.service.context import Context, FixedClock
from dispatcher.service.settings import Settings
from dispatcher.store import KeyInfo

DAY = date(2030, 1, 8)
FLEET = [
    {"id": "bus-1", "start": "Albert", "shift": {"start": "07:00", "end": "19:00"}, "seats": 8}
]
OPERATOR = KeyInfo(1, "operator", "test", "x")


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[Service]:
    clock = FixedClock(
        datetime(2030, 1, 7, 12, 0, tzinfo=ZoneInfo("Europe/Paris"))
    )  # the day before, noon
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'd.db'}", solver_processes=False, plan_time_limit_s=1
    )
    svc = Service(Context(settings, clock=clock))
    try:
        svc.days.put(DAY, "open")
        for v in FLEET:
            svc.fleet.put(v)
        yield svc
    finally:
        svc.close()


def test_a_batch_is_planned_by_a_job_and_the_plan_passes_the_checker(service: Service) -> None:
    reqs = [
        {
            "id": "r1",
            "pickup": "Méaulte",
            "dropoff": "Albert",
            "pickup_window": {"start": "08:00", "end": "08:15"},
        },
        {"id": "r2", "pickup": "Albert", "dropoff": "Bray-sur-Somme", "arrive_by": "10:00"},
    ]
    assert service.days.submit_requests(DAY, reqs, OPERATOR) == ["r1", "r2"]
    job = service.jobs.start_job("plan", DAY, {"time_limit_s": 1, "seed": 0}, OPERATOR)
    deadline = time.monotonic() + 120
    while (
        service.jobs.get(job["id"], OPERATOR)["status"] in ("queued", "running")
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    done = service.jobs.get(job["id"], OPERATOR)
    assert done["status"] == "done", done
    assert done["result"]["served"] == 2 and done["result"]["check_ok"] is True
    assert service.plans.check(DAY, OPERATOR)["ok"] is True
    assert {r["status"] for r in service.days.list_requests(DAY, OPERATOR)} == {"accepted"}


def test_bad_input_stores_nothing(service: Service) -> None:
    bad = [
        {"id": "ok", "pickup": "Méaulte", "dropoff": "Albert", "arrive_by": "10:00"},
        {
            "id": "bad",
            "pickup": "Méaulte",
            "dropoff": "Albert",
            "return_of": "nobody",
            "arrive_by": "11:00",
        },
    ]
    with pytest.raises(InputError) as e:
        service.days.submit_requests(DAY, bad, OPERATOR)
    assert e.value.where == "body.requests[1].return_of"
    assert service.days.list_requests(DAY, OPERATOR) == []


def test_a_booking_after_the_cutoff_is_refused_by_the_clock(tmp_path: Path) -> None:
    """With no same-day booking, the day closes at 17:00 the day before: the clock decides."""
    late = FixedClock(datetime(2030, 1, 7, 18, 0, tzinfo=ZoneInfo("Europe/Paris")))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'd.db'}",
        solver_processes=False,
        booking_same_day_notice_min="off",
        booking_time_limit_s=0,
    )
    svc = Service(Context(settings, clock=late))
    try:
        svc.days.put(DAY, "open")
        svc.fleet.put(FLEET[0])
        status, body = svc.bookings.book(
            DAY,
            {"id": "b1", "pickup": "Méaulte", "dropoff": "Albert", "arrive_by": "10:00"},
            OPERATOR,
        )
        assert status == 409 and body["details"]["rule"] == "cutoff", body
    finally:
        svc.close()


# ---- linked trips in plan jobs ---------------------------------------------------------------


def _run(service: Service) -> dict[str, object]:
    job = service.jobs.start_job("plan", DAY, {"time_limit_s": 1, "seed": 0}, OPERATOR)
    deadline = time.monotonic() + 120
    while (
        service.jobs.get(job["id"], OPERATOR)["status"] in ("queued", "running")
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    return service.jobs.get(job["id"], OPERATOR)


OUT = {
    "id": "out",
    "pickup": "Méaulte",
    "dropoff": "Albert",
    "pickup_window": {"start": "08:00", "end": "08:15"},
}


def test_a_job_refuses_an_outbound_whose_return_no_one_can_serve(service: Service) -> None:
    back = {
        "id": "back",
        "pickup": "Albert",
        "dropoff": "Méaulte",
        "pickup_window": {"start": "19:30", "end": "19:45"},
        "return_of": "out",
    }
    service.days.submit_requests(DAY, [OUT, back], OPERATOR)
    done = _run(service)
    assert done["status"] == "done" and done["result"]["check_ok"] is True, done
    rows = {r["id"]: r for r in service.days.list_requests(DAY, OPERATOR)}
    assert rows["out"]["status"] == rows["back"]["status"] == "refused"
    assert rows["out"]["refusal"]["reason"] == "linked_trip_refused"
    assert rows["out"]["refusal"]["details"]["linked_trip"] == "back"


def test_a_return_asked_after_its_outbound_was_promised_is_planned_after_it(
    service: Service,
) -> None:
    """The outbound is booked (promised alone); its return comes later in a batch. The plan job
    keeps the promise and plans the return after the outbound's drop-off and the stay."""
    status, _ = service.bookings.book(DAY, dict(OUT), OPERATOR)
    assert status == 201
    back = {
        "id": "back",
        "pickup": "Albert",
        "dropoff": "Méaulte",
        "pickup_window": {"start": "08:30", "end": "10:00"},
        "return_of": "out",
    }
    service.days.submit_requests(DAY, [back], OPERATOR)
    done = _run(service)
    assert done["status"] == "done" and done["result"]["check_ok"] is True, done
    assert {r["status"] for r in service.days.list_requests(DAY, OPERATOR)} == {"accepted"}
    plan, _, _ = service.plans.plan_and_problem(DAY)
    at = {(v.request_id, v.kind): v.start_s for rt in plan.routes for v in rt.visits}
    assert at[("back", "pickup")] >= at[("out", "dropoff")] + 60 + 900


class _Clock:
    """A clock the test moves."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def test_the_partner_of_a_request_too_late_is_refused_with_it(tmp_path: Path) -> None:
    """At 08:30 on the day, the outbound's 08:00-08:15 window has passed: a job refuses it as too
    late, and its return (bookable by itself) with it."""
    clock = _Clock(datetime(2030, 1, 7, 12, 0, tzinfo=ZoneInfo("Europe/Paris")))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'd.db'}", solver_processes=False, plan_time_limit_s=1
    )
    svc = Service(Context(settings, clock=clock))
    try:
        svc.days.put(DAY, "open")
        for v in FLEET:
            svc.fleet.put(v)
        back = {
            "id": "back",
            "pickup": "Albert",
            "dropoff": "Méaulte",
            "pickup_window": {"start": "15:00", "end": "15:15"},
            "return_of": "out",
        }
        svc.days.submit_requests(DAY, [OUT, back], OPERATOR)
        clock.at = datetime(2030, 1, 8, 8, 30, tzinfo=ZoneInfo("Europe/Paris"))
        done = _run(svc)
        assert done["status"] == "done", done
        rows = {r["id"]: r for r in svc.days.list_requests(DAY, OPERATOR)}
        assert rows["out"]["refusal"]["reason"] == "booking_closed"
        assert rows["back"]["refusal"]["reason"] == "linked_trip_refused"
        assert rows["back"]["refusal"]["details"]["linked_trip"] == "out"
    finally:
        svc.close()
