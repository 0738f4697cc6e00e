"""Tune the solver's parameters on benchmark instances: an Optuna study whose trials run on Dask.

Each trial is one set of :class:`~dispatcher.model.SolverParams` (the search space is
:data:`SPACE`), solved on every chosen instance with the same time limit; every plan is judged
by the project's checker (``dispatcher.solver.checker.check_plan``) and the instance's extra
constraints, exactly as ``python -m benchmarks.bench`` does. A trial's value, minimised, is the
mean over the instances of:

* the gap % of the plan's cost (unrounded distances) to the best-known value, when the plan is
  feasible and serves every request; plus :data:`EXTRA_VEHICLE_SCORE` per vehicle above the
  best-known count for the families ranked by vehicles first (PDPTW, VRPTW);
* :data:`INFEASIBLE_SCORE` (+ the same again times the share of requests left unserved) when
  it is not: far above any gap a feasible plan reaches.

The runs of all trials are tasks on a Dask cluster: a ``LocalCluster`` (2 single-threaded
worker processes on 127.0.0.1) by default, or an existing scheduler given by its address. The
instances are read once here (from the folder that
:func:`~dispatcher.tuning.instances.find_instances_dir` finds) and scattered to the workers:
the workers need the ``dispatcher`` package (same version, with OR-Tools), neither a source
checkout nor the instances. Several trials run at once when
the workers would otherwise idle (Optuna's TPE sampler with a constant liar). Only this process
talks to the study's storage (Optuna RDB, SQLite by default), so a study is resumed by running
the same command again: trials already told are kept, trials left running by an interrupted
run are marked failed and their parameters queued again. A new study first evaluates the
default parameters (its trial 0), so the defaults and the best are measured in the same run.

The result is a TOML parameter file with the tuned keys in ``[params]`` and how they were found
in ``[tune]``; ``dispatcher.params.load_params`` reads it.

Optuna and Dask are the optional ``tune`` extra (``pip install "dispatcher[tune]"``): they are
imported when a study runs, never with this module. Commands: ``dispatcher tune``
(:mod:`dispatcher.tuning.cli`), and ``python -m benchmarks.tune`` in a source checkout.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatcher.errors import InputError
from dispatcher.model import REFINEMENTS, SolverParams
from dispatcher.params import params_from_mapping, params_to_mapping, save_params
from dispatcher.solver.ortools_names import FIRST_SOLUTION_STRATEGIES, METAHEURISTICS
from dispatcher.tuning.instances import (
    FAMILIES,
    Instance,
    find_instances_dir,
    instance_paths,
    judge,
    load_instance,
)

if TYPE_CHECKING:  # pragma: no cover
    import optuna
    from distributed import Client, as_completed

log = logging.getLogger(__name__)

# The knobs of SolverParams a trial chooses (the time limit is the study's, the seed does not
# change what OR-Tools' routing search does, the solution limit only shortens it).
SPACE: dict[str, tuple[str | float, ...]] = {
    "first_solution": FIRST_SOLUTION_STRATEGIES,
    "metaheuristic": METAHEURISTICS,
    "refinement": REFINEMENTS,
    "alns_share": (0.5, 0.65, 0.8, 0.9),  # the time split between OR-Tools and the ALNS layer
}
INFEASIBLE_SCORE = 100.0
EXTRA_VEHICLE_SCORE = 10.0
DEFAULT_STORAGE = "sqlite:///tune.db"
DEFAULT_WORKERS = 2
MAX_REPEATS = 50  # proposals of already-run parameters in a row before a study stops early


# --------------------------------------------------------------------------------------------
# one run, on a worker
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceScore:
    """One run of the solver on one instance with one set of parameters, judged and scored."""

    instance: str
    feasible: bool
    served: int
    requests: int
    vehicles: int
    bks_vehicles: int | None
    cost: float
    gap_pct: float | None
    score: float
    total_s: float
    status: str
    violations: str = ""


def run_score(
    feasible: bool,
    gap_pct: float | None,
    served: int,
    requests: int,
    vehicles: int,
    bks_vehicles: int | None,
    hierarchical: bool,
) -> float:
    """The number a trial minimises for one run (see the module's docstring)."""
    if not feasible:
        unserved = (requests - served) / requests if requests else 0.0
        return INFEASIBLE_SCORE * (1.0 + unserved)
    score = gap_pct if gap_pct is not None else 0.0
    if hierarchical and bks_vehicles is not None:
        score += EXTRA_VEHICLE_SCORE * max(0, vehicles - bks_vehicles)
    return score


def evaluate(instance: Instance, params: SolverParams) -> InstanceScore:
    """Solve ``instance`` with OR-Tools and ``params``, check the plan, score it (a Dask task)."""
    from dispatcher.solver import default_solver

    logging.getLogger("dispatcher").setLevel(logging.ERROR)
    problem = instance.problem
    n = len(problem.requests)
    t0 = time.perf_counter()
    try:
        plan = default_solver(params).solve(problem)
    except Exception as exc:  # noqa: BLE001 - a crash is a result like any other, scored as infeasible
        return InstanceScore(
            instance.name,
            False,
            0,
            n,
            0,
            instance.bks_vehicles,
            math.nan,
            None,
            run_score(False, None, 0, n, 0, None, False),
            time.perf_counter() - t0,
            "ERROR",
            f"{type(exc).__name__}: {exc}",
        )
    total = time.perf_counter() - t0
    v = judge(instance, plan)
    problems = v.problems
    return InstanceScore(
        instance=instance.name,
        feasible=v.feasible,
        served=v.served,
        requests=n,
        vehicles=v.vehicles,
        bks_vehicles=instance.bks_vehicles,
        cost=v.cost,
        gap_pct=v.gap_pct,
        score=run_score(
            v.feasible,
            v.gap_pct,
            v.served,
            n,
            v.vehicles,
            instance.bks_vehicles,
            instance.hierarchical,
        ),
        total_s=total,
        status=plan.stats.status.value,
        violations="; ".join(problems[:3])
        + (f" (+{len(problems) - 3})" if len(problems) > 3 else ""),
    )


def trial_value(scores: Sequence[InstanceScore]) -> float:
    """A trial's value: the mean score over its instances."""
    return statistics.fmean(s.score for s in scores)


# --------------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------------


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int = DEFAULT_WORKERS) -> Iterator[Client]:
    """A client of the given scheduler, or of a new LocalCluster (``n_workers`` single-threaded
    processes on 127.0.0.1, no dashboard) closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise InputError(f"cannot reach the Dask scheduler: {e}", "--scheduler") from None
        try:
            yield client
        finally:
            client.close()
        return
    if n_workers < 1:
        raise InputError("must be at least 1", "--workers")
    dlog = logging.getLogger("distributed")
    level = dlog.level
    dlog.setLevel(max(level, logging.WARNING))  # the scheduler runs here: no INFO line per event
    try:
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # no dashboard; its HTTP server (health checks) on any free port
                dashboard_address=None,
                scheduler_kwargs={"dashboard_address": ":0"},
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    finally:
        dlog.setLevel(level)


# --------------------------------------------------------------------------------------------
# the study
# --------------------------------------------------------------------------------------------


def default_study_name(family: str, instances: Sequence[str], time_limit_s: float) -> str:
    return f"{family}-{'+'.join(instances)}-{time_limit_s:g}s"


def suggest(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """The trial's choice of every key of :data:`SPACE`."""
    return {k: trial.suggest_categorical(k, list(v)) for k, v in SPACE.items()}


