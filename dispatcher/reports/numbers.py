"""Numbers as people read them: French by default (decimal comma, a narrow no-break space
between thousands and before ``%``), English on request (decimal point, comma thousands)."""

from __future__ import annotations

from datetime import date

from dispatcher.errors import InputError

LANGS = ("fr", "en")


def check_lang(lang: str, where: str = "--lang") -> str:
    """``lang`` if it is one of :data:`LANGS`, else an InputError naming ``where``."""
    if lang not in LANGS:
        raise InputError(f"must be fr or en, got {lang!r}", where)
    return lang


NNBSP = "\u202f"  # narrow no-break space: French thousands separator and before "%"


def number(value: float, decimals: int = 0, lang: str = "fr") -> str:
    """``1234.5`` -> ``"1 234,5"`` (fr, narrow no-break space) or ``"1,234.5"`` (en)."""
    text = f"{value:,.{decimals}f}"
    if text in ("-0", "-0." + "0" * decimals):  # a rounded tiny negative
        text = text[1:]
    if lang == "fr":
        text = text.replace(",", NNBSP).replace(".", ",")
    return text.replace("-", "\u2212")  # a real minus sign


def percent(share: float, decimals: int = 0, lang: str = "fr") -> str:
    """``0.125`` -> ``"12,5 %"`` (fr) or ``"12.5%"`` (en)."""
    return number(100.0 * share, decimals, lang) + (NNBSP + "%" if lang == "fr" else "%")


def signed(value: float, decimals: int = 0, lang: str = "fr") -> str:
    """A difference, with its sign: ``+12,5`` or ``−3``."""
    text = number(value, decimals, lang)
    return text if text.startswith("\u2212") or text.strip("0,.\u202f") == "" else "+" + text


WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def long_date(day: date, lang: str) -> str:
    """``mardi 1er décembre 2026`` (fr) or ``Tuesday 2026-12-01`` (en)."""
    if lang != "fr":
        return f"{WEEKDAYS_EN[day.weekday()]} {day.isoformat()}"
    n = "1er" if day.day == 1 else str(day.day)
    return f"{WEEKDAYS_FR[day.weekday()]} {n} {MONTHS_FR[day.month - 1]} {day.year}"
