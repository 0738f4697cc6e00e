"""The key figures as people read them: one table of names and one-line definitions, in French
and English, used by ``dispatcher demo`` (and ``plan``), the scenario report and its plots.

Every figure shown to a person comes from here: its name, its definition and its unit. The
comparisons of km and CO2 are with a stated baseline (:class:`dispatcher.solver.kpis.Baselines`):
on-demand transport beside a dedicated taxi per trip, carpool beside each passenger driving
alone; a comparison without a served request of its mode is shown as "—" (none makes sense).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatcher.model import SolveStatus
from dispatcher.reports.numbers import number, percent, signed
from dispatcher.solver.kpis import Baselines, compare_with_baselines


@dataclass(frozen=True)
class Label:
    fr: str
    en: str
    fr_def: str
    en_def: str

    def name(self, lang: str) -> str:
        return self.fr if lang == "fr" else self.en

    def definition(self, lang: str) -> str:
        return self.fr_def if lang == "fr" else self.en_def


KPI_LABELS: dict[str, Label] = {
    "requests": Label(
        "Demandes",
        "Requests",
        "Trajets demandés pour la journée (un aller et son retour comptent pour deux).",
        "Trips requested for the day (an outbound and its return count as two).",
    ),
    "served": Label(
        "Demandes servies",
        "Requests served",
        "Trajets inscrits dans une tournée.",
        "Trips placed in a route.",
    ),
    "refused": Label(
        "Demandes refusées",
        "Requests refused",
        "Trajets qu'aucune tournée ne peut assurer, chacun avec son motif.",
        "Trips no route can carry, each with its reason.",
    ),
    "refusal_rate": Label(
        "Taux de refus",
        "Refusal rate",
        "Demandes refusées rapportées aux demandes.",
        "Refused requests over requests.",
    ),
    "passengers_served": Label(
        "Voyageurs transportés",
        "Passengers carried",
        "Personnes à bord des trajets servis (accompagnants et fauteuils compris).",
        "People on the served trips (companions and wheelchair users included).",
    ),
    "linked_pairs": Label(
        "Allers-retours servis / refusés",
        "Round trips served / refused",
        "Allers et retours liés servis tous les deux / refusés tous les deux.",
        "Linked outbound and return trips both served / both refused.",
    ),
    "vehicles_minibus": Label(
        "Minibus utilisés",
        "Minibuses used",
        "Véhicules du transporteur ayant au moins un trajet, sur ceux de la flotte.",
        "Operator's vehicles with at least one trip, of the fleet.",
    ),
    "vehicles_volunteer": Label(
        "Chauffeurs bénévoles mobilisés",
        "Volunteer drivers used",
        "Bénévoles ayant au moins un trajet, sur ceux disponibles.",
        "Volunteers with at least one trip, of those available.",
    ),
    "vehicles_carpool": Label(
        "Covoitureurs mobilisés",
        "Carpool drivers used",
        "Conducteurs ayant pris au moins un passager, sur les offres du jour.",
        "Drivers who took at least one passenger, of the day's offers.",
    ),
    "vehicle_km": Label(
        "Kilomètres parcourus",
        "Vehicle km",
        "Km des tournées, du dépôt au dépôt (covoiturage : seulement le détour).",
        "Km of the routes, depot to depot (carpool: the detour only).",
    ),
    "vehicle_hours": Label(
        "Heures de conduite",
        "Vehicle hours",
        "Durée des tournées, du départ au retour (covoiturage : seulement le détour).",
        "Duration of the routes, leaving to returning (carpool: the detour only).",
    ),
    "empty_km": Label(
        "Kilomètres à vide",
        "Empty km",
        "Km parcourus sans personne à bord, trajets depuis et vers le dépôt compris.",
        "Km driven with nobody on board, legs from and to the depot included.",
    ),
    "mean_occupancy": Label(
        "Occupation moyenne",
        "Mean occupancy",
        "Voyageurs-km rapportés aux km parcourus : personnes à bord en moyenne.",
        "Passenger-km over vehicle km: people on board on average.",
    ),
    "mean_ride_min": Label(
        "Temps de trajet moyen (min)",
        "Mean ride time (min)",
        "Temps à bord moyen d'un voyageur, de la montée à la descente.",
        "A rider's mean time on board, boarding to alighting.",
    ),
    "max_ride_min": Label(
        "Temps de trajet maximal (min)",
        "Longest ride (min)",
        "Le plus long temps à bord de la journée.",
        "The longest time on board of the day.",
    ),
    "mean_detour": Label(
        "Allongement moyen",
        "Mean detour factor",
        "Temps à bord rapporté au temps du trajet direct (1 : aucun détour).",
        "Time on board over the direct trip's time (1: no detour).",
    ),
    "co2_kg": Label(
        "CO2 émis (kg)",
        "CO2 emitted (kg)",
        "Km parcourus multipliés par le taux d'émission de chaque type de véhicule.",
        "Km driven times each vehicle kind's emission rate.",
    ),
    "cost_eur": Label(
        "Coût (€)",
        "Cost (EUR)",
        "Coût au km et à l'heure des véhicules, coûts fixes et incitations au covoiturage.",
        "Vehicles' cost per km and per hour, fixed costs and carpool incentives.",
    ),
    "cost_per_served_eur": Label(
        "Coût par trajet servi (€)",
        "Cost per served trip (EUR)",
        "Coût de la journée divisé par les demandes servies.",
        "The day's cost divided by the served requests.",
    ),
    "revenue_eur": Label(
        "Recettes (€)",
        "Fare revenue (EUR)",
        "Tarifs payés par les voyageurs des véhicules du transporteur (minibus, bénévoles).",
        "Fares paid by the riders of the operator's vehicles (minibus, volunteer drivers).",
    ),
    "subsidy_eur": Label(
        "Subvention (€)",
        "Subsidy (EUR)",
        "Coût de la journée moins les recettes.",
        "The day's cost minus the fare revenue.",
    ),
    "subsidy_per_passenger_eur": Label(
        "Subvention par voyageur (€)",
        "Subsidy per passenger (EUR)",
        "Subvention divisée par les voyageurs des véhicules du transporteur.",
        "The subsidy divided by the passengers of the operator's vehicles.",
    ),
    "carpool_drivers_eur": Label(
        "Versé aux conducteurs du covoiturage (€)",
        "Paid to carpool drivers (EUR)",
        "Participations des passagers et incitations du territoire aux conducteurs.",
        "Passengers' contributions and the territory's incentives to the drivers.",
    ),
    "km_per_request": Label(
        "Km par demande",
        "Km per request",
        "Kilomètres parcourus divisés par les demandes : comparable d'une taille à l'autre.",
        "Vehicle km divided by the requests: comparable across sizes.",
    ),
    "empty_km_per_request": Label(
        "Km à vide par demande",
        "Empty km per request",
        "Kilomètres à vide divisés par les demandes.",
        "Empty km divided by the requests.",
    ),
    "co2_per_served_kg": Label(
        "CO2 par trajet servi (kg)",
        "CO2 per served trip (kg)",
        "CO2 émis divisé par les demandes servies.",
        "CO2 emitted divided by the served requests.",
    ),
    "mode_share": Label(
        "Part de chaque mode",
        "Share per mode",
        "Part des demandes servies par minibus, bénévole ou covoiturage.",
        "Share of the served requests by minibus, volunteer or carpool.",
    ),
    "sim_promises_kept": Label(
        "Promesses tenues (journée simulée)",
        "Promises kept (simulated day)",
        "Part des voyageurs pris en charge dans le créneau promis et déposés à l'heure promise, "
        "quand le plan est vécu par le simulateur (temps de trajet aléatoires, absences, "
        "replanification après les événements) ; les absents ne comptent pas, un refus après "
        "promesse compte comme promesse non tenue.",
        "Share of the riders picked up within the promised window and dropped off by the "
        "promised time when the plan is lived by the day simulator (random travel times, "
        "no-shows, re-planning after events); no-shows left out, a refusal after a promise "
        "counts as broken.",
    ),
    "sim_late_p90_min": Label(
        "Retard p90 (min, journée simulée)",
        "Lateness p90 (min, simulated day)",
        "Retard au-delà de la promesse (prise en charge ou arrivée) que 90 % des voyageurs "
        "transportés ne dépassent pas.",
        "Lateness beyond the promise (pickup or arrival) that 90% of the riders carried do not "
        "exceed.",
    ),
    "sim_late_max_min": Label(
        "Retard maximal (min, journée simulée)",
        "Worst lateness (min, simulated day)",
        "Le plus grand retard au-delà de la promesse d'un voyageur transporté.",
        "The largest lateness beyond the promise of a rider carried.",
    ),
    "sim_refused_after_promise": Label(
        "Refus après promesse (journée simulée)",
        "Refused after a promise (simulated day)",
        "Trajets promis que la journée n'a pas pu assurer (panne sans relais, par exemple), "
        "chacun notifié au voyageur.",
        "Promised trips the day could not carry (a breakdown without a relay, for example), "
        "each notified to the rider.",
    ),
    "sim_extra_km": Label(
        "Km au-delà du plan (journée simulée)",
        "Km beyond the plan (simulated day)",
        "Km roulés dans la journée simulée moins ceux du plan (négatif : les déposes des "
        "absents ne sont pas faites).",
        "Km driven in the simulated day minus the plan's (negative: the no-shows' drop-offs "
        "are not driven).",
    ),
    "share_volunteer": Label(
        "Part des bénévoles",
        "Volunteer share",
        "Part des demandes servies par un chauffeur bénévole.",
        "Share of the served requests carried by a volunteer driver.",
    ),
    "share_carpool": Label(
        "Part du covoiturage",
        "Carpool share",
        "Part des demandes servies en covoiturage.",
        "Share of the served requests carried by carpool.",
    ),
    "tad_vs_taxi_km": Label(
        "Km évités par rapport au taxi (TAD)",
        "Km saved against taxis (on-demand)",
        "Km qu'auraient faits les mêmes trajets en taxi seul (aller et retour au dépôt le plus "
        "proche), moins les km des minibus et bénévoles.",
        "Km the same trips would need by a taxi each (to and from the nearest depot), minus "
        "the minibuses' and volunteers' km.",
    ),
    "tad_vs_taxi_co2": Label(
        "CO2 évité par rapport au taxi (kg, TAD)",
        "CO2 saved against taxis (kg, on-demand)",
        "CO2 de ces trajets en taxi seul (taux «\u00a0voiture\u00a0») moins celui des "
        "minibus et bénévoles.",
        "CO2 of those taxi trips (at the car rate) minus that of the minibuses and volunteers.",
    ),
    "carpool_vs_solo_km": Label(
        "Km évités par le covoiturage",
        "Km saved by carpool",
        "Km qu'auraient faits les passagers du covoiturage seuls dans leur voiture, moins le "
        "détour des conducteurs.",
        "Km the carpool passengers would drive alone in their own car, minus the drivers' detour.",
    ),
    "carpool_vs_solo_co2": Label(
        "CO2 évité par le covoiturage (kg)",
        "CO2 saved by carpool (kg)",
        "CO2 de ces trajets seuls en voiture moins celui du détour des conducteurs.",
        "CO2 of those solo drives minus that of the drivers' detour.",
    ),
    "refusal_rate_wheelchair": Label(
        "Taux de refus, fauteuil roulant",
        "Refusal rate, wheelchair users",
        "Refus rapportés aux demandes des voyageurs en fauteuil roulant.",
        "Refusals over the requests of wheelchair users.",
    ),
    "refusal_rate_other": Label(
        "Taux de refus, autres voyageurs",
        "Refusal rate, other riders",
        "Refus rapportés aux demandes des autres voyageurs.",
        "Refusals over the other riders' requests.",
    ),
    "communes_with_refusals": Label(
        "Communes avec un refus",
        "Communes with a refusal",
        "Communes de départ ayant au moins une demande refusée.",
        "Pickup communes with at least one refused request.",
    ),
    "worst_commune_refusal_rate": Label(
        "Taux de refus de la commune la moins bien servie",
        "Worst commune's refusal rate",
        "Le plus fort taux de refus d'une commune de départ.",
        "The highest refusal rate of a pickup commune.",
    ),
    "pop_share_hub_within": Label(
        "Population proche d'un pôle",
        "Population near a hub",
        "Part des habitants dont l'arrêt de la commune atteint un pôle dans le temps indiqué.",
        "Share of inhabitants whose commune's stop reaches a hub within the stated time.",
    ),
    "solver_status": Label(
        "Résultat du calcul",
        "Solver outcome",
        "Ce que la recherche a trouvé dans le temps imparti.",
        "What the search found within its time limit.",
    ),
    "solve_s": Label(
        "Temps de calcul (s)",
        "Solving time (s)",
        "Durée de la recherche de tournées.",
        "Time spent searching for routes.",
    ),
}

MODE_NAMES = {
    "fr": {"minibus": "minibus", "volunteer": "bénévole", "carpool": "covoiturage"},
    "en": {"minibus": "minibus", "volunteer": "volunteer", "carpool": "carpool"},
}

STATUS_TEXT: dict[SolveStatus, tuple[str, str]] = {
    SolveStatus.SOLVED: (
        "plan trouvé (le meilleur dans le temps imparti, sans preuve d'optimalité)",
        "plan found (the best within the time limit, not proven optimal)",
    ),
    SolveStatus.OPTIMAL: ("plan optimal (prouvé)", "optimal plan (proven)"),
    SolveStatus.INFEASIBLE: (
        "le meilleur plan enfreint une contrainte",
        "the best plan breaks a constraint",
    ),
    SolveStatus.NO_PLAN: ("aucun plan trouvé : tout est refusé", "no plan found: all refused"),
    SolveStatus.NO_REQUESTS: ("aucune demande à planifier", "no request to plan"),
    SolveStatus.NO_VEHICLES: (
        "aucun véhicule disponible (pauses incompatibles avec le service)",
        "no vehicle can work (breaks do not fit in the shift)",
    ),
    SolveStatus.NOTHING_FEASIBLE: (
        "aucune demande réalisable, même seule",
        "no request can be served, even alone",
    ),
    SolveStatus.UNKNOWN: (
        "plan construit réservation par réservation",
        "plan built booking by booking",
    ),
}

# Pieces of the engine's own status detail, in words (the raw text stays in plan.json)
_DETAIL_WORDS: tuple[tuple[str, str, str], ...] = (
    ("CARPOOL_", "covoiturage apparié d'abord", "carpool matched first"),
    (
        "LOCAL_OPTIMUM_NOT_REACHED",
        "recherche arrêtée à la limite de temps",
        "stopped at the time limit",
    ),
    ("ROUTING_SUCCESS", "recherche terminée", "search completed"),
    ("ROUTING_OPTIMAL", "recherche terminée", "search completed"),
    ("LINKED_DROPPED", "allers-retours incomplets retirés", "incomplete round trips removed"),
    ("ELIMINATED_", "tournées superflues supprimées", "needless routes removed"),
    ("ALNS", "amélioré par recherche à grand voisinage", "improved by large neighbourhood search"),
)


def label(key: str, lang: str = "fr") -> str:
    return KPI_LABELS[key].name(lang)


def status_text(status: SolveStatus, detail: str = "", lang: str = "fr") -> str:
    """The solver's outcome in a sentence: what it means, then how, in words."""
    fr, en = STATUS_TEXT.get(status, (str(status), str(status)))
    text = fr if lang == "fr" else en
    words = []
    for token, w_fr, w_en in _DETAIL_WORDS:
        w = w_fr if lang == "fr" else w_en
        if token in detail and w not in words:
            words.append(w)
    if not words:
        return text
    return text + (" ; " if lang == "fr" else "; ") + ", ".join(words)


