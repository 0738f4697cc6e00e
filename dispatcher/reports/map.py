"""The map of the day as one self-contained HTML file (Leaflet through folium).

folium's pages load Leaflet, jQuery and Bootstrap from CDNs; this machine, and many an
operator's office, has no reliable internet. Here the page inlines Leaflet 1.9.4 and jQuery
3.7.1 (slim; folium's popups call ``$``), vendored in ``dispatcher/reports/vendor`` with their
licences, and draws no tile layer by default (tiles come from the internet): the outline of the
territory, the borders and names of its communes (the hubs' names always, the others where
the day goes or once zoomed in), the routes along the roads (``RoadNetwork.path_coords``), a
marker with a popup for every visit, the refused requests in red, a legend naming each vehicle
by its mode and name, a metric scale and a visible OpenStreetMap/ODbL attribution. ``tiles``
adds a tile layer (a URL template, or True for OpenStreetMap's) with the OpenStreetMap
attribution, for people online.

Markers at one place (the depot of several minibuses, a station where many board) are spread
around it like the seeds of a sunflower, a few pixels apart at every zoom (a few lines of
script), so each can be seen and clicked.

Every route is a Leaflet path with the CSS classes ``route route-<vehicle>``, visits
``visit visit-<kind>``, refusals ``refused``, markers sharing a place ``stack-<i>-<n>`` and
commune names ``commune-label``, so a browser test can count them.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict, Unpack

import folium
from branca.element import Element, MacroElement
from jinja2 import Template

from dispatcher.errors import InputError
from dispatcher.io.protocols import PathSource
from dispatcher.model import Plan, Problem, Route, Visit
from dispatcher.reports.manifest import LABELS, time_of_day, vehicle_label
from dispatcher.reports.numbers import long_date

VENDOR = Path(__file__).resolve().parent / "vendor"
ATTRIBUTION = (
    "Routes: dispatcher · road data © OpenStreetMap contributors (ODbL), via the Travel Mapping "
    "project · communes: IGN Admin Express, INSEE (Licence Ouverte)"
)
ATTRIBUTION_HTML = (
    "Routes: dispatcher · road data © "
    '<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
    'contributors (<a href="https://opendatacommons.org/licenses/odbl/">ODbL</a>), '
    "via Travel Mapping · "
    "communes: IGN Admin Express, INSEE (Licence Ouverte)"
)
ATTRIBUTION_HTML_FR = (
    "Tournées : dispatcher · données routières © les contributeurs d'"
    '<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
    '(<a href="https://opendatacommons.org/licenses/odbl/">ODbL</a>), '
    "via Travel Mapping · "
    "communes : IGN Admin Express, INSEE (Licence Ouverte)"
)


def attribution_html(lang: str) -> str:
    """The data attribution of the map, in ``lang``."""
    return ATTRIBUTION_HTML_FR if lang == "fr" else ATTRIBUTION_HTML


def short_attribution_html(lang: str) -> str:
    """The attribution in the map's corner (the legend holds the full one): short enough to
    leave the scale bar its room."""
    who = "contributeurs d'" if lang == "fr" else "contributors of "
    return (
        f'© {who}<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
        '(<a href="https://opendatacommons.org/licenses/odbl/">ODbL</a>) · IGN, INSEE'
    )


# Distinct colours for routes; red is kept for refused requests.
PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#0b3d91",
    "#006d2c",
    "#6a3d9a",
    "#b15928",
    "#08519c",
    "#41ab5d",
    "#dd3497",
)
REFUSED_COLOUR = "#d62728"
MAP_TITLE = {"fr": "Carte de la journée", "en": "Map of the day"}
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
TILES_ATTRIBUTION = (
    "Fond de carte © les contributeurs d'"
    '<a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
)
MAP_CSS = """
.commune-label span{display:inline-block;transform:translate(-50%,-150%);white-space:nowrap;
 font:11px Arial,sans-serif;color:#333;text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff}
.commune-hub span{font-weight:bold;font-size:12.5px;color:#111}
.leaflet-container.zoomed-out .commune-minor{display:none}
"""
CDN = re.compile(
    r"""<script[^>]+src\s*=\s*["']https?://|<link[^>]+href\s*=\s*["']https?://""", re.IGNORECASE
)


def css_id(text: str) -> str:
    """A string usable in a CSS class name (letters, digits, ``-`` and ``_``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "_"


def _e(text: object) -> str:
    """Escape for HTML inside a JavaScript template literal (folium wraps popups in backticks)."""
    return (
        html.escape(str(text), quote=True)
        .replace("`", "&#96;")
        .replace("$", "&#36;")
        .replace("\\", "&#92;")
    )


@lru_cache(maxsize=1)
def _inline_assets() -> str:
    """Leaflet's CSS (its images as data URIs), Leaflet's JS and jQuery slim, as inline tags."""
    try:
        css = (VENDOR / "leaflet" / "leaflet.css").read_text(encoding="utf-8")
        js = (VENDOR / "leaflet" / "leaflet.js").read_text(encoding="utf-8")
        jq = (VENDOR / "jquery" / "jquery.slim.min.js").read_text(encoding="utf-8")
    except OSError as exc:  # a broken install
        from dispatcher.errors import DataError

        raise DataError(f"vendored Leaflet/jQuery missing: {exc}", str(VENDOR)) from None

    def data_uri(match: re.Match[str]) -> str:
        png = VENDOR / "leaflet" / "images" / match.group(1)
        if not png.is_file():
            return match.group(0)
        return f"url(data:image/png;base64,{base64.b64encode(png.read_bytes()).decode('ascii')})"

    css = re.sub(r"url\(images/([A-Za-z0-9_.-]+)\)", data_uri, css)

    def safe(code: str) -> str:
        return code.replace("</script", "<\\/script").replace("</style", "<\\/style")

    return f"<style>{safe(css)}</style>\n<script>{safe(js)}</script>\n<script>{safe(jq)}</script>"


class _Attribution(MacroElement):
    """Adds the data attribution to Leaflet's attribution control (shown bottom right)."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}"""
    )

    def __init__(self, text: str) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Attribution"
        self.text = text


class MapOptions(TypedDict, total=False):
    """The keyword arguments of :func:`plan_map`, passed on as they are by
    :func:`plan_map_html` and :func:`write_plan_map`."""

    territory: Any  # a Territory: its outline is drawn and framed (default: none)
    tiles: str | bool | None  # a tile URL template (True: OpenStreetMap's); default: none
    lang: str  # "fr" (default) or "en"
    title: str | None  # the legend's heading and the page's title (default: the map of the day)


def territory_for_problem(problem: Problem) -> Any:
    """The Territory whose intercommunalities hold the problem's stops (None when the places are
    not stops of the project's territory, e.g. benchmark instances)."""
    from dispatcher.errors import DispatcherError
    from dispatcher.territory import Territory

    try:
        everything = Territory.load("all")
    except DispatcherError:
        return None
    insee_to_epci = {c.insee: c.epci_siren for c in everything.communes}
    stop_to_insee = {s.id: s.insee for s in everything.stops}
    sirens = {
        insee_to_epci[stop_to_insee[loc.id]] for loc in problem.locations if loc.id in stop_to_insee
    }
    if not sirens:
        return None
    return Territory.load(sorted(sirens))


def _place_key(problem: Problem, location_id: str) -> tuple[float, float]:
    loc = problem.location(location_id)
    return (round(loc.lat, 4), round(loc.lon, 4))  # about 10 m


class _Stacks:
    """The markers sharing a place: ``slot(place)`` gives the CSS class of the next marker
    there (``stack-<i>-<n>``, or nothing when it is alone)."""

    def __init__(self, problem: Problem, plan: Plan) -> None:
        self.problem = problem
        self.count: dict[tuple[float, float], int] = {}
        for key in self._places(plan):
            self.count[key] = self.count.get(key, 0) + 1
        self.taken: dict[tuple[float, float], int] = {}

    def _places(self, plan: Plan) -> list[tuple[float, float]]:
        p = self.problem
        out = []
        for route in plan.routes:
            if route.visits:
                out.append(_place_key(p, p.vehicle(route.vehicle_id).start))
                out += [_place_key(p, x.location_id) for x in route.visits]
        out += [_place_key(p, p.request(j.request_id).pickup) for j in plan.rejections]
        return out

    def slot(self, location_id: str) -> str:
        key = _place_key(self.problem, location_id)
        n = self.count.get(key, 1)
        if n <= 1:
            return ""
        i = self.taken.get(key, 0)
        self.taken[key] = i + 1
        return f" stack-{i}-{n}"


class _Spread(MacroElement):
    """Spreads the markers of one place a few pixels apart (kept at every zoom), hides
    the minor commune names when zoomed out and any name that would overlap a bigger one, and
    adds a metric scale."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        (function (map) {
          L.control.scale({metric: true, imperial: false, position: "bottomleft"}).addTo(map);
          function spread() {
            map.getContainer().classList.toggle("zoomed-out", map.getZoom() < 11);
            map.eachLayer(function (l) {
              var c = l.options && l.options.className;
              var m = c && /stack-(\\d+)-(\\d+)/.exec(c);
              if (!m || !l.setLatLng) return;
              if (!l._stackBase) l._stackBase = l.getLatLng();
              var i = +m[1], r = 5 + 6.5 * Math.sqrt(i), a = i * 2.39996;  // a sunflower
              var p = map.latLngToLayerPoint(l._stackBase).add([r * Math.cos(a), r * Math.sin(a)]);
              l.setLatLng(map.layerPointToLatLng(p));
            });
            setTimeout(declutter, 300);  // once the zoom's animation is over
          }
          // commune names, biggest first (hubs first): one that would overlap a name already
          // shown is hidden at this zoom
          function declutter() {
            var shown = [];
            map.getContainer().querySelectorAll(".commune-label span").forEach(function (s) {
              s.style.visibility = "visible";
              var r = s.getBoundingClientRect();
              if (!r.width) return;  // a minor name, hidden zoomed out
              var hit = shown.some(function (o) {
                return r.left < o.right && o.left < r.right && r.top < o.bottom && o.top < r.bottom;
              });
              if (hit && !s.parentNode.classList.contains("commune-hub")) {
                s.style.visibility = "hidden";
              } else {
                shown.push(r);
              }
            });
          }
          map.on("zoomend", spread);
          map.whenReady(spread);
        })({{ this._parent.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._name = "Spread"


@lru_cache(maxsize=4)
def _borders_file(path: Path, stamp: float) -> dict[str, Any]:
    del stamp  # part of the cache key: a rebuilt file is read again
    import json

    try:
        geo = json.loads(path.read_text(encoding="utf-8"))
        return {str(f["properties"]["siren"]): f["geometry"] for f in geo["features"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        from dispatcher.errors import DataError

        raise DataError(f"unreadable commune borders: {exc}", str(path)) from None


def _borders_layer(territory: Any) -> folium.GeoJson | None:
    """The borders between the territory's communes (``commune_borders.geojson`` beside its
    data, built by ``scripts/build_commune_borders.py``; none when that file is absent)."""
    path = Path(territory.folder) / "commune_borders.geojson"
    if not path.is_file():
        return None
    by_siren = _borders_file(path, path.stat().st_mtime)
    features = [
        {"type": "Feature", "properties": {"siren": s}, "geometry": by_siren[s]}
        for s in territory.epcis
        if s in by_siren
    ]
    if not features:
        return None
    return folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name="communes",
        style_function=lambda _f: {
            "color": "#8a8a8a",
            "weight": 0.8,
            "dashArray": "3 3",
            "className": "commune-border",
            "interactive": False,
        },
        control=False,
    )


def _commune_layer(territory: Any, problem: Problem, plan: Plan) -> folium.FeatureGroup:
    """The communes' names at their main stop: hubs always; the others shown zoomed in, or at
    any zoom where the day stops."""
    stop_insee = {s.id: s.insee for s in territory.stops}
    visited = {stop_insee.get(loc.id) for loc in problem.locations}
    group = folium.FeatureGroup(name="communes", control=False)
    for c in sorted(territory.communes, key=lambda c: -c.population):
        hub = territory.is_hub(c.insee)
        cls = "commune-label" + (" commune-hub" if hub else "")
        if not hub and c.insee not in visited:
            cls += " commune-minor"
        folium.Marker(
            (c.lat, c.lon),
            icon=folium.DivIcon(
                html=f"<span>{_e(c.name)}</span>", class_name=cls, icon_size=(0, 0)
            ),
            interactive=False,
            keyboard=False,
        ).add_to(group)
    return group


def _legs(
    problem: Problem, stops: Sequence[str], path: Callable[[str, str], list[tuple[float, float]]]
) -> list[tuple[float, float]]:
    coords: list[tuple[float, float]] = []
    for a, b in zip(stops, stops[1:], strict=False):
        if a == b:
            continue
        leg = path(a, b)
        coords.extend(leg if not coords else leg[1:])
    if not coords and stops:
        loc = problem.location(stops[0])
        coords = [(loc.lon, loc.lat)]
    return coords


Labels = dict[str, str]
LegPath = Callable[[str, str], list[tuple[float, float]]]


def _leg_path(problem: Problem, network: PathSource | None) -> LegPath:
    """Coordinates (lon, lat) of the leg between two places: along the roads of ``network``, or
    a straight line without one; each leg computed once."""
    leg_cache: dict[tuple[str, str], list[tuple[float, float]]] = {}

    def path(a: str, b: str) -> list[tuple[float, float]]:
        if (a, b) not in leg_cache:
            la, lb = problem.location(a), problem.location(b)
            if network is None:
                leg_cache[(a, b)] = [(la.lon, la.lat), (lb.lon, lb.lat)]
            else:
                leg_cache[(a, b)] = network.path_coords((la.lon, la.lat), (lb.lon, lb.lat))
        return leg_cache[(a, b)]

    return path


def _base_map(
    lats: list[float], lons: list[float], tiles: str | bool | None, lang: str = "fr"
) -> folium.Map:
    """The empty map centred on the points, without CDN assets, tiles only if asked (a URL
    template; True: OpenStreetMap's), attributed."""
    centre = ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2) if lats else (49.95, 2.65)
    m = folium.Map(
        location=centre, zoom_start=10, tiles=None, control_scale=False, prefer_canvas=False
    )
    m.default_js = []  # inlined instead (see plan_map_html)
    m.default_css = []
    if tiles:
        url = OSM_TILES if tiles is True else str(tiles)
        if not re.match(r"https?://", url) or "{z}" not in url:
            raise InputError(
                f"must be a tile URL with {{z}}, {{x}} and {{y}}, got {url!r}", "tiles"
            )
        folium.TileLayer(
            url, attr=TILES_ATTRIBUTION, name="tiles", control=False, max_zoom=19
        ).add_to(m)
    _Attribution(short_attribution_html(lang)).add_to(m)
    return m


