"""The driver's page and the operator's console, in a real headless Chromium (Playwright driving
the system's /usr/bin/chromium) against a real server: log in with a key, see the day, send an
event from the driver's page, watch the console follow; a server gone for a moment while the
driver's events wait in the page's outbox. Screenshots are kept in ``out/screenshots/``."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from dispatcher.store import Store
from tests.api.conftest import BACKENDS, DAY, FLEET, Server, database_url

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

SHOTS = Path(
    os.environ.get("DISPATCHER_SCREENSHOTS", Path(__file__).parents[2] / "out/screenshots")
)
D = DAY.isoformat()
PARIS = ZoneInfo("Europe/Paris")
BOOKINGS: list[dict[str, Any]] = [
    {
        "id": "r1",
        "pickup": "Méaulte",
        "dropoff": "Albert",
        "name": "Mme Petit",
        "pickup_window": {"start": "08:00", "end": "08:20"},
        "phone": "0322000001",
    },
    {
        "id": "r2",
        "pickup": "Acheux-en-Amiénois",
        "dropoff": "Albert",
        "name": "M. Durand",
        "pickup_window": {"start": "08:30", "end": "08:50"},
        "wheelchairs": 1,
    },
    {
        "id": "r3",
        "pickup": "Bray-sur-Somme",
        "dropoff": "Albert",
        "name": "Mme Leroy",
        "pickup_window": {"start": "09:00", "end": "09:20"},
        "seats": 2,
    },
    {
        "id": "r4",
        "pickup": "Albert",
        "dropoff": "Méaulte",
        "name": "M. Martin",
        "pickup_window": {"start": "10:00", "end": "10:20"},
    },
    {
        "id": "r5",
        "pickup": "Albert",
        "dropoff": "Bray-sur-Somme",
        "name": "Mme Bernard",
        "pickup_window": {"start": "11:00", "end": "11:20"},
        "wheelchairs": 1,
    },
]
TOO_EARLY = {"id": "r9", "pickup": "Albert", "dropoff": "Bray-sur-Somme", "name": "M. Tôt",
             "pickup_window": {"start": "06:00", "end": "06:10"}}  # before every shift  # fmt: skip


class Site:
    """A server with a planned day, its keys, and a way to stop it and bring it back."""

    def __init__(self, url: str, store: Store) -> None:
        self.db_url, self.store = url, store
        self.server = Server(url).start()
        self.tokens = {
            role: store.create_key(role, f"pages {role}")[0] for role in ("operator", "planner")
        }
        self.op = httpx.Client(
            base_url=self.url, headers={"X-API-Key": self.tokens["operator"]}, timeout=60
        )

    @property
    def url(self) -> str:
        return self.server.url

    def driver_key(self, vehicle: str) -> str:
        return self.store.create_key("driver", f"driver {vehicle}", vehicle_id=vehicle, day=DAY)[0]

    def restart(self) -> None:
        """The same server (same port, same database) started again."""
        port = self.server.port
        self.server.stop()
        server = Server(self.db_url)
        server.port, server.url = port, f"http://127.0.0.1:{port}"
        self.server = server.start()

    def close(self) -> None:
        self.op.close()
        self.server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    url = database_url(request.param, tmp_path_factory.mktemp("pages"))
    store = Store(url)
    s = Site(url, store)
    try:
        assert s.op.put(f"/v1/days/{D}", json={}).status_code == 201
        for v in FLEET:
            assert s.op.put(f"/v1/vehicles/{v['id']}", json=v).status_code in (200, 201)
        for b in BOOKINGS:
            r = s.op.post(f"/v1/days/{D}/bookings", json=b)
            assert r.status_code == 201, r.text
        assert s.op.post(f"/v1/days/{D}/bookings", json=TOO_EARLY).status_code == 409
        yield s
    finally:
        s.close()
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, "a blank screenshot"
    return path


def log_in(page: Any, url: str, key: str) -> None:
    page.goto(url)
    page.fill("#login-key", key)
    page.click("#login-form button[type=submit]")


def console(browser: Any, site: Site, errors: list[str]) -> Any:
    page = browser.new_page(
        viewport={"width": 1280, "height": 900}, timezone_id="Europe/Paris", locale="fr-FR"
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, f"{site.url}/console", site.tokens["operator"])
    page.wait_for_selector("#bookings-body tr")
    return page


def test_pages_hold_no_data_and_load_nothing_from_elsewhere(site: Site) -> None:
    for path in ("/console", "/driver"):
        r = httpx.get(site.url + path)  # no key
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert "Mme Petit" not in r.text and "Méaulte" not in r.text
        refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert refs
        for ref in refs:
            if ref.startswith("data:"):
                continue
            assert ref.startswith("/static/"), f"{path} loads {ref} from elsewhere"
            assert httpx.get(site.url + ref).status_code == 200, ref
    assert "/console" not in site.op.get("/openapi.json").json()["paths"]


def test_console_logs_in_and_shows_the_day(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, f"{site.url}/console", "not-a-key")
    page.wait_for_selector("#login-error:has-text('Clé inconnue')")
    log_in(page, f"{site.url}/console", site.tokens["operator"])
    page.wait_for_selector("#bookings-body tr")
    rows = page.locator("#bookings-body tr")
    assert rows.count() == len(BOOKINGS)
    text = page.inner_text("#bookings-body")
    assert "Mme Petit" in text and "Méaulte → Albert" in text and "promis" in text
    assert "Aucun véhicule ne peut atteindre" in page.inner_text("#refusals")
    assert page.inner_text("#day-title") == D
    # the routes and stops drawn by Leaflet (SVG paths), and the place names on the map
    assert page.locator("#map path.leaflet-interactive").count() >= 2 + 2 * len(BOOKINGS)
    assert "Bray-sur-Somme" in page.inner_text("#map")
    shot(page, "console-fr")
    page.click("#lang")
    assert "Bookings" in page.inner_text("#app") and "Alerts" in page.inner_text("#app")
    assert "No vehicle can reach" in page.inner_text("#refusals")
    assert "promised" in page.inner_text("#bookings-body")
    shot(page, "console-en")
    page.click("#lang")  # back to French for the next tests (kept in localStorage)
    page.close()
    assert not errors


def test_console_is_for_operators(site: Site, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, f"{site.url}/console", site.tokens["planner"])
    page.wait_for_selector("#problem:has-text('réservée aux clés d')")
    page.close()


def test_console_books_a_trip_and_shows_a_refusal(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = console(browser, site, errors)
    page.click("#book-panel summary")
    page.fill("#book-form [name=pickup]", "Méaulte")
    page.fill("#book-form [name=dropoff]", "Bray-sur-Somme")
    page.fill("#book-form [name=from]", "13:00")
    page.fill("#book-form [name=to]", "13:20")
    page.fill("#book-form [name=name]", "Mme Console")
    page.click("#book-submit")
    page.wait_for_selector("#book-result.ok")
    assert "Promis" in page.inner_text("#book-result")
    page.wait_for_selector("#bookings-body tr:has-text('Mme Console')")
    page.fill("#book-form [name=pickup]", "Albert")
    page.fill("#book-form [name=dropoff]", "Méaulte")
    page.fill("#book-form [name=from]", "05:00")
    page.fill("#book-form [name=to]", "05:10")
    page.click("#book-submit")
    page.wait_for_selector("#book-result.error")
    assert "Refusé" in page.inner_text("#book-result")
    # the refusal's reason, with the day's service hours (a rule of the service configuration)
    assert "de 06:00 à 20:00" in page.inner_text("#book-result")
    page.close()
    assert not errors


# ---- with the events of the day (the driver's key, the live view) ---------------------------


def driver_page(
    browser: Any, site: Site, vehicle: str, at: str, errors: list[str], gps: bool = True
) -> Any:
    where = {"geolocation": {"latitude": 49.9996, "longitude": 2.6526}}  # Méaulte
    ctx = browser.new_context(
        timezone_id="Europe/Paris",
        locale="fr-FR",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        **(where if gps else {}),
        permissions=["geolocation"] if gps else [],
    )
    page = ctx.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    hh, mm = map(int, at.split(":"))
    page.clock.install(time=datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=PARIS))
    log_in(page, f"{site.url}/driver", site.driver_key(vehicle))
    page.wait_for_selector("#current .stop.current")
    return page


def events_of(site: Site, vehicle: str) -> list[dict[str, Any]]:
    r = site.op.get(f"/v1/days/{D}/events", params={"vehicle_id": vehicle})
    assert r.status_code == 200, r.text
    body = r.json()
    return body["events"] if isinstance(body, dict) else body


def test_driver_sends_events_and_the_console_follows(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = driver_page(browser, site, "bus-1", "07:55", errors)
    current = page.inner_text("#current")
    assert "Méaulte" in current and "Mme Petit" in current, current
    assert "Albert" in page.inner_text("#stops")
    shot(page, "driver-fr")
    ops = console(browser, site, errors)
    page.click("#ev-arrived")
    page.click("#ev-boarded")
    page.wait_for_selector("#pending:has-text('Tout est envoyé')")
    kinds = [e["type"] for e in events_of(site, "bus-1")]
    assert "arrived" in kinds and "boarded" in kinds
    # the current stop is now r1's drop-off at Albert
    page.wait_for_selector("#current .kind-dropoff")
    assert "Albert" in page.inner_text("#current")
    shot(page, "driver-after-boarding")
    assert "M. Durand" not in page.inner_text("#app")  # another vehicle's rider
    page.click("#lang")
    assert page.inner_text("#ev-dropped_off") == "Dropped off"
    shot(page, "driver-en")
    page.click("#lang")
    # the console shows r1 on board and bus-1 where the page's geolocation put it
    ops.wait_for_selector("#bookings-body tr[data-request=r1]:has-text('à bord')", timeout=20000)
    ops.wait_for_selector(".vehicle-label:has-text('bus-1')", timeout=20000)
    shot(ops, "console-live")
    page.context.close()
    ops.close()
    assert not errors


def test_events_wait_in_the_outbox_while_the_server_is_away(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = driver_page(browser, site, "tpmr-1", "08:25", errors, gps=False)
    assert "M. Durand" in page.inner_text("#current")
    assert "Fauteuil" in page.inner_text("#current")
    before = len(events_of(site, "tpmr-1"))
    port = site.server.port
    site.server.stop()
    try:
        page.click("#ev-arrived")
        page.wait_for_selector("#pending:has-text('en attente')")
        page.click("#ev-boarded")
        page.wait_for_selector("#pending:has-text('2 en attente')")
        page.wait_for_selector("#net:has-text('Pas de connexion')")
        shot(page, "driver-offline")
    finally:
        site.restart()
    assert site.server.port == port
    page.wait_for_selector("#pending:has-text('Tout est envoyé')", timeout=30000)
    got = events_of(site, "tpmr-1")[before:]
    kinds = [e["type"] for e in got if e["type"] != "position"]
    assert kinds == ["arrived", "boarded"], kinds  # each once, in order
    page.context.close()
    assert not errors


def test_an_event_whose_answer_was_lost_is_sent_again_and_stored_once(
    site: Site, browser: Any
) -> None:
    errors: list[str] = []
    page = driver_page(browser, site, "tpmr-1", "08:50", errors, gps=False)
    page.wait_for_selector("#current .kind-dropoff:has-text('M. Durand')")
    lost: list[int] = []

    def deliver_then_drop(route: Any) -> None:
        if lost:  # the second try goes through untouched
            route.continue_()
            return
        lost.append(route.fetch().status)  # the server stores the event...
        route.abort("connectionreset")  # ...and its answer never reaches the phone

    page.route("**/vehicles/tpmr-1/events", deliver_then_drop)
    page.click("#ev-dropped_off")
    page.wait_for_selector("#pending:has-text('Tout est envoyé')", timeout=30000)
    assert lost == [201]
    dropped = [
        e
        for e in events_of(site, "tpmr-1")
        if e["type"] == "dropped_off" and e.get("request_id") == "r2"
    ]
    assert len(dropped) == 1, dropped
    page.context.close()
    assert not errors


def test_a_no_show_and_a_delay_reach_the_console(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = driver_page(browser, site, "bus-1", "08:40", errors, gps=False)
    ops = console(browser, site, errors)
    # r1 on board since the test above: drop her at Albert; then Mme Leroy is not at Bray
    page.wait_for_selector("#current .kind-dropoff")
    page.click("#ev-dropped_off")
    page.wait_for_selector("#current .kind-pickup:has-text('Bray-sur-Somme')")
    page.click("#ev-arrived")
    page.click("#ev-no_show")
    for _ in range(4):  # 10 -> 30 minutes
        page.click("#vehicle-actions .stepper button[aria-label='+']")
    assert "30 min" in page.inner_text("#vehicle-actions")
    page.click("#ev-delayed")
    page.wait_for_selector("#pending:has-text('Tout est envoyé')")
    assert not page.inner_text("#rejected").strip()
    ops.wait_for_selector("#alerts li.alert-no_show:has-text('r3')", timeout=20000)
    ops.wait_for_selector("#bookings-body tr[data-request=r3]:has-text('absent')")
    ops.wait_for_selector("#bookings-body tr[data-request=r1]:has-text('terminé')")
    ops.wait_for_selector("#events li:has-text('Retard')")
    shot(ops, "console-alerts")
    page.context.close()
    ops.close()
    assert not errors


def test_console_moves_a_request_or_says_why_not(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = console(browser, site, errors)
    assert "r2" not in page.inner_text("#move-request")  # on board: no longer movable
    page.select_option("#move-request", "r5")  # Mme Bernard, in a wheelchair, on tpmr-1
    page.select_option("#move-vehicle", "bus-1")  # no wheelchair place
    page.click("#move-submit")
    page.wait_for_selector("#move-result.error")
    why = page.inner_text("#move-result")
    assert why.startswith("Impossible") and "bus-1" in why, why
    assert "ne peut pas assurer ce trajet" in why, why  # the reason in French too
    late = {"id": "r6", "pickup": "Méaulte", "dropoff": "Albert", "name": "M. Tardif",
            "pickup_window": {"start": "15:00", "end": "15:20"}}  # fmt: skip
    r = site.op.post(f"/v1/days/{D}/bookings", json=late)
    assert r.status_code == 201, r.text
    other = "tpmr-1" if r.json()["vehicle_id"] == "bus-1" else "bus-1"
    page.wait_for_selector("#move-request option[value=r6]", state="attached", timeout=20000)
    page.select_option("#move-request", "r6")
    page.select_option("#move-vehicle", other)
    page.click("#move-submit")
    page.wait_for_selector("#move-result:not(.muted)")
    assert f"passe sur {other}" in page.inner_text("#move-result"), page.inner_text("#move-result")
    page.wait_for_selector(f"#bookings-body tr[data-request=r6]:has-text('{other}')")
    assert site.op.get(f"/v1/days/{D}/plan/check").json()["ok"]
    shot(page, "console-move")
    page.close()
    assert not errors


def test_a_breakdown_hands_the_vehicles_stops_on(site: Site, browser: Any) -> None:
    errors: list[str] = []
    page = driver_page(browser, site, "tpmr-1", "09:30", errors, gps=False)
    ops = console(browser, site, errors)
    page.click("#ev-unavailable")
    assert not outbox_length(page)  # one tap is not enough
    page.click("#ev-unavailable-confirm")
    page.wait_for_selector("#pending:has-text('Tout est envoyé')", timeout=60000)
    page.wait_for_selector("#current:has-text('Panne signalée')", timeout=20000)
    assert not page.inner_text("#rejected").strip()
    shot(page, "driver-breakdown")
    ops.wait_for_selector("#alerts li.alert-unavailable:has-text('tpmr-1')", timeout=30000)
    ops.wait_for_selector("#vehicles li:has-text('tpmr-1 indisponible')")
    shot(ops, "console-breakdown")
    page.context.close()
    ops.close()
    assert not errors


def outbox_length(page: Any) -> int:
    return int(
        page.evaluate("JSON.parse(localStorage.getItem('dispatcher.outbox.v1') || '[]').length")
    )
