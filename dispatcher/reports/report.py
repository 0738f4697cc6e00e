"""The scenario report: one CSV table of every run, refusals per commune, a Markdown report with
a summary per variant (mean over seeds, min-max in brackets) and PNG plots (matplotlib, Agg).
French by default (decimal comma, narrow no-break space between thousands), English with
``lang="en"``; every figure is named and defined in :mod:`dispatcher.reports.kpi_labels`.

Files written in the output folder:

* ``results.csv``: one line per run (variant x seed), every figure (machine format);
* ``refusals_by_commune.csv``: requests and refusals per pickup commune, per run;
* ``report.md``: the summary, the equity tables, the definitions, the full table and the plots;
* ``plots/*.png``: refusal rate, cost per served trip, km per request (with empty km),
  occupancy, ride time, CO2 per served trip and equity (refusal rates by need), by variant.
  Bars are means over the demand seeds, dots each seed, both in the legend; variant names are
  wrapped, never cut; figures per request or per served trip where variants differ in size.
"""

from __future__ import annotations

import functools
import statistics
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from dispatcher.io.sheets import CsvStyle, write_csv
from dispatcher.model import hhmm
from dispatcher.reports.kpi_labels import KPI_LABELS
from dispatcher.reports.numbers import (
    WEEKDAYS_EN,
    WEEKDAYS_FR,
    check_lang,
    long_date,
    number,
    percent,
    signed,
)
from dispatcher.scenario import DemandSpec, ScenarioResult

# (row key, label key in KPI_LABELS, how shown: "n<decimals>", "p<decimals>" or "s<decimals>")
SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("served", "served", "n1"),
    ("refused", "refused", "n1"),
    ("refusal_rate", "refusal_rate", "p1"),
    ("cost_eur", "cost_eur", "n0"),
    ("cost_per_served_eur", "cost_per_served_eur", "n1"),
    ("revenue_eur", "revenue_eur", "n0"),
    ("subsidy_per_passenger_eur", "subsidy_per_passenger_eur", "n2"),
    ("carpool_drivers_eur", "carpool_drivers_eur", "n0"),
    ("vehicle_km", "vehicle_km", "n0"),
    ("km_per_request", "km_per_request", "n1"),
    ("empty_km_per_request", "empty_km_per_request", "n1"),
    ("vehicle_hours", "vehicle_hours", "n1"),
    ("occupancy", "mean_occupancy", "n2"),
    ("mean_ride_min", "mean_ride_min", "n1"),
    ("co2_kg", "co2_kg", "n0"),
    ("co2_per_served_kg", "co2_per_served_kg", "n2"),
    ("share_volunteer", "share_volunteer", "p0"),
    ("share_carpool", "share_carpool", "p0"),
    ("tad_km_saved", "tad_vs_taxi_km", "s0"),
    ("carpool_km_saved", "carpool_vs_solo_km", "s0"),
    ("carpool_co2_saved_kg", "carpool_vs_solo_co2", "s1"),
)
EQUITY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("refusal_rate_wheelchair", "refusal_rate_wheelchair", "p1"),
    ("refusal_rate_other", "refusal_rate_other", "p1"),
    ("communes_with_refusals", "communes_with_refusals", "n1"),
    ("worst_commune_refusal_rate", "worst_commune_refusal_rate", "p0"),
    ("pop_share_hub_within", "pop_share_hub_within", "p1"),
)
LIVED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("sim_promises_kept", "sim_promises_kept", "p1"),
    ("sim_late_p90_min", "sim_late_p90_min", "n1"),
    ("sim_late_max_min", "sim_late_max_min", "n1"),
    ("sim_refused_after_promise", "sim_refused_after_promise", "n1"),
    ("sim_extra_km", "sim_extra_km", "s1"),
)
RUN_COLUMNS = (
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
    "tad_km_saved",
    "carpool_km_saved",
    "refused_wheelchair",
    "pop_share_hub_within",
    "solver_status",
    "check_ok",
    "sim_promises_kept",
)

