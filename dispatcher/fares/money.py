"""Euro amounts: integer cents inside, French display at the edges ("2,50 €")."""

from __future__ import annotations


def euros(cents: int) -> str:
    """``250`` -> ``"2,50 €"``, ``123456`` -> ``"1 234,56 €"`` (French format: a comma before the
    cents, spaces between thousands and before the sign)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    groups = f"{whole:,}".replace(",", " ")
    return f"{sign}{groups},{rest:02d} €"


def percent_of(cents: int, percent: int) -> int:
    """``percent`` % of ``cents``, rounded half up to the cent (integers only)."""
    return (cents * percent + 50) // 100


def divide(cents: int, n: int) -> int:
    """``cents / n`` rounded half up to the cent."""
    return (2 * cents + n) // (2 * n)