def _territory_layer(territory: Any) -> folium.GeoJson:
    """The outline of the territory, drawn under everything else."""
    return folium.GeoJson(
        territory.boundary.__geo_interface__,
        name=territory.name,
        style_function=lambda _f: {
            "color": "#555555",
            "weight": 1.5,
            "fillColor": "#f2efe6",
            "fillOpacity": 0.5,
            "className": "territory",
        },
        control=False,
    )


def _add_route(
    m: folium.Map,
    problem: Problem,
    route: Route,
    colour: str,
    t: Labels,
    path: LegPath,
    stacks: _Stacks,
    name: str,
) -> str:
    """Draw one vehicle's route as a layer of its own (its path along the stops, the depot, a
    marker per visit) and return its legend label."""
    v = problem.vehicle(route.vehicle_id)
    vid = css_id(route.vehicle_id)
    group = folium.FeatureGroup(name=html.escape(name), show=True).add_to(m)
    stops = [v.start] + [x.location_id for x in route.visits] + [v.end]
    coords = _legs(problem, stops, path)
    folium.PolyLine(
        [(lat, lon) for lon, lat in coords],
        color=colour,
        weight=4,
        opacity=0.8,
        class_name=f"route route-{vid}",
        tooltip=_e(
            f"{name}{' :' if t is LABELS['fr'] else ':'} "
            f"{time_of_day(route.start_s)}–{time_of_day(route.end_s)}, "
            f"{route.distance_m / 1000:.1f} km"
        ),
    ).add_to(group)
    depot = problem.location(v.start)
    folium.CircleMarker(
        (depot.lat, depot.lon),
        radius=7,
        color="#000000",
        weight=2,
        fill=True,
        fill_color=colour,
        fill_opacity=1.0,
        class_name=f"depot depot-{vid}{stacks.slot(v.start)}",
        popup=folium.Popup(
            f"<b>{_e(t['start'])}</b><br>{_e(depot.name or depot.id)} · "
            f"{time_of_day(route.start_s)}",
            max_width=300,
        ),
    ).add_to(group)
    for order, x in enumerate(route.visits, start=1):
        loc = problem.location(x.location_id)
        folium.CircleMarker(
            (loc.lat, loc.lon),
            radius=5 if x.kind == "pickup" else 4,
            color=colour,
            weight=2,
            fill=True,
            fill_color="#ffffff" if x.kind == "pickup" else colour,
            fill_opacity=1.0,
            class_name=f"visit visit-{x.kind} visit-{vid}{stacks.slot(x.location_id)}",
            popup=folium.Popup(
                "<br>".join(_visit_lines(problem, route, x, order, t, name)), max_width=320
            ),
        ).add_to(group)
    return f"{name} ({sum(1 for x in route.visits if x.kind == 'pickup')})"