# The words of the report, French first (English with lang="en")
T: dict[str, tuple[str, str]] = {
    "title": ("Scénario", "Scenario"),
    "intro": (
        "{v} variantes × {s} tirages de la demande (graines {seeds}), limite de calcul de "
        "{t} s par plan{day}. Les chiffres sont des moyennes sur les tirages, [min–max] "
        "quand ils diffèrent. Chaque plan a été vérifié indépendamment du calculateur.",
        "{v} variants × {s} demand seeds ({seeds}), solver time limit {t} s per run{day}. "
        "Figures are means over seeds, [min–max] when seeds differ. Every plan was checked "
        "independently of the solver.",
    ),
    "day": (", journée du {d}", ", service day {d}"),
    "checker": (
        "**Vérification :** {ok} plans sur {n} respectent toutes les contraintes.",
        "**Checker:** {ok} of {n} plans satisfy every constraint.",
    ),
    "failing": (" En défaut : ", " Failing: "),
    "seed": ("graine", "seed"),
    "variants": ("Variantes", "Variants"),
    "variant": ("variante", "variant"),
    "territory": ("territoire", "territory"),
    "requests": ("demandes", "requests"),
    "fleet": ("flotte", "fleet"),
    "rules": ("règles", "rules"),
    "accessible": ("accessibles", "accessible"),
    "volunteers": ("bénévoles", "volunteers"),
    "carpool_offers": ("offres de covoiturage", "carpool offers"),
    "regular": ("régulières", "regular"),
    "results": ("Résultats par variante", "Results by variant"),
    "results_intro": (
        "Les parts des modes sont celles des demandes servies. Les km évités comparent avec "
        "une référence énoncée : le transport à la demande avec les mêmes trajets faits chacun "
        "par un taxi (aller et retour au dépôt le plus proche), le covoiturage avec ses "
        "passagers conduisant seuls. Une référence sans trajet de son mode est « — ».",
        "Mode shares are of the served requests. Km saved compare with a stated baseline: "
        "on-demand transport with the same trips each made by a taxi (to and from the nearest "
        "depot), carpool with its passengers driving alone. A baseline with no trip of its mode "
        "is shown as —.",
    ),
    "equity": ("Équité", "Equity"),
    "equity_intro": (
        "Taux de refus selon le besoin (fauteuil roulant ou non), communes avec au moins un "
        "refus, et part de la population dont l'arrêt de la commune atteint un pôle en "
        "{m} min par la route.",
        "Refusal rates by need (wheelchair users or not), communes with at least one refusal, "
        "and the share of the population whose commune's stop reaches a hub within {m} min "
        "by road.",
    ),
    "worst": (
        "Communes aux plus nombreux refus (tous tirages)",
        "Communes with the most refusals (all seeds)",
    ),
    "commune": ("commune", "commune"),
    "refused": ("refusées", "refused"),
    "rate": ("taux", "rate"),
    "no_refusal": ("Aucun refus.", "No refusals."),
    "definitions": ("Définitions", "Definitions"),
    "plots": ("Graphiques", "Plots"),
    "runs": ("Chaque plan", "Every run"),
    "lived": ("La journée vécue (simulation)", "The day lived (simulation)"),
    "lived_intro": (
        "Chaque plan des variantes simulées, vécu par le simulateur de journée avec les "
        "événements des véhicules envoyés au service comme par l'API : {how}.",
        "Each plan of the simulated variants lived by the day simulator, the vehicles' events "
        "sent to the service as through the API: {how}.",
    ),
    "lived_how": (
        "{v} : bruit des temps de trajet {n}, absences {a}, {b} panne(s), {r}",
        "{v}: travel-time noise {n}, no-shows {a}, {b} breakdown(s), {r}",
    ),
    "replan": ("replanification après les événements", "re-planning after events"),
    "no_replan": ("sans replanification", "no re-planning"),
    "yes": ("oui", "yes"),
    "no": ("non", "no"),
    "mean": ("moyenne des {n} tirages", "mean of the {n} seeds"),
    "one_seed": ("un tirage de la demande", "one demand seed"),
    "empty_part": ("dont km à vide", "of which empty km"),
    "wheelchair": ("voyageurs en fauteuil roulant", "wheelchair users"),
    "others": ("autres voyageurs", "other riders"),
}
STRATEGY = {
    "staged": ("covoiturage apparié d'abord", "staged"),
    "joint": ("planifié avec la flotte", "joint"),
}
RUN_HEADERS: dict[str, tuple[str, str]] = {
    "variant": ("variante", "variant"),
    "seed": ("graine", "seed"),
    "served": ("servies", "served"),
    "refused": ("refusées", "refused"),
    "cost_eur": ("coût (€)", "cost (EUR)"),
    "vehicle_km": ("km", "km"),
    "vehicle_hours": ("heures", "hours"),
    "empty_km": ("km à vide", "empty km"),
    "occupancy": ("occupation", "occupancy"),
    "mean_ride_min": ("trajet moyen (min)", "mean ride (min)"),
    "co2_kg": ("CO2 (kg)", "CO2 (kg)"),
    "share_carpool": ("part covoiturage", "carpool share"),
    "tad_km_saved": ("km évités / taxi", "km saved / taxi"),
    "carpool_km_saved": ("km évités covoiturage", "km saved by carpool"),
    "refused_wheelchair": ("refus fauteuil", "wheelchair refused"),
    "pop_share_hub_within": ("population proche d'un pôle", "population near a hub"),
    "solver_status": ("calcul", "solver"),
    "check_ok": ("vérifié", "checked"),
    "sim_promises_kept": ("promesses tenues (simulées)", "promises kept (simulated)"),
}


