"""``dispatcher tune`` from the installed package: it needs no source checkout, reads the
instances from the folder it is given, and says in one line (exit code 2) what is missing: the
optional ``tune`` extra (Optuna, Dask) or the instances."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatcher.cli import app

REPO = Path(__file__).resolve().parents[2]
ARGS = ["tune", "--family", "darp", "--instances", "a2-16", "--trials", "1"]


def one_error_line(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("error"), output
    return lines[0]


@pytest.mark.parametrize("missing", ["optuna", "distributed"])
def test_without_the_tune_extra_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # import fails as if it were not installed
    r = CliRunner().invoke(app, ARGS)
    assert r.exit_code == 2, r.output
    line = one_error_line(r.output)
    assert 'pip install "dispatcher[tune]"' in line
    assert ("optuna" if missing == "optuna" else "dask[distributed]") in line


def test_without_instances_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("optuna")
    pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)  # no ../shared/data/benchmarks from here
    monkeypatch.delenv("DISPATCHER_BENCHMARKS", raising=False)
    r = CliRunner().invoke(app, [*ARGS, "--storage", f"sqlite:///{tmp_path / 't.db'}"])
    assert r.exit_code == 2, r.output
    assert "--instances-dir" in one_error_line(r.output)
    r = CliRunner().invoke(app, [*ARGS, "--instances-dir", str(tmp_path / "nowhere")])
    assert r.exit_code == 2, r.output
    assert "no such folder" in one_error_line(r.output)


def test_the_package_needs_neither_a_checkout_nor_the_extras_to_import(tmp_path: Path) -> None:
    """What a plain install runs (the CLI, the demo, local scenarios) imports without Optuna or
    Dask, and the tuning modules never reach for the checkout's benchmarks/ folder."""
    code = (
        "import sys\n"
        "sys.modules.update(dict.fromkeys(['optuna', 'dask', 'distributed']))\n"
        "import dispatcher.cli, dispatcher.scenario\n"
        "import dispatcher.tuning.cli, dispatcher.tuning.study\n"
        "assert not [m for m in sys.modules if m == 'benchmarks' or m.startswith('benchmarks.')]\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
