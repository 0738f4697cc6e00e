"""``dispatcher ticket card`` and ``dispatcher ticket check``: a code checked on the command line
against the service's database, one readable line and an exit code."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from dispatcher.cli import app


def test_issue_a_card_and_check_it(tmp_path: Path) -> None:
    runner = CliRunner()
    state = ["--state-dir", str(tmp_path)]
    r = runner.invoke(
        app, ["ticket", "card", "--product", "card10", "--svg", str(tmp_path / "q.svg"), *state]
    )
    assert r.exit_code == 0, r.output
    code = r.stdout.strip().splitlines()[0]
    assert code.startswith("DT1-C-") and (tmp_path / "q.svg").read_text().startswith("<svg")
    r = runner.invoke(app, ["ticket", "check", code, *state])
    assert r.exit_code == 0 and r.stdout.startswith("valid: Titre valable.")
    r = runner.invoke(app, ["ticket", "check", code.replace("DT1-C-", "DT1-P-"), *state])
    assert r.exit_code == 1 and r.stdout.startswith("forged:")
    r = runner.invoke(app, ["ticket", "card", "--product", "single", *state])
    assert r.exit_code == 2 and "product" in r.output and "not a card or a pass" in r.output
