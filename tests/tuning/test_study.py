"""Tuning: a tiny Optuna study on a two-worker Dask LocalCluster, stored in SQLite, resumed (from
the command line, on an existing scheduler), interrupted trials queued again, and the parameter
file it writes loaded and used by the solver."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dispatcher.errors import InputError
from dispatcher.model import SolverParams
from dispatcher.params import load_params
from dispatcher.tuning.study import (
    EXTRA_VEHICLE_SCORE,
    INFEASIBLE_SCORE,
    SPACE,
    compare_files,
    default_values,
    resolve_instances,
    run_score,
    run_study,
)

pytest.importorskip("optuna", reason='optuna is not installed (pip install "dispatcher[tune]")')

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "data" / "benchmarks"
needs_shared = pytest.mark.skipif(
    not (SHARED / "bks.csv").exists(), reason=f"shared benchmark data not found under {SHARED}"
)

INSTANCES = ["a2-16", "a2-20"]
LIMIT = 1.0


def test_run_score() -> None:
    assert run_score(True, 1.5, 10, 10, 3, None, False) == 1.5
    assert run_score(True, 1.5, 10, 10, 5, 3, True) == 1.5 + 2 * EXTRA_VEHICLE_SCORE
    assert (
        run_score(True, 1.5, 10, 10, 2, 3, True) == 1.5
    )  # fewer vehicles than the best-known: no bonus
    # an infeasible run scores above any feasible one, more so when it leaves requests out
    assert run_score(False, -5.0, 10, 10, 2, None, False) == INFEASIBLE_SCORE
    assert run_score(False, None, 5, 10, 2, None, False) == 1.5 * INFEASIBLE_SCORE


@needs_shared
def test_bad_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(InputError) as ei:
        resolve_instances("darp", "a2-16,zz-1", SHARED)
    assert ei.value.where == "--instances" and "zz-1" in ei.value.message
    with pytest.raises(InputError) as ei:
        run_study(
            "tsp", INSTANCES, 1, storage=f"sqlite:///{tmp_path / 'x.db'}", instances_dir=SHARED
        )
    assert ei.value.where == "--family"
    with pytest.raises(InputError) as ei:
        run_study(
            "darp",
            INSTANCES,
            1,
            time_limit_s=0,
            storage=f"sqlite:///{tmp_path / 'x.db'}",
            instances_dir=SHARED,
        )
    assert ei.value.where == "--time-limit"


@needs_shared
def test_tiny_study_persists_resumes_and_writes_params(tmp_path: Path) -> None:
    import optuna
    from distributed import LocalCluster
    from typer.testing import CliRunner

    from dispatcher.solver import default_solver
    from dispatcher.solver.checker import check_plan
    from dispatcher.tuning.cli import cli

    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    out = tmp_path / "params.toml"
    complete = optuna.trial.TrialState.COMPLETE

    # 1. a new study on the default LocalCluster (two workers): trial 0 is the defaults
    res = run_study("darp", INSTANCES, 2, LIMIT, storage=storage, out=out, instances_dir=SHARED)
    assert [r.number for r in sorted(res.trials_run, key=lambda r: r.number)] == [0, 1]
    assert res.default_number == 0 and res.default_value is not None
    study = optuna.load_study(study_name=res.study_name, storage=storage)
    done = study.get_trials(states=(complete,))
    assert len(done) == 2
    assert {k: done[0].params[k] for k in SPACE} == default_values()
    for t in done:
        assert t.value is not None and math.isfinite(t.value)
        assert set(t.user_attrs["instances"]) == set(INSTANCES)
        # a2-16/a2-20 are solved to (near) optimality in 1 s by any reasonable setting: the
        # value is a small gap, not the infeasibility penalty
        assert t.user_attrs["feasible"] == 2 and t.value < INFEASIBLE_SCORE
    assert study.user_attrs == {"family": "darp", "instances": INSTANCES, "time_limit_s": LIMIT}

    # a driver that died with a trial in flight (on parameters not run yet)
    run = [{k: t.params[k] for k in SPACE} for t in done]
    ghost_values = next(
        v
        for v in (
            {**default_values(), "first_solution": f, "metaheuristic": m}
            for f in SPACE["first_solution"]
            for m in SPACE["metaheuristic"]
        )
        if v not in run
    )
    study.enqueue_trial(ghost_values)
    ghost = study.ask()
    assert {k: ghost.suggest_categorical(k, list(v)) for k, v in SPACE.items()} == ghost_values

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},
    ) as cluster:
        address = cluster.scheduler_address
        # 2. resumed from the command line on an existing scheduler (the code is uploaded)
        r = CliRunner().invoke(
            cli,
            [
                "tune",
                "--family",
                "darp",
                "--instances",
                ",".join(INSTANCES),
                "--trials",
                "1",
                "--time-limit",
                str(LIMIT),
                "--scheduler",
                address,
                "--storage",
                storage,
                "--out",
                str(out),
                "--instances-dir",
                str(SHARED),
            ],
        )
        assert r.exit_code == 0, r.output
        assert "3 complete trial(s)" in r.output
        # 3. the trial left running is failed and its parameters queued again; the next run takes
        # them
        run_study(
            "darp",
            INSTANCES,
            0,
            LIMIT,
            scheduler=address,
            storage=storage,
            stale_after_s=0,
            instances_dir=SHARED,
        )
        assert study.trials[ghost.number].state == optuna.trial.TrialState.FAIL
        res = run_study(
            "darp",
            INSTANCES,
            1,
            LIMIT,
            scheduler=address,
            storage=storage,
            out=out,
            instances_dir=SHARED,
        )
        assert res.trials_run[0].values == ghost_values
        assert res.complete_trials == 4
        # the written file against the defaults on an instance the study did not see
        names, comp = compare_files(
            "darp",
            "a3-18",
            {"defaults": SolverParams(), "tuned": load_params(out)},
            0.5,
            scheduler=address,
            instances_dir=SHARED,
        )
        assert names == ["a3-18"] and set(comp) == {"defaults", "tuned"}
        assert all(
            len(v) == 1 and v[0].instance == "a3-18" and v[0].total_s < 5 for v in comp.values()
        )
    # parameters are never run twice in a study (a repeated proposal is pruned, not run)
    runs = [tuple(t.params[k] for k in SPACE) for t in study.get_trials(states=(complete,))]
    assert len(runs) == len(set(runs)) == 4

    # the same study name in other conditions is refused, naming the option
    with pytest.raises(InputError) as ei:
        run_study(
            "darp",
            ["a2-16"],
            1,
            LIMIT,
            storage=storage,
            study_name=res.study_name,
            instances_dir=SHARED,
        )
    assert ei.value.where == "--study"

    # 4. the parameter file: the best trial's values, loaded and used by the solver
    best = optuna.load_study(study_name=res.study_name, storage=storage).best_trial
    params = load_params(out, base=SolverParams(time_limit_s=0.5))
    assert (params.first_solution, params.metaheuristic) == (
        best.params["first_solution"],
        best.params["metaheuristic"],
    )
    assert params.time_limit_s == 0.5  # the file holds the tuned keys only
    assert f"complete_trials = {res.complete_trials}" in out.read_text()
    from dispatcher.tuning.instances import load_instance

    inst = load_instance("darp", "a2-16", SHARED)
    plan = default_solver(params).solve(inst.problem)
    report = check_plan(inst.problem, plan)
    assert report.ok and report.recomputed["served"] == len(inst.problem.requests)
