"""What every command shares: the consoles, one-line errors with exit codes, progress bars.

Kept apart from ``dispatcher.cli`` so that the sub-apps living beside their code (reports,
scenarios, the server) can use it without importing the main command line.
"""

from __future__ import annotations

import functools
import os
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from dispatcher.errors import DispatcherError, Notice

ServiceFile = Annotated[
    Path | None,
    typer.Option(
        "--service",
        envvar="DISPATCHER_SERVICE",
        help="Service configuration (TOML: territory, hours, calendar, booking rules, agency); "
        "default: $DISPATCHER_SERVICE, else the Pays du Coquelicot's.",
    ),
]

Lang = Annotated[str, typer.Option(help="Language of the figures and messages: fr | en.")]

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
_IMPORTED = time.monotonic()


def process_started() -> float:
    """When this process started, on the ``time.monotonic`` clock: the start of a command's
    time limit (the interpreter's own start-up and imports count too). From ``/proc`` where
    there is one, else when this module was imported (a little later)."""
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
        if 0.0 <= age < time.monotonic() - _IMPORTED + 60.0:
            return time.monotonic() - age
    except (OSError, ValueError, IndexError):
        pass
    return _IMPORTED


_SHOW_WARNING = warnings.showwarning


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(category, type) and issubclass(category, Notice):
        line = f"[bold yellow]warning[/]: {escape(str(message))}"
        err_console.print(line, highlight=False, soft_wrap=True)
    else:
        _SHOW_WARNING(message, category, *args, **kwargs)


def handle_errors(fn: F) -> F:
    """Turn the project's errors into one line on stderr and the error's exit code; notices
    (:class:`~dispatcher.errors.Notice`) into one ``warning:`` line each."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", Notice)
                warnings.showwarning = _show_warning
                return fn(*args, **kwargs)
        except DispatcherError as e:
            # escaped: a message may hold brackets ('pip install "dispatcher[tune]"', "[params]")
            line = f"[bold red]error[/]: {escape(str(e))}"
            err_console.print(line, highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None

    return cast(F, wrapper)  # functools.wraps keeps the signature typer reads


# The progress lines of the commands, French (the default) and English (``--lang en``)
STEPS: dict[str, dict[str, str]] = {
    "graph_build": {
        "fr": "Construction du réseau routier ({source})",
        "en": "Building the road graph ({source})",
    },
    "graph_load": {"fr": "Chargement du réseau routier", "en": "Loading the road graph"},
    "graph_load_of": {
        "fr": "Chargement du réseau routier ({territory})",
        "en": "Loading the road graph ({territory})",
    },
    "matrices": {"fr": "Calcul des matrices {n} x {n}", "en": "Computing {n} x {n} matrices"},
    "placing": {
        "fr": "Placement des lieux et calcul des temps de parcours",
        "en": "Placing the stops and computing travel times",
    },
    "placing_n": {
        "fr": "Placement de {n} demandes et calcul des temps de parcours",
        "en": "Placing {n} requests and computing travel times",
    },
    "planning": {
        "fr": "Planification de {n} demandes sur {nv} véhicules (limite de temps {limit} s)",
        "en": "Planning {n} requests on {nv} vehicles (time limit {limit} s)",
    },
    "planning_mixed": {
        "fr": "Planification de {n} demandes sur {nv} véhicules, {vol} bénévoles et {off} "
        "offres de covoiturage (limite de temps {limit} s)",
        "en": "Planning {n} requests on {nv} vehicles, {vol} volunteers and {off} carpool "
        "offers (time limit {limit} s)",
    },
    "checking": {
        "fr": "Vérification indépendante du plan",
        "en": "Checking the plan independently",
    },
    "pseudonymising": {
        "fr": "Pseudonymisation (noms et téléphones retirés, identifiants pseudonymisés, lieux "
        "ramenés à leur commune)",
        "en": "Pseudonymising (names and phones out, ids pseudonymised, places communes)",
    },
    "drawing_roads": {
        "fr": "Tracé des itinéraires sur les routes",
        "en": "Drawing the routes along the roads",
    },
    "drawing_routes": {"fr": "Tracé des itinéraires", "en": "Drawing the routes"},
    "drawing_map": {"fr": "Dessin de la carte de la journée", "en": "Drawing the map of the day"},
    "simulating_on": {
        "fr": "Simulation, graine {seed}, avec replanification",
        "en": "Simulating seed {seed}, re-planning on",
    },
    "simulating_off": {
        "fr": "Simulation, graine {seed}, sans replanification",
        "en": "Simulating seed {seed}, re-planning off",
    },
    "scenario_local": {
        "fr": "{n} plans ({v} variantes x {s} graines) sur {workers} processus locaux",
        "en": "Running {n} plans ({v} variants x {s} seeds) on {workers} local process(es)",
    },
    "scenario_dask": {
        "fr": "{n} plans ({v} variantes x {s} graines) sur l'ordonnanceur Dask {scheduler}",
        "en": "Running {n} plans ({v} variants x {s} seeds) on Dask scheduler {scheduler}",
    },
}


def step_text(key: str, lang: str = "fr", **fields: Any) -> str:
    """The progress line ``key`` of :data:`STEPS` in ``lang`` (``fr`` unless ``en``)."""
    return STEPS[key]["en" if lang == "en" else "fr"].format(**fields)


@contextmanager
def step(key: str, lang: str = "fr", **fields: Any) -> Iterator[None]:
    """A progress line with a spinner and the elapsed time, for every step that can take a while
    (on a terminal only: scripts reading stderr get nothing but errors): the line ``key`` of
    :data:`STEPS`, French by default, English with ``lang="en"``."""
    description = step_text(key, lang, **fields)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=1)
        yield
        progress.update(task, completed=1)
