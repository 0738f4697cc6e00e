"""The day simulator on a small day: seeded and reproducible, every promise kept without noise
or no-shows, and no-shows and breakdowns counted when asked for."""

from __future__ import annotations

from dispatcher.simulate import SimParams, simulate
from dispatcher.solver.live import build_day
from tests.solver.conftest import tiny_problem


def _day():  # type: ignore[no-untyped-def]
    p = tiny_problem()
    day, outs = build_day(p, p.requests)
    assert all(o.accepted for o in outs)
    return day.problem, day.plan


def test_without_noise_every_promise_is_kept() -> None:
    problem, plan = _day()
    res = simulate(problem, plan, SimParams(seed=1, noise=0.0, no_show=0.0))
    assert res.promised == 2 and res.kept == 2 and res.kept_share == 1.0
    assert res.refused_after_promise == 0 and max(res.lateness_min) == 0
    assert res.events >= 4  # two boardings, two drop-offs


def test_seeded_and_reproducible() -> None:
    problem, plan = _day()
    a = simulate(problem, plan, SimParams(seed=7, noise=0.3, no_show=0.5))
    b = simulate(problem, plan, SimParams(seed=7, noise=0.3, no_show=0.5))
    assert a.row() == b.row()


def test_no_shows_and_breakdowns_are_counted() -> None:
    problem, plan = _day()
    res = simulate(problem, plan, SimParams(seed=0, noise=0.1, no_show=1.0))
    assert res.no_shows == 2 and res.kept == 0
    res = simulate(problem, plan, SimParams(seed=0, noise=0.1, no_show=0.0, breakdowns=1))
    assert res.kept + res.refused_after_promise <= res.promised
