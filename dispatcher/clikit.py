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


@contextmanager
def step(description: str) -> Iterator[None]:
    """A progress line with a spinner and the elapsed time, for every step that can take a while
    (on a terminal only: scripts reading stderr get nothing but errors)."""
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