def _t(key: str, lang: str) -> str:
    fr, en = T[key]
    return fr if lang == "fr" else en


# The headers of results.csv and refusals_by_commune.csv a person reads (``--csv excel``); a key
# not named here keeps its name, and ``--csv machine`` keeps every key
CSV_HEADERS_FR: dict[str, str] = {
    "variant": "Variante",
    "seed": "Graine",
    "territory": "Territoire",
    "vehicles": "Véhicules",
    "wheelchair_vehicles": "Véhicules TPMR",
    "volunteers": "Bénévoles",
    "carpool_offers": "Offres de covoiturage",
    "weekday": "Jour",
    "requests": "Demandes",
    "requests_recurring": "Demandes régulières",
    "refused_recurring": "Refus réguliers",
    "served": "Servies",
    "refused": "Refusées",
    "refusal_rate": "Taux de refus",
    "passengers": "Passagers",
    "cost_eur": "Coût (EUR)",
    "cost_per_served_eur": "Coût par demande servie (EUR)",
    "revenue_eur": "Recettes (EUR)",
    "subsidy_eur": "Subvention (EUR)",
    "subsidy_per_passenger_eur": "Subvention par voyageur (EUR)",
    "carpool_drivers_eur": "Versé aux conducteurs du covoiturage (EUR)",
    "vehicles_used": "Véhicules utilisés",
    "vehicle_km": "Km véhicule",
    "vehicle_hours": "Heures véhicule",
    "empty_km": "Km à vide",
    "occupancy": "Occupation moyenne",
    "mean_ride_min": "Trajet moyen (min)",
    "co2_kg": "CO2 (kg)",
    "share_minibus": "Part minibus",
    "share_volunteer": "Part bénévoles",
    "share_carpool": "Part covoiturage",
    "car_km_avoided": "Km voiture évités",
    "co2_saved_kg": "CO2 évité (kg)",
    "requests_wheelchair": "Demandes fauteuil",
    "refused_wheelchair": "Refus fauteuil",
    "refusal_rate_wheelchair": "Taux de refus fauteuil",
    "refused_other": "Refus autres",
    "refusal_rate_other": "Taux de refus autres",
    "communes_with_refusals": "Communes avec refus",
    "worst_commune_refusal_rate": "Pire taux de refus d'une commune",
    "population": "Population",
    "pop_share_hub_within": "Part de la population près d'un pôle",
    "reach_minutes": "Seuil d'accès (min)",
    "solver_status": "Statut du solveur",
    "solver_status_detail": "Détail du statut",
    "solve_s": "Temps de calcul (s)",
    "check_ok": "Plan vérifié",
    "violations": "Violations",
    "sim_promises_kept": "Promesses tenues (journée simulée)",
    "sim_late_p50_min": "Retard p50 (min, journée simulée)",
    "sim_late_p90_min": "Retard p90 (min, journée simulée)",
    "sim_late_max_min": "Retard maximal (min, journée simulée)",
    "sim_no_shows": "Absents (journée simulée)",
    "sim_refused_after_promise": "Refus après promesse (journée simulée)",
    "sim_extra_km": "Km au-delà du plan (journée simulée)",
    "insee": "Code INSEE",
    "commune": "Commune",
}


