"""The key figures people read: every figure named and defined in French and English, the km
and CO2 compared with a stated baseline (worked out by hand), vehicles counted by mode."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatcher.model import Plan, Route, SolverStats, SolveStatus, TimeWindow, Vehicle
from dispatcher.reports.kpi_labels import KPI_LABELS, kpi_rows, status_text
from dispatcher.reports.numbers import number, percent, signed
from dispatcher.solver.kpis import compare_with_baselines, compute_kpis
from tests.solver.test_kpis import H, line_problem, visit


def _day() -> tuple[object, list[Route]]:
    """The bus of tests/solver/test_kpis.py (D A B C E D, r1 A->C and r2 B->E, 8 km) and a
    carpool driver from B to E who takes r3 from A (B A E: 1 + 3 km, 2 km beyond B->E)."""
    p = line_problem()
    driver = Vehicle("c1", "B", "E", TimeWindow(7 * H, 12 * H), seats=3, kind="carpool")
    p = replace(p, vehicles=(*p.vehicles, driver))
    bus = Route(
        "bus",
        start_s=28740,
        end_s=29460,
        visits=(
            visit("r1", "pickup", "A", 28800, 1, 0),
            visit("r2", "pickup", "B", 28920, 2, 1),
            visit("r1", "dropoff", "C", 29040, 1, 1, ride=180),
            visit("r2", "dropoff", "E", 29160, 0, 0, ride=180),
        ),
        distance_m=8000,
    )
    car = Route(
        "c1",
        start_s=28740,
        end_s=29200,
        visits=(
            visit("r3", "pickup", "A", 28800, 1, 0),
            visit("r3", "dropoff", "E", 29040, 0, 0, ride=240),
        ),
        distance_m=5000,
        mode="carpool",
    )
    return p, [bus, Route("spare", 0, 0, ()), car]


def test_baselines_worked_out_by_hand() -> None:
    p, routes = _day()
    b = compare_with_baselines(p, routes)
    # vehicles by mode: the bus used of two operator's vehicles, the carpool driver of one
    assert b.vehicles == {"minibus": (1, 2), "carpool": (1, 1)}
    # on-demand: 8 km; by taxi from the depot D: r1 D-A-C-D 1+2+3, r2 D-B-E-D 2+2+4 = 14 km
    assert (b.tad_served, b.tad_km, b.taxi_km) == (2, 8.0, 14.0)
    assert b.tad_km_saved == pytest.approx(6.0)
    # CO2: the bus 8 km x 250 g = 2 kg; the taxis 14 km x 193 g = 2.702 kg
    assert b.tad_co2_kg == pytest.approx(2.0) and b.taxi_co2_kg == pytest.approx(2.702)
    assert b.tad_co2_saved_kg == pytest.approx(0.702)
    # carpool: r3 alone A->E is 3 km; the driver drives 2 km beyond his own trip
    assert (b.carpool_served, b.carpool_km, b.solo_km) == (1, 2.0, 3.0)
    assert b.carpool_km_saved == pytest.approx(1.0)
    assert b.carpool_co2_saved_kg == pytest.approx((3.0 - 2.0) * 193 / 1000)


def test_no_baseline_without_its_mode() -> None:
    p, routes = _day()
    b = compare_with_baselines(p, routes[:2])  # the bus only
    assert b.carpool_km_saved is None and b.carpool_co2_saved_kg is None
    assert b.vehicles["carpool"] == (0, 1)
    k = compute_kpis(p, routes[:2], [])
    plan = Plan(tuple(routes[:2]), kpis=k, stats=SolverStats(status=SolveStatus.SOLVED))
    rows = {name: value for name, value, _ in kpi_rows(p, plan, "fr")}
    assert rows["Km évités par le covoiturage"] == "—"
    assert rows["Km évités par rapport au taxi (TAD)"] == "+6"
    assert rows["Minibus utilisés"] == "1 / 2" and rows["Covoitureurs mobilisés"] == "0 / 1"
    assert rows["Kilomètres parcourus"] == "8,0"
    en = {name: value for name, value, _ in kpi_rows(p, plan, "en")}
    assert en["Km saved by carpool"] == "—" and en["Minibuses used"] == "1 / 2"


def test_every_figure_named_and_defined_in_both_languages() -> None:
    for key, lab in KPI_LABELS.items():
        for text in (lab.fr, lab.en, lab.fr_def, lab.en_def):
            assert text.strip() and "\n" not in text, key
        assert lab.fr_def != lab.en_def, key
    p, routes = _day()
    plan = Plan(
        tuple(routes), kpis=compute_kpis(p, routes, []), stats=SolverStats(SolveStatus.SOLVED)
    )
    fr = kpi_rows(p, plan, "fr")
    names = [n for n, _, _ in fr]
    assert len(names) == len(set(names))
    assert "Part de chaque mode" in names
    assert all("." not in v for n, v, _ in fr if n != "Résultat du calcul"), fr


def test_status_in_words() -> None:
    detail = "CARPOOL_OPTIMAL+ROUTING_PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED_LINKED_DROPPED"
    fr = status_text(SolveStatus.SOLVED, detail, "fr")
    assert fr.startswith("plan trouvé") and "limite de temps" in fr and "ROUTING" not in fr
    en = status_text(SolveStatus.SOLVED, detail, "en")
    assert "time limit" in en and "carpool matched first" in en


def test_french_and_english_numbers() -> None:
    assert number(1234.5, 1) == "1\u202f234,5"
    assert number(1234.5, 1, "en") == "1,234.5"
    assert percent(0.125, 1) == "12,5\u202f%" and percent(0.125, 1, "en") == "12.5%"
    assert signed(-3.0) == "\u22123" and signed(2.5, 1) == "+2,5" and signed(0.0) == "0"
    assert number(-0.0001, 2) == "0,00"