def _visit_lines(
    problem: Problem, route: Route, x: Visit, order: int, t: Labels, name: str
) -> list[str]:
    """The popup of a visit, line by line: what, where, when, who (and the appointment)."""
    loc = problem.location(x.location_id)
    r = problem.request(x.request_id)
    lines = [
        f"<b>{_e(t[x.kind])}</b> · {_e(name)} · n° {order}",
        f"{_e(loc.name or loc.id)}",
        f"{_e(t['time'])} {time_of_day(x.start_s)} ({_e(t['arrival'])} {time_of_day(x.arrival_s)})",
        f"{_e(t['request'])} {_e(r.id)}" + (f" · {_e(r.name)}" if r.name else ""),
        f"{_e(t['party'])} {r.seats}"
        + (f" · {_e(t['wheelchair'])} ×{r.wheelchairs}" if r.wheelchairs else ""),
    ]
    if r.phone:
        lines.append(f"{_e(t['phone'])} {_e(r.phone)}")
    if x.kind == "dropoff" and r.arrive_by_s is not None:
        lines.append(f"{_e(t['appointment'])} {time_of_day(r.arrive_by_s)}")
    return lines


def _add_refusals(
    m: folium.Map, problem: Problem, plan: Plan, t: Labels, lang: str, stacks: _Stacks
) -> str:
    """Draw the refused requests in red as one layer (a dashed straight leg and a marker at the
    pickup, with the reason) and return its legend label."""
    group = folium.FeatureGroup(name=t["refused"], show=True).add_to(m)
    for j in plan.rejections:
        r = problem.request(j.request_id)
        a, b = problem.location(r.pickup), problem.location(r.dropoff)
        msg = j.message if lang == "fr" or not j.message_en else j.message_en
        when = []
        if r.pickup_window is not None:
            when.append(
                f"{time_of_day(r.pickup_window.start_s)}–{time_of_day(r.pickup_window.end_s)}"
            )
        if r.arrive_by_s is not None:
            when.append(f"{t['appointment']} {time_of_day(r.arrive_by_s)}")
        popup = (
            f"<b>{_e(t['refused'])}</b> · {_e(r.id)}<br>"
            f"{_e(a.name or a.id)} → {_e(b.name or b.id)}"
            f"<br>{_e(' · '.join(when))}<br>{_e(t['reason'])}: {_e(msg)}"
        )
        folium.PolyLine(
            [(a.lat, a.lon), (b.lat, b.lon)],
            color=REFUSED_COLOUR,
            weight=2,
            dash_array="4 6",
            opacity=0.8,
            class_name="refused refused-leg",
        ).add_to(group)
        folium.CircleMarker(
            (a.lat, a.lon),
            radius=6,
            color=REFUSED_COLOUR,
            weight=2,
            fill=True,
            fill_color=REFUSED_COLOUR,
            fill_opacity=0.9,
            class_name=f"refused refused-pickup{stacks.slot(r.pickup)}",
            popup=folium.Popup(popup, max_width=320),
        ).add_to(group)
    return f"{t['refused']} ({len(plan.rejections)})"


