"""``dispatcher tune``: tune the solver's parameters on benchmark instances (Optuna on Dask).

The study is :mod:`dispatcher.tuning.study`, part of the installed package; the instances are
read from ``--instances-dir`` (default: ``$DISPATCHER_BENCHMARKS``, else
``../shared/data/benchmarks`` relative to the current directory when it exists). Optuna and Dask
are the optional ``tune`` extra: without them the command says ``pip install "dispatcher[tune]"``
in one line and exits with code 2. They, and the study, are imported only when the command runs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from dispatcher.clikit import console, err_console, handle_errors
from dispatcher.errors import InputError
from dispatcher.extras import require_tune

HELP = {
    "instances": "Comma-separated instance names (e.g. a2-16,a3-24), or 'all'.",
    "trials": "Trials to run now (added to those the study already has).",
    "scheduler": "Address of a running Dask scheduler (default: a LocalCluster).",
    "workers": "Workers of the LocalCluster (one thread each).",
    "storage": "Optuna RDB storage URL: the study is kept there and resumed.",
    "study": "Study name (default: family-instances-time).",
    "out": "Parameter file to write (.toml or .json).",
    "compare": "Re-run the defaults and the best side by side at the end.",
    "instances_dir": "Folder of the benchmark instances (bks.csv and one folder per family; "
    "default: $DISPATCHER_BENCHMARKS, else ../shared/data/benchmarks from here if it exists).",
}


@handle_errors
def tune(
    family: Annotated[str, typer.Option(help="darp | pdptw | vrptw")],
    instances: Annotated[str, typer.Option(help=HELP["instances"])],
    trials: Annotated[int, typer.Option(help=HELP["trials"])],
    time_limit: Annotated[float, typer.Option(help="Seconds per instance in every trial.")] = 5.0,
    scheduler: Annotated[str | None, typer.Option(help=HELP["scheduler"])] = None,
    workers: Annotated[int, typer.Option(help=HELP["workers"])] = 2,
    storage: Annotated[str, typer.Option(help=HELP["storage"])] = "sqlite:///tune.db",
    study: Annotated[str | None, typer.Option(help=HELP["study"])] = None,
    out: Annotated[Path, typer.Option(help=HELP["out"])] = Path("params.toml"),
    compare: Annotated[bool, typer.Option(help=HELP["compare"])] = False,
    seed: Annotated[int, typer.Option(help="Seed of the sampler.")] = 0,
    instances_dir: Annotated[Path | None, typer.Option(help=HELP["instances_dir"])] = None,
) -> None:
    """Tune the solver's parameters (first-solution strategy, metaheuristic, ALNS layer and its
    share of the time) with an Optuna study whose trials run the benchmark on Dask; write the
    best as a parameter file for --params."""
    if out.suffix.lower() not in (".toml", ".json"):
        raise InputError("must end in .toml or .json", "--out")
    require_tune()
    from dispatcher.tuning import instances as readers
    from dispatcher.tuning import study as tuning

    root = readers.find_instances_dir(instances_dir)
    argv = sys.argv[1:]
    prog = "python -m dispatcher.tuning.cli" if sys.argv[0].endswith("cli.py") else "dispatcher"
    command = f"{prog} " + " ".join(shlex.quote(a) for a in argv) if argv[:1] == ["tune"] else ""

    def on_trial(rep: tuning.TrialReport) -> None:
        err_console.print(tuning.describe_trial(rep), highlight=False)

    result = tuning.run_study(
        family,
        instances,
        trials,
        time_limit,
        scheduler=scheduler,
        storage=storage,
        study_name=study,
        out=out,
        n_workers=workers,
        sampler_seed=seed,
        compare=compare,
        command=command,
        on_trial=on_trial,
        instances_dir=root,
    )
    console.print(tuning.summary(result), highlight=False)
    if result.comparison:
        console.print(tuning.comparison_markdown(result), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``tune`` to the main CLI."""
    app.command("tune")(tune)


cli = typer.Typer(help="Tune the solver's parameters.", no_args_is_help=True, add_completion=False)
register(cli)


@cli.callback()
def _main() -> None:
    """Tune the solver's parameters (``python -m dispatcher.tuning.cli tune ...``)."""


if __name__ == "__main__":  # pragma: no cover
    cli()
