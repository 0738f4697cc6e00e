"""When the ALNS layer may run: its model is exact for the day, and its kernels are ready in time.

The layer's kernels (:mod:`dispatcher.solver.alns_kernels`) are compiled by numba on first use,
36-61 s on a new machine, and cached by numba (next to the module, or in numba's cache folder);
a new process then loads them in about 0.6 s. Neither may make a user wait past a time limit:

* :func:`start` makes them ready in a background thread of this process: it loads them when
  numba's cache holds them; otherwise it compiles them in a separate, detached process
  (``python -m dispatcher.solver.alns_gate``, one at a time thanks to a lock file beside the
  cache), so that the compilation outlives a short command and is paid once per machine and
  source version, then loads them. This module imports numba only inside that thread.
* :func:`ready` is what a solve asks before giving the layer its share of the time: whether the
  kernels are loaded, waiting at most the time it can spare, and never when they are still
  being compiled (:func:`state`). Meanwhile OR-Tools gets the whole time limit.

``python -m dispatcher.solver.alns_gate`` compiles them in the foreground (an install or image
build step, or a CI cache); the first solve after it does not wait at all.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from dispatcher.model import Problem, Vehicle

log = logging.getLogger(__name__)

State = Literal["idle", "loading", "compiling", "ready", "failed", "unavailable"]
LOCK_NAME = "dispatcher-alns-kernels.lock"
STALE_LOCK_S = 900.0  # a compiler running longer than this is taken for dead
POLL_S = 0.5

_lock = threading.Lock()
_ready = threading.Event()
_state: State = "idle"
_thread: threading.Thread | None = None


def applicable(problem: Problem, vehicles: Sequence[Vehicle]) -> bool:
    """Whether the ALNS model is exact for this day: no drivers' breaks (a balance cost is in
    its objective). Without breaks, the drivers' duty limits (max duty, continuous driving) are
    one route duration limit per vehicle (:meth:`dispatcher.model.Vehicle.route_duration_limit_s`),
    which the model holds exactly."""
    return not any(v.breaks for v in vehicles)


def available() -> bool:
    """Whether numba is installed (without it the layer would run a hundred times slower)."""
    return importlib.util.find_spec("numba") is not None


def state() -> State:
    """Where the kernels are: not asked for yet, loading from numba's cache, being compiled,
    ready, failed, or unavailable (no numba)."""
    return _state


def mark_ready() -> None:
    """The kernels were compiled or loaded in this process (by :func:`alns.warm_up`)."""
    global _state
    _state = "ready"
    _ready.set()


def start() -> State:
    """Begin making the kernels ready in the background (once per process); returns the state."""
    global _state, _thread
    with _lock:
        if _state != "idle":
            return _state
        if not available():
            _state = "unavailable"
            return _state
        _state = "loading"
        _thread = threading.Thread(target=_prepare, name="alns-kernels", daemon=True)
        _thread.start()
        return _state


def ready(wait_s: float = 0.0) -> bool:
    """Whether the kernels are loaded, waiting at most ``wait_s`` seconds while they load from
    numba's cache (not at all while they are compiled elsewhere). Starts them if need be."""
    if _ready.is_set():
        return True
    start()
    deadline = time.perf_counter() + max(0.0, wait_s)
    while _state == "loading":
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        if _ready.wait(min(left, 0.05)):
            return True
    return _ready.is_set()


def _kernels() -> list[Any]:
    """numba's dispatchers of the compiled kernels (not those inlined into their callers, which
    numba never compiles or caches on their own)."""
    from dispatcher.solver import alns_kernels

    return [
        f
        for f in vars(alns_kernels).values()
        if hasattr(f, "_cache")
        and hasattr(f, "py_func")
        and getattr(f, "targetoptions", {}).get("inline") != "always"
    ]


def cache_dir() -> Path | None:
    """The folder where numba caches the kernels (None if it cannot say)."""
    try:
        return Path(_kernels()[0]._cache._cache_path)
    except (AttributeError, IndexError, TypeError):
        return None


def cached() -> bool:
    """Whether numba's cache holds every kernel, compiled from the current source by this numba
    for this machine (the same test numba makes before loading one). Reads numba's cache index
    through its internals: if they change, this says False and the kernels get compiled
    elsewhere, which is slow but never wrong."""
    try:
        kernels = _kernels()
        if not kernels:
            return False
        for f in kernels:
            files = f._cache._cache_file
            overloads = files._load_index()
            folder = Path(files._cache_path)
            if not overloads or not all((folder / name).exists() for name in overloads.values()):
                return False
        return True
    except Exception:  # noqa: BLE001 - numba's internals moved: treat the cache as cold
        log.debug("cannot read numba's cache index", exc_info=True)
        return False


def _prepare() -> None:
    """The background thread: compile elsewhere if numba's cache is cold, then load."""
    global _state
    try:
        if not cached():
            _state = "compiling"
            _compile_elsewhere()
            _state = "loading"
        from dispatcher.solver import alns

        alns.warm_up()  # loads from the cache (compiles here if the other process failed)
        mark_ready()
    except Exception:  # noqa: BLE001 - the layer is an improvement: without it, OR-Tools alone
        log.warning("the ALNS layer's kernels could not be made ready", exc_info=True)
        _state = "failed"


def _compile_elsewhere() -> None:
    """Compile the kernels in a detached process (or wait for the one already at it), so that
    the compilation survives this process; returns once numba's cache holds them, or once the
    process started here is done (whatever it achieved)."""
    folder = cache_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    proc: subprocess.Popen[bytes] | None = None
    while not cached():
        if proc is None:
            if _take(lock):
                proc = _spawn(lock)
            else:  # another process compiles them: wait for its work to land in the cache
                time.sleep(POLL_S)
                continue
        if proc.poll() is not None:
            return
        time.sleep(POLL_S)


def _spawn(lock: Path) -> subprocess.Popen[bytes]:
    """The detached compiler, which removes ``lock`` when it is done."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dispatcher.solver.alns_gate", "--lock", str(lock)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not stopped with this process's group
            env=env,
        )
    except OSError:
        lock.unlink(missing_ok=True)
        raise
    log.info("compiling the ALNS layer's kernels in process %d (once)", proc.pid)
    return proc


def _take(lock: Path) -> bool:
    """Create the lock file (True), or False if a live compiler holds it."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                continue
            if age < STALE_LOCK_S:
                return False
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Compile (or load) the kernels in the foreground; with ``--lock PATH``, remove that lock
    file when done (the background compiler started by :func:`start`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    lock = Path(args[args.index("--lock") + 1]) if "--lock" in args else None
    try:
        if lock is not None:
            lock.write_text(str(os.getpid()))  # the compiler's own pid, for whoever looks
        from dispatcher.solver import alns

        took = alns.warm_up()
        print(f"ALNS kernels ready in {took:.1f} s (cache: {cache_dir()})")
        return 0
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)


if __name__ == "__main__":
    raise SystemExit(main())
