"""The benchmark of an event's own work runs end to end on a very small day and prints a row
per kind of event with every event timed."""

from __future__ import annotations

import pytest

from benchmarks.event_work import main


def test_event_work_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--vehicles", "2", "--fill", "4", "--pings", "2", "--stops", "2"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| event")]
    assert [r.split(" | ")[0] for r in rows] == [
        "| event (position)",
        "| event (boarded, dropped_off)",
    ]
    assert rows[0].split(" | ")[1] == "4"  # 2 vehicles x 2 pings