def params_of(values: Mapping[str, Any], time_limit_s: float) -> SolverParams:
    """SolverParams for a trial's values at the study's time limit (errors name ``trial.<key>``)."""
    return params_from_mapping({**values, "time_limit_s": time_limit_s}, where="trial")


def _space_key(values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(k) for k in SPACE)


def default_values() -> dict[str, Any]:
    """The defaults of SolverParams for the keys of the search space."""
    return params_to_mapping(SolverParams(), SPACE)


@dataclass
class TrialReport:
    """What a finished trial gave (passed to ``on_trial`` and kept in the result)."""

    number: int
    values: dict[str, Any]
    value: float | None
    scores: list[InstanceScore]
    wall_s: float
    error: str = ""

    @property
    def feasible(self) -> int:
        return sum(s.feasible for s in self.scores)


@dataclass
class StudyResult:
    study_name: str
    storage: str
    family: str
    instances: list[str]
    time_limit_s: float
    trials_run: list[TrialReport]
    complete_trials: int
    best_number: int
    best_values: dict[str, Any]
    best_value: float
    default_number: int | None
    default_value: float | None
    out: Path | None = None
    comparison: dict[str, list[InstanceScore]] = field(default_factory=dict)

    @property
    def best_params(self) -> SolverParams:
        return params_of(self.best_values, self.time_limit_s)