def _baseline(value: float | None, decimals: int, lang: str) -> str:
    return "—" if value is None else signed(value, decimals, lang)


def kpi_rows(problem: Any, plan: Any, lang: str = "fr") -> list[tuple[str, str, str]]:
    """(name, value, definition) of every key figure of a plan, in ``lang``."""
    k = plan.kpis
    b: Baselines = compare_with_baselines(problem, plan.routes)
    modes = MODE_NAMES[lang]
    rows: list[tuple[str, str]] = [
        ("requests", number(k.requests, 0, lang)),
        ("served", number(k.served, 0, lang)),
        ("refused", number(k.refused, 0, lang)),
        ("passengers_served", number(k.passengers_served, 0, lang)),
    ]
    if k.linked_pairs_served or k.linked_pairs_refused:
        rows.append(("linked_pairs", f"{k.linked_pairs_served} / {k.linked_pairs_refused}"))
    for mode, (used, available) in b.vehicles.items():
        rows.append((f"vehicles_{mode}", f"{used} / {available}"))
    rows += [
        ("vehicle_km", number(k.vehicle_km, 1, lang)),
        ("vehicle_hours", number(k.vehicle_hours, 1, lang)),
        ("empty_km", number(k.empty_km, 1, lang)),
        ("mean_occupancy", number(k.mean_occupancy, 2, lang)),
        ("mean_ride_min", number(k.mean_ride_min, 1, lang)),
        ("max_ride_min", number(k.max_ride_min, 1, lang)),
        ("mean_detour", number(k.mean_detour, 2, lang)),
        ("co2_kg", number(k.co2_kg, 1, lang)),
        ("cost_eur", number(k.cost_eur, 2, lang)),
    ]
    if k.mode_share:
        rows.append(
            (
                "mode_share",
                ", ".join(
                    f"{modes.get(m, m)} {percent(v, 0, lang)}" for m, v in k.mode_share.items()
                ),
            )
        )
    rows += [
        ("tad_vs_taxi_km", _baseline(b.tad_km_saved, 0, lang)),
        ("tad_vs_taxi_co2", _baseline(b.tad_co2_saved_kg, 0, lang)),
        ("carpool_vs_solo_km", _baseline(b.carpool_km_saved, 0, lang)),
        ("carpool_vs_solo_co2", _baseline(b.carpool_co2_saved_kg, 1, lang)),
        ("solver_status", status_text(plan.stats.status, plan.stats.status_detail, lang)),
        ("solve_s", number(plan.stats.total_s, 1, lang)),
    ]
    return [(label(key, lang), value, KPI_LABELS[key].definition(lang)) for key, value in rows]
