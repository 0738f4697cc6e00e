"""The scenario report: one CSV table of every run, refusals per commune, a Markdown report with
a summary per variant (mean over seeds, min-max in brackets) and PNG plots (matplotlib, Agg).

Files written in the output folder:

* ``results.csv``: one line per run (variant x seed), every figure;
* ``refusals_by_commune.csv``: requests and refusals per pickup commune, per run;
* ``report.md``: the summary, the equity tables, the full table and the plots;
* ``plots/*.png``: refusal rate, cost per served request, km (with empty km), by variant.
"""

from __future__ import annotations

import csv
import statistics
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from dispatcher.model import hhmm
from dispatcher.scenario import DemandSpec, ScenarioResult

SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # key, header, format
    ("served", "served", "{:.1f}"),
    ("refused", "refused", "{:.1f}"),
    ("refusal_rate", "refusal rate", "{:.1%}"),
    ("cost_eur", "cost (EUR)", "{:.0f}"),
    ("cost_per_served_eur", "EUR / served", "{:.1f}"),
    ("revenue_eur", "fare revenue (EUR)", "{:.0f}"),
    ("subsidy_per_passenger_eur", "subsidy / passenger (EUR)", "{:.2f}"),
    ("carpool_drivers_eur", "carpool drivers (EUR)", "{:.0f}"),
    ("vehicle_km", "veh. km", "{:.0f}"),
    ("vehicle_hours", "veh. h", "{:.1f}"),
    ("empty_km", "empty km", "{:.0f}"),
    ("occupancy", "occupancy", "{:.2f}"),
    ("mean_ride_min", "mean ride (min)", "{:.1f}"),
    ("co2_kg", "CO2 (kg)", "{:.0f}"),
    ("share_volunteer", "volunteer share", "{:.0%}"),
    ("share_carpool", "carpool share", "{:.0%}"),
    ("car_km_avoided", "car km avoided", "{:.0f}"),
    ("co2_saved_kg", "CO2 saved (kg)", "{:.0f}"),
)
EQUITY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("refusal_rate_wheelchair", "refusal rate, wheelchair", "{:.1%}"),
    ("refusal_rate_other", "refusal rate, others", "{:.1%}"),
    ("communes_with_refusals", "communes with refusals", "{:.1f}"),
    ("worst_commune_refusal_rate", "worst commune's refusal rate", "{:.0%}"),
    ("pop_share_hub_within", "population within reach of a hub", "{:.1%}"),
)


def _write_csv(
    path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None
) -> None:
    cols = list(columns or (rows[0].keys() if rows else []))
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _md_escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _by_variant(result: ScenarioResult) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {v.name: [] for v in result.scenario.variants}
    for row in result.rows:
        out.setdefault(row["variant"], []).append(row)
    return out