def _rdb_storage(url: str) -> optuna.storages.RDBStorage:
    import optuna

    try:
        return optuna.storages.RDBStorage(url)
    except Exception as e:  # noqa: BLE001 - SQLAlchemy's errors are many; say which URL and why
        raise InputError(f"cannot open the study storage: {e}", "--storage") from None


def open_study(
    storage: str,
    study_name: str,
    family: str,
    instances: Sequence[str],
    time_limit_s: float,
    sampler_seed: int = 0,
) -> optuna.Study:
    """Create the study, or load it when it exists and was run in the same conditions."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rdb = _rdb_storage(storage)
    conditions = {
        "family": family,
        "instances": list(instances),
        "time_limit_s": float(time_limit_s),
    }
    # created studies get their conditions first; a sampler reseeded by the number of trials so
    # that a resumed study does not replay the random start of the previous run
    study = optuna.create_study(
        storage=rdb, study_name=study_name, direction="minimize", load_if_exists=True
    )
    attrs = study.user_attrs
    if not attrs:
        for k, v in conditions.items():
            study.set_user_attr(k, v)
    else:
        old = {k: attrs.get(k) for k in conditions}
        if old != conditions:
            raise InputError(
                f"study {study_name!r} was run on "
                f"{old['family']} {','.join(old['instances'] or [])} at "
                f"{old['time_limit_s']:g} s, not "
                f"{family} {','.join(instances)} at {time_limit_s:g} s: "
                "give another --study name",
                "--study",
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # constant_liar
        study.sampler = optuna.samplers.TPESampler(
            seed=sampler_seed + len(study.trials), constant_liar=True
        )
    return study


def requeue_stale(study: optuna.Study, stale_after_s: float) -> list[int]:
    """Trials left RUNNING for longer than ``stale_after_s`` (an interrupted run): mark them
    failed and queue their parameters again. Returns their numbers."""
    from optuna.trial import TrialState

    now = dt.datetime.now()
    out = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if t.datetime_start is None or (now - t.datetime_start).total_seconds() < stale_after_s:
            continue
        study.tell(t.number, state=TrialState.FAIL)
        if t.params:
            study.enqueue_trial(dict(t.params), skip_if_exists=False)
        out.append(t.number)
    return out


def _scores_attr(scores: Sequence[InstanceScore]) -> dict[str, dict[str, Any]]:
    return {
        s.instance: {
            "gap_pct": None if s.gap_pct is None else round(s.gap_pct, 4),
            "feasible": s.feasible,
            "vehicles": s.vehicles,
            "cost": None if math.isnan(s.cost) else round(s.cost, 4),
            "score": round(s.score, 4),
            "status": s.status,
        }
        for s in scores
    }


def _check_study_arguments(family: str, trials: int, time_limit_s: float) -> None:
    """The faults of run_study's arguments, named by their command-line options."""
    if family not in FAMILIES:
        raise InputError(f"unknown family (one of {', '.join(FAMILIES)})", "--family")
    if trials < 0:
        raise InputError("must be at least 0", "--trials")
    if not (time_limit_s > 0 and math.isfinite(time_limit_s)):
        raise InputError("must be a positive number of seconds", "--time-limit")


def _resume_study(study: optuna.Study, stale_after_s: float) -> None:
    """Fail the trials an interrupted run left running (their parameters queued again), and
    queue the defaults as the first trial of a new study."""
    stale = requeue_stale(study, stale_after_s)
    if stale:
        log.warning(
            "trial(s) %s were left running by an interrupted run: failed, parameters queued again",
            stale,
        )
    if not study.trials:
        study.enqueue_trial(default_values())