def _legend_html(heading: str, legend_items: Sequence[tuple[str, str]], lang: str) -> str:
    """The legend box: the heading, a coloured line per layer, the attribution."""
    rows = "".join(
        '<div><span style="display:inline-block;width:14px;height:4px;'
        f'background:{c};margin-right:6px;vertical-align:middle"></span>'
        f"{html.escape(label)}</div>"
        for c, label in legend_items
    )
    return (
        '<div id="legend" style="position:fixed;top:10px;left:50px;z-index:1000;'
        "background:rgba(255,255,255,.92);"
        "padding:6px 10px;border:1px solid #888;font:12px Arial,sans-serif;"
        'max-height:60%;overflow:auto">'
        f"<b>{html.escape(heading)}</b>{rows}"
        '<div style="margin-top:4px;color:#444;font-size:10px;max-width:260px">'
        f"{attribution_html(lang)}</div></div>"
    )


def plan_map(
    problem: Problem,
    plan: Plan,
    network: PathSource | None = None,
    *,
    territory: Any = None,
    tiles: str | bool | None = None,
    lang: str = "fr",
    title: str | None = None,
) -> folium.Map:
    """A folium Map of the plan (not yet self-contained: use :func:`plan_map_html`)."""
    if lang not in LABELS:
        raise InputError(f"must be one of {', '.join(LABELS)}, got {lang!r}", "lang")
    t = LABELS[lang]
    path = _leg_path(problem, network)
    lons = [loc.lon for loc in problem.locations]
    lats = [loc.lat for loc in problem.locations]
    if territory is not None:
        b = territory.bbox
        lons += [b[0], b[2]]
        lats += [b[1], b[3]]
    m = _base_map(lats, lons, tiles, lang)
    if territory is not None:
        _territory_layer(territory).add_to(m)
        borders = _borders_layer(territory)
        if borders is not None:
            borders.add_to(m)
        _commune_layer(territory, problem, plan).add_to(m)

    stacks = _Stacks(problem, plan)
    legend_items = []
    for k, route in enumerate(plan.routes):
        if route.visits:
            colour = PALETTE[k % len(PALETTE)]
            name = vehicle_label(problem, route, lang)
            legend_items.append(
                (colour, _add_route(m, problem, route, colour, t, path, stacks, name))
            )
    if plan.rejections:
        legend_items.append((REFUSED_COLOUR, _add_refusals(m, problem, plan, t, lang, stacks)))
    _Spread().add_to(m)

    folium.LayerControl(collapsed=True).add_to(m)
    if lats:
        m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(10, 10))
    name = MAP_TITLE.get(lang, MAP_TITLE["fr"])
    heading = title or (f"{name} · {long_date(problem.day, lang)}" if problem.day else name)
    root: Any = m.get_root()  # a branca Figure
    root.html.add_child(Element(_legend_html(heading, legend_items, lang)))
    root.header.add_child(Element(f"<style>{MAP_CSS}</style>"))
    root.title = heading
    return m


def plan_map_html(
    problem: Problem, plan: Plan, network: PathSource | None = None, **options: Unpack[MapOptions]
) -> str:
    """The map as one HTML page with Leaflet and jQuery inlined: no request leaves the page
    (unless ``tiles``)."""
    m = plan_map(problem, plan, network, **options)
    page = m.get_root().render()
    head = page.find("<head>")
    if head < 0:  # folium always writes one; keep a clear failure if that ever changes
        raise RuntimeError("folium page without <head>")
    root: Any = m.get_root()
    heading = html.escape(root.title or "")
    page = page[: head + 6] + f"\n<title>{heading}</title>\n" + _inline_assets() + page[head + 6 :]
    leftover = CDN.search(page)
    if leftover:  # folium added a CDN dependency we do not inline
        raise RuntimeError(
            f"map page still loads {page[leftover.start() : leftover.start() + 80]!r}"
        )
    return page


def write_plan_map(
    problem: Problem,
    plan: Plan,
    path: str | Path,
    network: PathSource | None = None,
    **options: Unpack[MapOptions],
) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(plan_map_html(problem, plan, network, **options), encoding="utf-8")
    return p