def _cell(values: Sequence[float], fmt: str) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values)
    if len(values) == 1 or min(values) == max(values):
        return fmt.format(mean)
    return f"{fmt.format(mean)} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def write_plots(result: ScenarioResult, folder: Path) -> list[Path]:
    """Bar charts by variant (means over seeds, one dot per seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    groups = _by_variant(result)
    names = list(groups)
    x = list(range(len(names)))
    out = []

    def one(
        key: str,
        title: str,
        ylabel: str,
        filename: str,
        scale: float = 1.0,
        extra: str | None = None,
    ) -> None:
        fig, ax = plt.subplots(figsize=(max(6.0, 1.4 * len(names) + 2), 4.2), dpi=100)
        means = [
            statistics.fmean([r[key] * scale for r in groups[n]]) if groups[n] else 0.0
            for n in names
        ]
        bars = ax.bar(x, means, color="#4c72b0", label=ylabel)
        if extra:
            em = [
                statistics.fmean([r[extra] * scale for r in groups[n]]) if groups[n] else 0.0
                for n in names
            ]
            ax.bar(x, em, color="#dd8452", width=0.5, label=extra.replace("_", " "))
            ax.legend(loc="upper left", fontsize=8)
        for i, n in enumerate(names):
            ax.scatter(
                [i] * len(groups[n]),
                [r[key] * scale for r in groups[n]],
                color="black",
                s=12,
                zorder=3,
            )
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
        ax.set_xticks(
            x,
            [n if len(n) <= 22 else n[:21] + "…" for n in names],
            rotation=20,
            ha="right",
            fontsize=8,
        )
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        fig.tight_layout()
        p = folder / filename
        fig.savefig(p)
        plt.close(fig)
        out.append(p)

    one(
        "refusal_rate",
        "Refused requests (% of requests)",
        "refusal rate (%)",
        "refusal_rate.png",
        scale=100.0,
    )
    one(
        "cost_per_served_eur",
        "Cost per served request",
        "EUR per served request",
        "cost_per_served.png",
    )
    one(
        "vehicle_km",
        "Vehicle km (orange: empty km)",
        "vehicle km",
        "vehicle_km.png",
        extra="empty_km",
    )
    return out


def _requests_cell(demand: DemandSpec, day: date | None) -> str:
    from dispatcher.demand import WEEKDAYS

    weekday = demand.weekday if demand.weekday is not None else (day.weekday() if day else None)
    if not demand.recurring_share or weekday is None:
        return str(demand.requests)
    return f"{demand.requests} ({demand.recurring_share:.0%} regular, {WEEKDAYS[weekday]})"


def markdown_report(
    result: ScenarioResult, plots: Sequence[Path] = (), plots_rel: Path | None = None
) -> str:
    sc = result.scenario
    groups = _by_variant(result)
    lines = [f"# Scenario: {_md_escape(sc.name)}", ""]
    lines.append(
        f"{len(sc.variants)} variants × {len(sc.seeds)} demand seeds "
        f"({', '.join(map(str, sc.seeds))}), "
        f"solver time limit {sc.time_limit_s:g} s per run"
        + (f", service day {sc.day.isoformat()}" if sc.day else "")
        + ". Figures are means over seeds, [min–max] when seeds differ. Every plan was checked "
        "independently of the solver."
    )
    bad = [r for r in result.rows if not r["check_ok"]]
    lines.append("")
    lines.append(
        f"**Checker:** {len(result.rows) - len(bad)} of {len(result.rows)} plans "
        "satisfy every constraint."
        + (
            ""
            if not bad
            else " Failing: " + ", ".join(f"{r['variant']} / seed {r['seed']}" for r in bad)
        )
    )
    lines += ["", "## Variants", ""]
    rows = []
    for v in sc.variants:
        f = v.fleet
        rows.append(
            [
                _md_escape(v.name),
                _md_escape(", ".join(v.territory)),
                _requests_cell(v.demand, sc.day),
                f"{f.vehicles} ({f.wheelchair} accessible)"
                + (f" + {f.volunteers} volunteers" if f.volunteers else "")
                + (
                    f" + {v.carpool.offers} carpool offers ({v.carpool.strategy})"
                    if v.carpool.offers
                    else ""
                ),
                f"α {v.rules.ride_alpha:g}, β {v.rules.ride_beta_s // 60} min, "
                f"{hhmm(v.rules.service_hours.start_s)}–{hhmm(v.rules.service_hours.end_s)}",
            ]
        )
    lines += _table(["variant", "territory", "requests", "fleet", "rules"], rows)
    lines += ["", "## Results by variant", ""]
    lines.append(
        "Mode shares are of the served requests. Car km avoided and CO2 saved compare the km "
        "driven for the riders with each rider driving alone the direct way (negative: the "
        "service drives more than they would have)."
    )
    lines.append("")
    lines += _table(
        ["variant"] + [h for _, h, _ in SUMMARY_COLUMNS],
        [
            [_md_escape(n)]
            + [_cell([r[k] for r in groups[n]], fmt) for k, _, fmt in SUMMARY_COLUMNS]
            for n in groups
        ],
    )
    lines += ["", "## Equity", ""]
    reach = sorted({r["reach_minutes"] for r in result.rows})
    lines.append(
        "Refusal rates by need (wheelchair users or not), communes with at least one refusal, "
        "and the share of the population whose commune's stop reaches a hub within "
        f"{', '.join(f'{m:g}' for m in reach)} min by road."
    )
    lines.append("")
    lines += _table(
        ["variant"] + [h for _, h, _ in EQUITY_COLUMNS],
        [
            [_md_escape(n)]
            + [_cell([r[k] for r in groups[n]], fmt) for k, _, fmt in EQUITY_COLUMNS]
            for n in groups
        ],
    )
    lines += ["", "### Communes with the most refusals (all seeds)", ""]
    per: dict[tuple[str, str], list[int]] = {}
    for c in result.commune_rows:
        acc = per.setdefault((c["variant"], c["commune"]), [0, 0])
        acc[0] += c["requests"]
        acc[1] += c["refused"]
    worst = sorted(
        ((v, c, a, b) for (v, c), (a, b) in per.items() if b),
        key=lambda t: (-t[3], -t[3] / t[2], t[0], t[1]),
    )[:15]
    if worst:
        lines += _table(
            ["variant", "commune", "requests", "refused", "rate"],
            [
                [_md_escape(v), _md_escape(c), str(a), str(b), f"{b / a:.0%}"]
                for v, c, a, b in worst
            ],
        )
    else:
        lines.append("No refusals.")
    if plots:
        lines += ["", "## Plots", ""]
        for p in plots:
            rel = (plots_rel / p.name) if plots_rel else p
            lines.append(f"![{p.stem.replace('_', ' ')}]({rel.as_posix()})")
            lines.append("")
    lines += ["", "## Every run", ""]
    keys = [
        "variant",
        "seed",
        "served",
        "refused",
        "cost_eur",
        "vehicle_km",
        "vehicle_hours",
        "empty_km",
        "occupancy",
        "mean_ride_min",
        "co2_kg",
        "share_carpool",
        "co2_saved_kg",
        "refused_wheelchair",
        "pop_share_hub_within",
        "solver_status",
        "check_ok",
    ]
    lines += _table(keys, [[_md_escape(r[k]) for k in keys] for r in result.rows])
    lines.append("")
    return "\n".join(lines)


def write_scenario_report(result: ScenarioResult, out_dir: str | Path, plots: bool = True) -> Path:
    """Write results.csv, refusals_by_commune.csv, plots/*.png and report.md; return report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "results.csv", result.rows)
    _write_csv(
        out / "refusals_by_commune.csv",
        result.commune_rows,
        ["variant", "seed", "insee", "commune", "requests", "refused"],
    )
    pngs = write_plots(result, out / "plots") if plots and result.rows else []
    md = out / "report.md"
    md.write_text(markdown_report(result, pngs, Path("plots")), encoding="utf-8")
    return md