class _TrialDriver:
    """Runs new trials of a study on the Dask workers: asks the sampler for parameters (skipping
    those already run), submits one task per instance, tells the study a trial's value once all
    its instances are solved (or fails it when one task fails), and keeps every worker busy
    until ``trials`` new trials are done."""

    def __init__(
        self,
        study: optuna.Study,
        client: Client,
        ac: as_completed,
        inst_futures: Sequence[Any],
        trials: int,
        time_limit_s: float,
        on_trial: Callable[[TrialReport], None] | None,
    ) -> None:
        import optuna

        self.study = study
        self.client = client
        self.inst_futures = inst_futures
        self.trials = trials
        self.time_limit_s = time_limit_s
        self.on_trial = on_trial
        self.slots = max(1, sum(client.nthreads().values()))
        self.ac = ac  # the submitted runs, as they finish
        self.owner: dict[Any, tuple[int, int]] = {}  # future key -> (trial number, instance index)
        self.live: dict[int, dict[str, Any]] = {}
        self.asked = 0
        # parameters already run, or running in another driver of the same study (stale ones were
        # failed before)
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)
        self.seen = {_space_key(t.params) for t in study.get_trials(deepcopy=False, states=states)}
        self.repeats = 0  # proposals in a row that were already run
        self.reports: list[TrialReport] = []

    def run(self) -> list[TrialReport]:
        """Run the trials; the reports of those finished, in the order they finished."""
        self.fill()
        for fut in self.ac:
            num, i = self.owner.pop(fut.key)
            st = self.live.get(num)
            if st is None:  # a sibling failed and the trial is already closed
                continue
            try:
                st["scores"][i] = fut.result()
            except Exception as e:  # noqa: BLE001 - a lost worker fails the trial, not the study
                self._fail(num, st, e)
            else:
                if all(s is not None for s in st["scores"]):
                    self._complete(num, st)
            self.fill()
        return self.reports

    def in_flight(self) -> int:
        return sum(1 for st in self.live.values() for s in st["scores"] if s is None)

    def launch(self) -> bool:
        """Ask for a trial and submit its runs; False (and the trial pruned) when its
        parameters were already run."""
        import optuna

        trial = self.study.ask()
        values = suggest(trial)
        key = _space_key(values)
        if key in self.seen:
            # same parameters as a trial run or running: not run again (the space is small
            # and the budget too); pruned, which the sampler ignores
            trial.set_user_attr("duplicate", True)
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            return False
        self.seen.add(key)
        self.asked += 1
        params = params_of(values, self.time_limit_s)
        futs = [self.client.submit(evaluate, f, params, pure=False) for f in self.inst_futures]
        self.live[trial.number] = {
            "trial": trial,
            "values": values,
            "scores": [None] * len(futs),
            "futures": futs,
            "t0": time.perf_counter(),
        }
        for i, f in enumerate(futs):
            self.owner[f.key] = (trial.number, i)
            self.ac.add(f)
        return True

    def fill(self) -> None:
        """Launch trials while some are left to run and a worker would otherwise idle."""
        while (
            self.asked < self.trials
            and self.in_flight() < self.slots
            and self.repeats < MAX_REPEATS
        ):
            self.repeats = 0 if self.launch() else self.repeats + 1
        if self.repeats >= MAX_REPEATS and self.asked < self.trials and not self.live:
            log.warning(
                "the sampler proposed only parameters already run %d times in a row: "
                "stopping after %d new trial(s)",
                MAX_REPEATS,
                self.asked,
            )

    def _fail(self, num: int, st: dict[str, Any], e: Exception) -> None:
        import optuna

        for other in st["futures"]:
            other.cancel()
        trial = st["trial"]
        trial.set_user_attr("error", f"{type(e).__name__}: {e}")
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        rep = TrialReport(
            num,
            st["values"],
            None,
            [],
            time.perf_counter() - st["t0"],
            f"{type(e).__name__}: {e}",
        )
        self._finished(num, rep)

    def _complete(self, num: int, st: dict[str, Any]) -> None:
        scores: list[InstanceScore] = st["scores"]
        trial = st["trial"]
        value = trial_value(scores)
        trial.set_user_attr("instances", _scores_attr(scores))
        trial.set_user_attr("feasible", sum(s.feasible for s in scores))
        self.study.tell(trial, value)
        rep = TrialReport(num, st["values"], value, scores, time.perf_counter() - st["t0"])
        self._finished(num, rep)

    def _finished(self, num: int, rep: TrialReport) -> None:
        self.reports.append(rep)
        del self.live[num]
        if self.on_trial:
            self.on_trial(rep)


def _default_trial(
    complete: Sequence[optuna.trial.FrozenTrial],
) -> optuna.trial.FrozenTrial | None:
    """The first complete trial on the default parameters (None when there is none)."""
    dflt = default_values()
    default_trials = [t for t in complete if {k: t.params.get(k) for k in SPACE} == dflt]
    return default_trials[0] if default_trials else None


