from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service_env import every_day_service


@pytest.fixture(scope="package", autouse=True)
def _service_every_day() -> Iterator[Path]:
    yield from every_day_service()
