"""The scenario plots as an elected official reads them: French numbers, variant names whole
(wrapped, never cut, never overlapping), a legend entry for every kind of mark, and the plots
the README promises. Checked on the drawn figure (matplotlib's own text boxes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dispatcher.reports.report import PLOTS, bar_figure, equity_figure, wrap_label, write_plots
from dispatcher.scenario import RunResult, ScenarioResult, run_specs, scenario_from_dict

NAMES = (
    "pilote, 3 minibus",
    "pilote, 3 minibus + 2 bénévoles",
    "pilote, 3 minibus + covoiturage",
    "pilote + 3 voisins, 8 minibus et une très longue fin de nom",
)


def _result() -> ScenarioResult:
    sc = scenario_from_dict(
        {
            "name": "plots",
            "seeds": [1, 2],
            "base": {"demand": {"requests": 50}},
            "variants": [{"name": n} for n in NAMES],
        }
    )
    runs = []
    for k, spec in enumerate(run_specs(sc)):
        size = 100 if spec.index == 3 else 50
        row = {
            "variant": spec.variant.name,
            "seed": spec.seed,
            "requests": size,
            "refusal_rate": 0.04 + 0.01 * k,
            "cost_per_served_eur": 25.5 + k,
            "km_per_request": 1234.5 / size,
            "empty_km_per_request": 400.25 / size,
            "occupancy": 0.95,
            "mean_ride_min": 13.25,
            "co2_per_served_kg": 4.04,
            "refusal_rate_wheelchair": 0.0,
            "refusal_rate_other": 0.05,
        }
        runs.append(RunResult(spec=spec, row=row))
    return ScenarioResult(sc, runs)


def _texts(fig: object) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec", PLOTS, ids=lambda s: s.filename)
def test_every_bar_plot_reads_whole_and_french(spec: object) -> None:
    fig = bar_figure(_result(), spec, "fr")  # type: ignore[arg-type]
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ticks = ax.get_xticklabels()
    # every variant's name whole (wrapped on lines), nothing cut
    assert [t.get_text().replace("\n", " ") for t in ticks] == list(NAMES)
    texts = _texts(fig)
    assert not any("…" in t or "..." in t for t in texts), texts
    # the names' boxes inside the figure and apart from one another
    boxes = [t.get_window_extent(renderer) for t in ticks]
    width, height = fig.canvas.get_width_height()
    for b in boxes:
        assert b.x0 >= 0 and b.x1 <= width and b.y0 >= 0, (b, width)
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert a.x1 < b.x0, "two variant names overlap"
    # French numbers: value labels with a decimal comma, no decimal point anywhere
    values = [t.get_text() for t in ax.texts]
    assert values and all("," in v for v in values), values
    assert not [t for t in texts if re.search(r"\d\.\d", t)], texts
    # a legend entry for the bars and for the per-seed dots
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "moyenne des 2 tirages" in legend and "un tirage de la demande" in legend
    if spec.part:  # type: ignore[attr-defined]
        assert "dont km à vide" in legend


def test_km_are_per_request_when_sizes_differ() -> None:
    spec = next(s for s in PLOTS if s.filename == "vehicle_km.png")
    fig = bar_figure(_result(), spec, "fr")
    heights = [p.get_height() for p in fig.axes[0].patches][: len(NAMES)]
    # 1234.5 km over 50 requests, and over 100 for the larger variant
    assert heights[:3] == pytest.approx([24.69] * 3) and heights[3] == pytest.approx(12.345)


def test_english_plot_and_equity(tmp_path: Path) -> None:
    fig = bar_figure(_result(), PLOTS[0], "en")
    assert [t.get_text() for t in fig.axes[0].texts][0] == "4.5"  # 4% and 5%, two seeds
    assert fig.axes[0].get_ylabel() == "Refusal rate (%)"
    eq = equity_figure(_result(), "fr")
    legend = [t.get_text() for t in eq.axes[0].get_legend().get_texts()]
    assert legend == ["voyageurs en fauteuil roulant", "autres voyageurs"]
    names = [p.name for p in write_plots(_result(), tmp_path, "fr")]
    assert set(names) >= {"occupancy.png", "ride_time.png", "co2.png", "equity.png"}


def test_wrap_keeps_every_word() -> None:
    assert wrap_label("pilote, 3 minibus + covoiturage") == "pilote, 3 minibus\n+ covoiturage"
    assert wrap_label("anticonstitutionnellement-long") == "anticonstitutionnellement-long"


def test_every_variant_name_is_drawn_under_its_bar() -> None:
    """Image comparison: the plot drawn with and without its variant names differs under each
    bar (each name is drawn, inside the picture), and nowhere above the axis."""
    import numpy as np

    fig = bar_figure(_result(), PLOTS[0], "fr")
    ax = fig.axes[0]

    def pixels() -> np.ndarray:
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)

    with_names = pixels()
    for t in ax.get_xticklabels():
        t.set_visible(False)
    without = pixels()
    changed = np.abs(with_names - without).sum(axis=2) > 0
    height = changed.shape[0]
    axis_y = height - ax.get_window_extent().y0  # the x axis, in image rows (top = 0)
    assert not changed[: int(axis_y) - 2].any(), "the names changed the plot above its axis"
    for i in range(len(NAMES)):
        x = int(ax.transData.transform((i, 0))[0])
        assert changed[int(axis_y) :, x - 20 : x + 20].any(), f"no name under bar {i}"