def run_study(
    family: str,
    instances: Sequence[str],
    trials: int,
    time_limit_s: float = 5.0,
    *,
    scheduler: str | None = None,
    storage: str = DEFAULT_STORAGE,
    study_name: str | None = None,
    out: str | Path | None = None,
    n_workers: int = DEFAULT_WORKERS,
    sampler_seed: int = 0,
    compare: bool = False,
    stale_after_s: float | None = None,
    command: str = "",
    on_trial: Callable[[TrialReport], None] | None = None,
    instances_dir: Path | None = None,
) -> StudyResult:
    """Run ``trials`` more trials of the study (created or resumed) and write the best
    parameters to ``out`` (TOML or JSON). With ``compare``, the defaults and the best are then
    run again side by side (the same instances, at the same time, on the same workers).

    ``stale_after_s``: a RUNNING trial older than this is taken as left by an interrupted run
    (default: three times one trial's sequential solve time, plus a minute). ``instances_dir``:
    the folder of the instances (default: see :func:`find_instances_dir`).
    """
    import optuna  # the tune extra: missing, it fails here, before any work
    from distributed import as_completed

    _check_study_arguments(family, trials, time_limit_s)
    root = find_instances_dir(instances_dir)
    names = resolve_instances(family, instances, root)
    insts = [load_instance(family, n, root=root) for n in names]
    name = study_name or default_study_name(family, names, time_limit_s)
    study = open_study(storage, name, family, names, time_limit_s, sampler_seed)
    _resume_study(
        study, stale_after_s if stale_after_s is not None else 3 * len(insts) * time_limit_s + 60
    )

    comparison: dict[str, list[InstanceScore]] = {}
    with dask_client(scheduler, n_workers) as client:
        inst_futures = client.scatter(insts, broadcast=True)
        driver = _TrialDriver(
            study, client, as_completed(), inst_futures, trials, time_limit_s, on_trial
        )
        reports = driver.run()
        complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not complete:
            raise InputError(
                "no trial of the study has completed yet: run with --trials 1 or more", "--trials"
            )
        best = study.best_trial
        best_values = {k: best.params[k] for k in SPACE if k in best.params}
        dtrial = _default_trial(complete)
        if compare:
            comparison = compare_params(
                client,
                inst_futures,
                {
                    "defaults": params_of(default_values(), time_limit_s),
                    "tuned": params_of(best_values, time_limit_s),
                },
            )

    result = StudyResult(
        study_name=name,
        storage=storage,
        family=family,
        instances=names,
        time_limit_s=time_limit_s,
        trials_run=reports,
        complete_trials=len(complete),
        best_number=best.number,
        best_values=best_values,
        best_value=float(best.value) if best.value is not None else math.nan,
        default_number=dtrial.number if dtrial else None,
        default_value=float(dtrial.value) if dtrial and dtrial.value is not None else None,
        comparison=comparison,
    )
    if out is not None:
        result.out = write_params_file(result, Path(out), command)
    return result


def compare_params(
    client: Client,
    inst_futures: Sequence[Any],
    candidates: Mapping[str, SolverParams],
) -> dict[str, list[InstanceScore]]:
    """Every candidate on every instance, submitted interleaved so that they share the workers
    in the same conditions."""
    futs: dict[str, list[Any]] = {k: [] for k in candidates}
    for f in inst_futures:
        for label, params in candidates.items():
            futs[label].append(client.submit(evaluate, f, params, pure=False))
    return {label: client.gather(fs) for label, fs in futs.items()}


def compare_files(
    family: str,
    instances: Sequence[str] | str,
    candidates: Mapping[str, SolverParams],
    time_limit_s: float,
    *,
    scheduler: str | None = None,
    n_workers: int = DEFAULT_WORKERS,
    instances_dir: Path | None = None,
) -> tuple[list[str], dict[str, list[InstanceScore]]]:
    """Candidates (e.g. the defaults and a tuned file, each at ``time_limit_s``) on instances
    of the family, side by side on the same workers: to check tuned parameters on instances the
    study did not see."""
    root = find_instances_dir(instances_dir)
    names = resolve_instances(family, instances, root)
    insts = [load_instance(family, n, root=root) for n in names]
    timed = {
        k: params_from_mapping({"time_limit_s": time_limit_s}, base=v)
        for k, v in candidates.items()
    }
    with dask_client(scheduler, n_workers) as client:
        futs = client.scatter(insts, broadcast=True)
        return names, compare_params(client, futs, timed)


def resolve_instances(
    family: str, spec: Sequence[str] | str, root: Path | None = None
) -> list[str]:
    """Instance names as the files spell them (case-insensitive; ``all``; comma-separated)."""
    wanted = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    names = [p.stem for p in instance_paths(family, root)]
    if wanted == ["all"]:
        return names
    if not wanted:
        raise InputError("give at least one instance", "--instances")
    lower = {n.lower(): n for n in names}
    missing = [w for w in wanted if w.lower() not in lower]
    if missing:
        raise InputError(f"unknown {family} instance(s): {', '.join(missing)}", "--instances")
    return list(dict.fromkeys(lower[w.lower()] for w in wanted))


