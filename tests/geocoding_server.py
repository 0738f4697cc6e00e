"""A local geocoding server for the tests: it answers as api-adresse.data.gouv.fr
(``/ban/search/``) and Nominatim (``/osm/search``) do, for "12 rue de Corbie" only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class Geocoding(BaseHTTPRequestHandler):
    """Answers as api-adresse.data.gouv.fr (``/search/``) and Nominatim (``/search``) do."""

    asked: list[tuple[str, dict[str, list[str]]]] = []

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        query = parse_qs(url.query)
        Geocoding.asked.append((url.path, query))
        q = query.get("q", [""])[0]
        known = "corbie" in q.lower()
        if url.path == "/ban/search/":
            features = (
                [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [2.6431, 50.0012]},
                        "properties": {
                            "label": "12 Rue de Corbie 80300 Albert",
                            "score": 0.97,
                            "type": "housenumber",
                        },
                    }
                ]
                if known
                else []
            )
            body: Any = {"type": "FeatureCollection", "features": features}
        elif url.path == "/osm/search":
            body = (
                [{"lat": "50.0012", "lon": "2.6431", "display_name": "12, Rue de Corbie, Albert"}]
                if known
                else []
            )
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def geocoding_server() -> Iterator[str]:
    """Serve :class:`Geocoding` on a free loopback port; yields its root URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Geocoding)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
