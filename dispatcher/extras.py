"""Optional dependencies (the ``tune`` extra: Optuna and Dask) and the one line that says how to
get them. A plain install plans, checks, runs the demo and local scenarios without them; only
``dispatcher tune`` and ``dispatcher scenario run --scheduler`` need them."""

from __future__ import annotations

import importlib
from types import ModuleType

from dispatcher.errors import InputError

TUNE_INSTALL = 'pip install "dispatcher[tune]"'


def import_extra(module: str, where: str) -> ModuleType:
    """``module`` (e.g. "distributed", "optuna"), or an InputError (exit code 2) naming
    ``where`` and the install command."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"needs {_PACKAGE.get(module, module)}: {TUNE_INSTALL}", where) from None


def require_tune(where: str = "dispatcher tune") -> None:
    """Optuna and Dask's distributed scheduler, or one clear InputError."""
    missing = []
    for module in ("optuna", "distributed"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(_PACKAGE[module])
    if missing:
        raise InputError(f"needs {' and '.join(missing)}: {TUNE_INSTALL}", where)


_PACKAGE = {"distributed": "dask[distributed]", "optuna": "optuna"}

__all__ = ["TUNE_INSTALL", "import_extra", "require_tune"]
