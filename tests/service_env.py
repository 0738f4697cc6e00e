"""The service configuration the API and service tests run under (tests/data/every_day.toml),
set as ``DISPATCHER_SERVICE`` for the tests of a package and restored after them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

EVERY_DAY = Path(__file__).resolve().parent / "data" / "every_day.toml"


def every_day_service() -> Iterator[Path]:
    before = os.environ.get("DISPATCHER_SERVICE")
    os.environ["DISPATCHER_SERVICE"] = str(EVERY_DAY)
    try:
        yield EVERY_DAY
    finally:
        if before is None:
            os.environ.pop("DISPATCHER_SERVICE", None)
        else:
            os.environ["DISPATCHER_SERVICE"] = before
