"""Fares as data (``rules``), the fare of a trip (``pricing``), the fares of a plan and their
key figures (``plan``). Pure: no I/O beyond reading the rules' TOML."""

from dispatcher.fares.money import euros
from dispatcher.fares.pricing import Fare, trip_fare
from dispatcher.fares.rules import FareRules, fare_rules_from_text, load_fare_rules

__all__ = ["Fare", "FareRules", "euros", "fare_rules_from_text", "load_fare_rules", "trip_fare"]
