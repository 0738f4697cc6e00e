"""``dispatcher tune``: tune the solver's parameters on benchmark instances (Optuna on Dask).

The study itself lives in ``benchmarks/tune.py`` at the root of a source checkout, beside the
instance readers it needs (``benchmarks`` is not part of the installed package, and the
instances are in the checkout's sibling ``../shared``). It is imported only when the command
runs: from the installed package, or from a checkout's root folder (added to the import path
when it holds ``benchmarks/tune.py``); anywhere else the command fails with one line saying so.
"""

from __future__ import annotations

import importlib
import shlex
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from dispatcher.clikit import console, err_console, handle_errors
from dispatcher.errors import DispatcherError, InputError

OPTUNA_REQUIREMENT = "optuna>=4,<5"


def import_tune(cwd: Path | None = None) -> ModuleType:
    """``benchmarks.tune``, from the import path or the checkout in ``cwd``; a DispatcherError
    with one clear line when there is none (or when optuna is missing)."""
    try:
        import optuna  # noqa: F401
    except ModuleNotFoundError:
        raise DispatcherError(f"needs optuna: pip install '{OPTUNA_REQUIREMENT}'", "dispatcher tune") from None
    try:
        return importlib.import_module("benchmarks.tune")
    except ModuleNotFoundError as e:
        if e.name not in ("benchmarks", "benchmarks.tune"):
            raise
    root = (cwd or Path.cwd()).resolve()
    if (root / "benchmarks" / "tune.py").is_file():
        sys.path.insert(0, str(root))  # before the LocalCluster starts: its workers inherit the path
        importlib.invalidate_caches()
        return importlib.import_module("benchmarks.tune")
    raise DispatcherError(
        "needs the benchmarks/ folder of a source checkout: run it from the repository's root folder",
        "dispatcher tune",
    )


@handle_errors
def tune(
    family: Annotated[str, typer.Option(help="darp | pdptw | vrptw")],
    instances: Annotated[str, typer.Option(help="Comma-separated instance names (e.g. a2-16,a3-24), or 'all'.")],
    trials: Annotated[int, typer.Option(help="Trials to run now (added to those the study already has).")],
    time_limit: Annotated[float, typer.Option(help="Seconds per instance in every trial.")] = 5.0,
    scheduler: Annotated[str | None, typer.Option(help="Address of a running Dask scheduler (default: a LocalCluster).")] = None,
    workers: Annotated[int, typer.Option(help="Workers of the LocalCluster (one thread each).")] = 2,
    storage: Annotated[str, typer.Option(help="Optuna RDB storage URL: the study is kept there and resumed.")] = "sqlite:///tune.db",
    study: Annotated[str | None, typer.Option(help="Study name (default: family-instances-time).")] = None,
    out: Annotated[Path, typer.Option(help="Parameter file to write (.toml or .json).")] = Path("params.toml"),
    compare: Annotated[bool, typer.Option(help="Re-run the defaults and the best side by side at the end.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the sampler.")] = 0,
) -> None:
    """Tune the solver's parameters (first-solution strategy, metaheuristic) with an Optuna study
    whose trials run the benchmark on Dask; write the best as a parameter file for --params."""
    if out.suffix.lower() not in (".toml", ".json"):
        raise InputError("must end in .toml or .json", "--out")
    tune_mod = import_tune()
    argv = sys.argv[1:]
    prog = "python -m dispatcher.tune_cli" if sys.argv[0].endswith("tune_cli.py") else "dispatcher"
    command = f"{prog} " + " ".join(shlex.quote(a) for a in argv) if argv[:1] == ["tune"] else ""

    def on_trial(rep: object) -> None:
        err_console.print(tune_mod.describe_trial(rep), highlight=False)

    result = tune_mod.run_study(
        family, instances, trials, time_limit, scheduler=scheduler, storage=storage, study_name=study, out=out,
        n_workers=workers, sampler_seed=seed, compare=compare, command=command, on_trial=on_trial,
    )
    console.print(tune_mod.summary(result), highlight=False)
    if result.comparison:
        console.print(tune_mod.comparison_markdown(result), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``tune`` to the main CLI."""
    app.command("tune")(tune)


cli = typer.Typer(help="Tune the solver's parameters.", no_args_is_help=True, add_completion=False)
register(cli)


@cli.callback()
def _main() -> None:
    """Tune the solver's parameters (``python -m dispatcher.tune_cli tune ...``)."""


if __name__ == "__main__":  # pragma: no cover
    cli()