def _write_csv(
    path: Path,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    style: CsvStyle = "excel",
) -> None:
    cols = list(columns or (rows[0].keys() if rows else []))
    write_csv(path, rows, cols, style, CSV_HEADERS_FR)


def _md_escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _by_variant(result: ScenarioResult) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {v.name: [] for v in result.scenario.variants}
    for row in result.rows:
        out.setdefault(row["variant"], []).append(row)
    return out


def show(value: float, how: str, lang: str) -> str:
    """A figure as ``how`` says: "n1" a number with one decimal, "p0" a percentage, "s0" a
    signed difference."""
    kind, decimals = how[0], int(how[1:])
    if kind == "p":
        return percent(value, decimals, lang)
    if kind == "s":
        return signed(value, decimals, lang)
    return number(value, decimals, lang)


def _cell(values: Sequence[float | None], how: str, lang: str) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    mean = statistics.fmean(known)
    if len(known) == 1 or min(known) == max(known):
        return show(mean, how, lang)
    return f"{show(mean, how, lang)} [{show(min(known), how, lang)}–{show(max(known), how, lang)}]"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlotSpec:
    """One bar chart by variant: the row key, its label (KPI_LABELS), how values are shown,
    a scale (100 for percentages) and an optional part drawn inside each bar."""

    filename: str
    key: str
    label: str
    how: str
    scale: float = 1.0
    part: str | None = None  # row key of a part of the bar (empty km of the km)


PLOTS: tuple[PlotSpec, ...] = (
    PlotSpec("refusal_rate.png", "refusal_rate", "refusal_rate", "n1", 100.0),
    PlotSpec("cost_per_served.png", "cost_per_served_eur", "cost_per_served_eur", "n1"),
    PlotSpec(
        "vehicle_km.png", "km_per_request", "km_per_request", "n1", part="empty_km_per_request"
    ),
    PlotSpec("occupancy.png", "occupancy", "mean_occupancy", "n2"),
    PlotSpec("ride_time.png", "mean_ride_min", "mean_ride_min", "n1"),
    PlotSpec("co2.png", "co2_per_served_kg", "co2_per_served_kg", "n2"),
)


def wrap_label(name: str, width: int = 18) -> str:
    """A variant's name on lines of about ``width`` characters, every word kept."""
    return (
        "\n".join(textwrap.wrap(name, width, break_long_words=False, break_on_hyphens=False))
        or name
    )


def _means(groups: dict[str, list[dict[str, Any]]], key: str, scale: float) -> list[float]:
    out = []
    for rows in groups.values():
        vals = [r[key] * scale for r in rows if r.get(key) is not None]
        out.append(statistics.fmean(vals) if vals else 0.0)
    return out


def _figure(n_variants: int) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(max(7.0, 1.7 * n_variants + 2.5), 4.8), dpi=100)


def tick(value: float, lang: str) -> str:
    """An axis tick with the decimals it needs (2,5 and 3, not 2 and 3), in ``lang``."""
    for decimals in (0, 1, 2):
        if abs(value - round(value, decimals)) < 1e-9:
            return number(value, decimals, lang)
    return number(value, 3, lang)


def _finish(fig: Any, ax: Any, names: Sequence[str], ylabel: str, lang: str) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.set_xticks(range(len(names)), [wrap_label(n) for n in names], fontsize=8.5)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _p: tick(y, lang)))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.15)  # room for the value labels and the legend
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()