def write_params_file(result: StudyResult, path: Path, command: str = "") -> Path:
    """The best parameters as a parameter file; how they were found in its ``[tune]`` table."""
    lines = [
        f"Solver parameters tuned with Optuna on {result.family} "
        f"({', '.join(result.instances)}), {result.time_limit_s:g} s per instance.",
        f"Best: trial {result.best_number}, mean score {result.best_value:.3f} "
        "(gap % to the best-known; infeasible runs count 100+)",
    ]
    if result.default_value is not None:
        lines.append(
            f"Defaults: trial {result.default_number}, mean score {result.default_value:.3f}"
        )
    if command:
        lines.append(f"Command: {command}")
    lines.append(
        "The time limit is not part of the tuned keys: give it where the solver is called."
    )
    meta: dict[str, Any] = {
        "study": result.study_name,
        "storage": result.storage,
        "family": result.family,
        "instances": result.instances,
        "time_limit_s": result.time_limit_s,
        "complete_trials": result.complete_trials,
        "best_trial": result.best_number,
        "best_score": round(result.best_value, 4),
        "default_trial": result.default_number,
        "default_score": None if result.default_value is None else round(result.default_value, 4),
        "date": dt.date.today().isoformat(),
        "command": command or None,
    }
    for label, scores in result.comparison.items():
        meta[f"rerun_{label}_score"] = round(trial_value(scores), 4)
    return save_params(
        result.best_params, path, keys=list(SPACE), meta=meta, comment="\n".join(lines)
    )


# --------------------------------------------------------------------------------------------
# what the commands print (``dispatcher tune``, ``python -m benchmarks.tune``)
# --------------------------------------------------------------------------------------------


def _fmt_gap(s: InstanceScore) -> str:
    if s.gap_pct is None:
        return "-"
    return f"{s.gap_pct:.2f}" + ("" if s.feasible else " (infeasible)")


def describe_trial(rep: TrialReport) -> str:
    vals = " ".join(f"{v}" for v in rep.values.values())
    if rep.error:
        return f"trial {rep.number:>3} {vals}: FAILED {rep.error}"
    return (
        f"trial {rep.number:>3} {vals}: score {rep.value:.3f}, "
        f"{rep.feasible}/{len(rep.scores)} feasible, "
        f"{rep.wall_s:.1f} s"
    )


def comparison_markdown(result: StudyResult) -> str:
    """Per-instance gaps of the defaults and the tuned parameters, re-run side by side."""
    return scores_markdown(result.instances, result.comparison)


def scores_markdown(
    instances: Sequence[str], comparison: Mapping[str, Sequence[InstanceScore]]
) -> str:
    """Per-instance gaps of each candidate, and the mean score (= mean gap when all are
    feasible)."""
    labels = list(comparison)
    head = "| instance | " + " | ".join(f"{lb} gap %" for lb in labels) + " |"
    lines = [head, "|" + "---|" * (1 + len(labels))]
    for i, inst in enumerate(instances):
        lines.append(
            f"| {inst} | " + " | ".join(_fmt_gap(comparison[lb][i]) for lb in labels) + " |"
        )
    lines.append(
        "| **mean score** | "
        + " | ".join(f"{trial_value(comparison[lb]):.3f}" for lb in labels)
        + " |"
    )
    lines.append(
        "| feasible | "
        + " | ".join(f"{sum(s.feasible for s in comparison[lb])}/{len(instances)}" for lb in labels)
        + " |"
    )
    return "\n".join(lines) + "\n"


def summary(result: StudyResult) -> str:
    lines = [
        f"study {result.study_name!r} in {result.storage}: "
        f"{result.complete_trials} complete trial(s), "
        f"{len(result.trials_run)} run now",
        f"best: trial {result.best_number} {result.best_values} score {result.best_value:.3f}",
    ]
    if result.default_value is not None:
        lines.append(f"defaults: trial {result.default_number} score {result.default_value:.3f}")
    if result.out:
        lines.append(f"written: {result.out}")
    return "\n".join(lines)


__all__ = [
    "EXTRA_VEHICLE_SCORE",
    "INFEASIBLE_SCORE",
    "SPACE",
    "InstanceScore",
    "StudyResult",
    "TrialReport",
    "dask_client",
    "compare_files",
    "evaluate",
    "run_score",
    "run_study",
    "trial_value",
    "write_params_file",
]
