"""Tune the solver's parameters from a source checkout: ``python -m benchmarks.tune``.

The study lives in the package (:mod:`dispatcher.tuning.study`, also ``dispatcher tune``); this
runner adds ``--check``: the defaults and a parameter file side by side on instances, without a
study. Optuna and Dask come with ``pip install -e ".[tune]"`` (or ``".[test]"``).

Examples::

    python -m benchmarks.tune darp --instances a2-20,a3-24 --trials 8 --time-limit 5 \
        --out params.toml
    # the defaults vs a parameter file:
    python -m benchmarks.tune darp --instances all --time-limit 5 --check params.toml
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from dispatcher.errors import DispatcherError
from dispatcher.extras import require_tune
from dispatcher.model import SolverParams
from dispatcher.params import load_params
from dispatcher.tuning.instances import FAMILIES
from dispatcher.tuning.study import (
    DEFAULT_STORAGE,
    DEFAULT_WORKERS,
    compare_files,
    comparison_markdown,
    describe_trial,
    run_study,
    scores_markdown,
    summary,
)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.tune", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("family", choices=sorted(FAMILIES))
    ap.add_argument("--instances", required=True, help="comma-separated names, or 'all'")
    ap.add_argument("--trials", type=int, help="trials to run now (added to the study's)")
    ap.add_argument(
        "--time-limit", type=float, default=5.0, help="seconds per instance and trial (default 5)"
    )
    ap.add_argument(
        "--scheduler", help="address of a running Dask scheduler (default: a LocalCluster)"
    )
    ap.add_argument(
        "--workers", type=int, default=DEFAULT_WORKERS, help="LocalCluster workers (default 2)"
    )
    ap.add_argument(
        "--storage", default=DEFAULT_STORAGE, help=f"Optuna RDB URL (default {DEFAULT_STORAGE})"
    )
    ap.add_argument("--study", help="study name (default: family-instances-time)")
    ap.add_argument(
        "--out",
        type=Path,
        default=Path("params.toml"),
        help="parameter file to write (.toml/.json)",
    )
    ap.add_argument(
        "--compare", action="store_true", help="re-run the defaults and the best side by side"
    )
    ap.add_argument("--seed", type=int, default=0, help="sampler seed")
    ap.add_argument(
        "--check",
        type=Path,
        metavar="PARAMS_FILE",
        help="no study: run the defaults and this parameter file side by side on the instances",
    )
    ap.add_argument(
        "--instances-dir",
        type=Path,
        help="folder of the benchmark instances "
        "(default: $DISPATCHER_BENCHMARKS, else ../shared/data/benchmarks)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.check:
        try:
            require_tune("python -m benchmarks.tune")
            candidates = {"defaults": SolverParams(), args.check.name: load_params(args.check)}
            names, comp = compare_files(
                args.family,
                args.instances,
                candidates,
                args.time_limit,
                scheduler=args.scheduler,
                n_workers=args.workers,
                instances_dir=args.instances_dir,
            )
        except DispatcherError as e:
            print(f"error: {e}", file=sys.stderr)
            return e.exit_code
        print(
            f"{args.family}: {len(names)} instance(s), {args.time_limit:g} s each, "
            "side by side on the same workers\n"
        )
        print(scores_markdown(names, comp))
        return 0
    if args.trials is None:
        ap.error("--trials is required (unless --check)")
    command = "python -m benchmarks.tune " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        require_tune("python -m benchmarks.tune")
        result = run_study(
            args.family,
            args.instances,
            args.trials,
            args.time_limit,
            scheduler=args.scheduler,
            storage=args.storage,
            study_name=args.study,
            out=args.out,
            n_workers=args.workers,
            sampler_seed=args.seed,
            compare=args.compare,
            command=command,
            on_trial=lambda r: print(describe_trial(r), file=sys.stderr, flush=True),
            instances_dir=args.instances_dir,
        )
    except DispatcherError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(summary(result))
    if result.comparison:
        print(comparison_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