def bar_figure(result: ScenarioResult, spec: PlotSpec, lang: str = "fr") -> Any:
    """The matplotlib Figure of one plot (bars: means over seeds, dots: each seed, both in the
    legend; the mean written above each bar in the language's number format)."""
    groups = _by_variant(result)
    names = list(groups)
    fig, ax = _figure(len(names))
    lab = KPI_LABELS[spec.label]
    ylabel = lab.name(lang) + (" (%)" if spec.scale == 100.0 else "")
    n_seeds = len(result.scenario.seeds)
    means = _means(groups, spec.key, spec.scale)
    x = list(range(len(names)))
    bars = ax.bar(x, means, color="#4c72b0", width=0.6, label=_t("mean", lang).format(n=n_seeds))
    if spec.part:
        ax.bar(
            x,
            _means(groups, spec.part, spec.scale),
            color="#dd8452",
            width=0.36,
            label=_t("empty_part", lang),
        )
    seeds_x, seeds_y = [], []
    for i, rows in enumerate(groups.values()):
        for r in rows:
            if r.get(spec.key) is not None:
                seeds_x.append(i + 0.22)
                seeds_y.append(r[spec.key] * spec.scale)
    ax.scatter(
        seeds_x, seeds_y, color="black", s=14, zorder=3, marker="o", label=_t("one_seed", lang)
    )
    decimals = int(spec.how[1:])
    ax.bar_label(
        bars,
        labels=[number(m, decimals, lang) for m in means],
        fontsize=8.5,
        padding=3,
        label_type="edge",
    )
    ax.set_title(lab.name(lang) + "\n" + lab.definition(lang), fontsize=9.5)
    _finish(fig, ax, names, ylabel, lang)
    return fig


def equity_figure(result: ScenarioResult, lang: str = "fr") -> Any:
    """Refusal rates of wheelchair users and of other riders side by side, by variant."""
    groups = _by_variant(result)
    names = list(groups)
    fig, ax = _figure(len(names))
    w = 0.36
    series = (
        ("refusal_rate_wheelchair", _t("wheelchair", lang), "#8172b3", -w / 2),
        ("refusal_rate_other", _t("others", lang), "#55a868", w / 2),
    )
    for key, name, colour, dx in series:
        means = _means(groups, key, 100.0)
        bars = ax.bar([i + dx for i in range(len(names))], means, w, color=colour, label=name)
        ax.bar_label(bars, labels=[number(m, 1, lang) for m in means], fontsize=8, padding=2)
    ax.set_title(
        (
            "Équité : taux de refus selon le besoin"
            if lang == "fr"
            else "Equity: refusal rate by need"
        )
        + "\n"
        + _t("mean", lang).format(n=len(result.scenario.seeds)),
        fontsize=9.5,
    )
    _finish(fig, ax, names, KPI_LABELS["refusal_rate"].name(lang) + " (%)", lang)
    return fig


def write_plots(result: ScenarioResult, folder: Path, lang: str = "fr") -> list[Path]:
    """Every plot of the report as a PNG in ``folder``."""
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    makers: list[tuple[str, Callable[[], Any]]] = [
        (spec.filename, functools.partial(bar_figure, result, spec, lang)) for spec in PLOTS
    ]
    makers.append(("equity.png", lambda: equity_figure(result, lang)))
    out = []
    for filename, make in makers:
        fig = make()
        p = folder / filename
        fig.savefig(p)
        plt.close(fig)
        out.append(p)
    return out


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------


def _requests_cell(demand: DemandSpec, day: date | None, lang: str) -> str:
    weekday = demand.weekday if demand.weekday is not None else (day.weekday() if day else None)
    if not demand.recurring_share or weekday is None:
        return str(demand.requests)
    days = WEEKDAYS_FR if lang == "fr" else WEEKDAYS_EN
    share = percent(demand.recurring_share, 0, lang)
    return f"{demand.requests} ({share} {_t('regular', lang)}, {days[weekday]})"


