"""GeoJSON of a plan: routes along the roads of the graph, visits and refusals as points."""

from __future__ import annotations

from typing import Any

from dispatcher.io.protocols import LonLat, PathSource
from dispatcher.io.times import format_time
from dispatcher.model import Plan, Problem

ATTRIBUTION = "Road data © OpenStreetMap contributors (ODbL), via the Travel Mapping project"


def plan_to_geojson(
    plan: Plan, problem: Problem, network: PathSource | None = None
) -> dict[str, Any]:
    """Routes as LineStrings along the roads (straight legs without a network), visits and
    refusals as Points."""
    day, tz = problem.day, problem.timezone
    features: list[dict[str, Any]] = []
    for r in plan.routes:
        v = problem.vehicle(r.vehicle_id)
        stops = [v.start] + [x.location_id for x in r.visits] + [v.end]
        coords: list[LonLat] = []
        for a, b in zip(stops, stops[1:], strict=False):
            la, lb = problem.location(a), problem.location(b)
            if network:
                leg = network.path_coords((la.lon, la.lat), (lb.lon, lb.lat))
            else:
                leg = [(la.lon, la.lat), (lb.lon, lb.lat)]
            coords.extend(leg if not coords else leg[1:])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
                "properties": {
                    "kind": "route",
                    "vehicle_id": r.vehicle_id,
                    "start": format_time(r.start_s, day, tz),
                    "end": format_time(r.end_s, day, tz),
                    "distance_m": r.distance_m,
                    "visits": len(r.visits),
                },
            }
        )
        for k, x in enumerate(r.visits):
            loc = problem.location(x.location_id)
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [loc.lon, loc.lat]},
                    "properties": {
                        "kind": x.kind,
                        "vehicle_id": r.vehicle_id,
                        "order": k,
                        "request_id": x.request_id,
                        "place": loc.name or loc.id,
                        "start": format_time(x.start_s, day, tz),
                        "seats": x.seats,
                        "wheelchairs": x.wheelchairs,
                    },
                }
            )
    for j in plan.rejections:
        req = problem.request(j.request_id)
        loc = problem.location(req.pickup)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [loc.lon, loc.lat]},
                "properties": {
                    "kind": "refused",
                    "request_id": j.request_id,
                    "reason": j.reason.value,
                    "message": j.message,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features, "attribution": ATTRIBUTION}