def _variant_rows(result: ScenarioResult, lang: str) -> list[list[str]]:
    rows = []
    for v in result.scenario.variants:
        f = v.fleet
        rows.append(
            [
                _md_escape(v.name),
                _md_escape(", ".join(v.territory)),
                _requests_cell(v.demand, result.scenario.day, lang),
                f"{f.vehicles} ({f.wheelchair} {_t('accessible', lang)})".replace(
                    "(1 accessibles)", "(1 accessible)"
                )
                + (f" + {f.volunteers} {_t('volunteers', lang)}" if f.volunteers else "")
                + (
                    f" + {v.carpool.offers} {_t('carpool_offers', lang)} "
                    f"({STRATEGY[v.carpool.strategy][0 if lang == 'fr' else 1]})"
                    if v.carpool.offers
                    else ""
                ),
                f"α {number(v.rules.ride_alpha, 1, lang)}, β {v.rules.ride_beta_s // 60} min, "
                f"{hhmm(v.rules.service_hours.start_s)}–{hhmm(v.rules.service_hours.end_s)}",
            ]
        )
    return rows


def _worst_communes(result: ScenarioResult, lang: str) -> list[str]:
    per: dict[tuple[str, str], list[int]] = {}
    for c in result.commune_rows:
        acc = per.setdefault((c["variant"], c["commune"]), [0, 0])
        acc[0] += c["requests"]
        acc[1] += c["refused"]
    worst = sorted(
        ((v, c, a, b) for (v, c), (a, b) in per.items() if b),
        key=lambda t: (-t[3], -t[3] / t[2], t[0], t[1]),
    )[:15]
    if not worst:
        return [_t("no_refusal", lang)]
    return _table(
        [_t(k, lang) for k in ("variant", "commune", "requests", "refused", "rate")],
        [
            [_md_escape(v), _md_escape(c), str(a), str(b), percent(b / a, 0, lang)]
            for v, c, a, b in worst
        ],
    )


SHORT_STATUS = {
    "solved": ("plan trouvé", "solved"),
    "optimal": ("optimal", "optimal"),
    "infeasible": ("contrainte enfreinte", "infeasible"),
    "no_plan": ("aucun plan", "no plan"),
    "no_requests": ("aucune demande", "no requests"),
    "no_vehicles": ("aucun véhicule", "no vehicles"),
    "nothing_feasible": ("rien de réalisable", "nothing feasible"),
    "unknown": ("inconnu", "unknown"),
}


def _run_cell(key: str, value: Any, lang: str) -> str:
    if value is None:
        return "—"
    if key == "solver_status" and value in SHORT_STATUS:
        return SHORT_STATUS[value][0 if lang == "fr" else 1]
    if isinstance(value, bool):
        return _t("yes" if value else "no", lang)
    if isinstance(value, float):
        if key.startswith("share") or key.startswith("pop_share"):
            return percent(value, 0, lang)
        return number(value, 1, lang)
    return _md_escape(value)


def _lived_intro(variants: Sequence[Any], lang: str) -> str:
    how = "; ".join(
        _t("lived_how", lang).format(
            v=_md_escape(v.name),
            n=percent(v.simulate.noise, 0, lang),
            a=percent(v.simulate.no_show, 0, lang),
            b=v.simulate.breakdowns,
            r=_t("replan" if v.simulate.replan else "no_replan", lang),
        )
        for v in variants
    )
    return _t("lived_intro", lang).format(how=how)


def markdown_report(
    result: ScenarioResult,
    plots: Sequence[Path] = (),
    plots_rel: Path | None = None,
    lang: str = "fr",
) -> str:
    lang = check_lang(lang, "lang")
    sc = result.scenario
    groups = _by_variant(result)
    day = _t("day", lang).format(d=long_date(sc.day, lang)) if sc.day else ""
    lines = [f"# {_t('title', lang)} : {_md_escape(sc.name)}", ""]
    if lang == "en":
        lines[0] = f"# Scenario: {_md_escape(sc.name)}"
    lines.append(
        _t("intro", lang).format(
            v=len(sc.variants),
            s=len(sc.seeds),
            seeds=", ".join(map(str, sc.seeds)),
            t=number(sc.time_limit_s, 0 if sc.time_limit_s == int(sc.time_limit_s) else 1, lang),
            day=day,
        )
    )
    bad = [r for r in result.rows if not r["check_ok"]]
    lines.append("")
    lines.append(
        _t("checker", lang).format(ok=len(result.rows) - len(bad), n=len(result.rows))
        + (
            ""
            if not bad
            else _t("failing", lang)
            + ", ".join(f"{r['variant']} / {_t('seed', lang)} {r['seed']}" for r in bad)
        )
    )
    lines += ["", f"## {_t('variants', lang)}", ""]
    lines += _table(
        [_t(k, lang) for k in ("variant", "territory", "requests", "fleet", "rules")],
        _variant_rows(result, lang),
    )
    lines += ["", f"## {_t('results', lang)}", "", _t("results_intro", lang), ""]
    for title, columns in ((None, SUMMARY_COLUMNS), ("equity", EQUITY_COLUMNS)):
        if title:
            reach = sorted({r["reach_minutes"] for r in result.rows})
            minutes = ", ".join(number(m, 0, lang) for m in reach)
            lines += ["", f"## {_t(title, lang)}", "", _t("equity_intro", lang).format(m=minutes)]
            lines.append("")
        lines += _table(
            [_t("variant", lang)] + [KPI_LABELS[lab].name(lang) for _, lab, _ in columns],
            [
                [_md_escape(n)]
                + [_cell([r.get(k) for r in groups[n]], how, lang) for k, _, how in columns]
                for n in groups
            ],
        )
    lines += ["", f"### {_t('worst', lang)}", ""]
    lines += _worst_communes(result, lang)
    lived = [v for v in sc.variants if v.simulate.enabled]
    if lived:
        lines += ["", f"## {_t('lived', lang)}", "", _lived_intro(lived, lang), ""]
        lines += _table(
            [_t("variant", lang)] + [KPI_LABELS[lab].name(lang) for _, lab, _ in LIVED_COLUMNS],
            [
                [_md_escape(v.name)]
                + [
                    _cell([r.get(k) for r in groups[v.name]], how, lang)
                    for k, _, how in LIVED_COLUMNS
                ]
                for v in lived
            ],
        )
    lines += ["", f"## {_t('definitions', lang)}", ""]
    for _, lab, _ in SUMMARY_COLUMNS + EQUITY_COLUMNS + (LIVED_COLUMNS if lived else ()):
        lines.append(f"- **{KPI_LABELS[lab].name(lang)}** : {KPI_LABELS[lab].definition(lang)}")
    if lang == "en":
        lines = [line.replace("** : ", "**: ") for line in lines]
    if plots:
        lines += ["", f"## {_t('plots', lang)}", ""]
        for p in plots:
            rel = (plots_rel / p.name) if plots_rel else p
            lines.append(f"![{p.stem.replace('_', ' ')}]({rel.as_posix()})")
            lines.append("")
    lines += ["", f"## {_t('runs', lang)}", ""]
    lines += _table(
        [RUN_HEADERS[k][0 if lang == "fr" else 1] for k in RUN_COLUMNS],
        [[_run_cell(k, r.get(k), lang) for k in RUN_COLUMNS] for r in result.rows],
    )
    lines.append("")
    return "\n".join(lines)


def write_scenario_report(
    result: ScenarioResult,
    out_dir: str | Path,
    plots: bool = True,
    lang: str = "fr",
    csv: CsvStyle = "excel",
) -> Path:
    """Write results.csv, refusals_by_commune.csv (for French Excel, or ``csv="machine"``),
    plots/*.png and report.md; return report.md."""
    lang = check_lang(lang, "lang")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "results.csv", result.rows, style=csv)
    _write_csv(
        out / "refusals_by_commune.csv",
        result.commune_rows,
        ["variant", "seed", "insee", "commune", "requests", "refused"],
        csv,
    )
    pngs = write_plots(result, out / "plots", lang) if plots and result.rows else []
    md = out / "report.md"
    md.write_text(markdown_report(result, pngs, Path("plots"), lang), encoding="utf-8")
    return md
