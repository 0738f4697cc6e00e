"""Bad fare files stop with the file, the line and the key."""

from __future__ import annotations

import pytest

from dispatcher.errors import InputError
from dispatcher.fares import fare_rules_from_text, load_fare_rules

GOOD = """name = "test"
[zones]
kind = "intercommunality"
inside_cents = 200
between_cents = 300

[categories.full]
name = "Plein tarif"

[categories.reduced]
percent = 50

[products.single]
kind = "single"
"""


def test_default_rules_load():
    r = load_fare_rules()
    assert set(r.categories) == {"full", "reduced", "solidarity", "child", "companion"}
    assert set(r.products) == {"single", "on_board", "card10", "monthly"}
    assert r.social_categories == {"solidarity"}
    assert r.companion_category().id == "companion"


@pytest.mark.parametrize(
    "old, new, where, message",
    [
        (
            "percent = 50",
            "percent = 150",
            "t.toml: line 11",
            "categories.reduced.percent: must be an integer from 0 to 100, got 150",
        ),
        (
            'kind = "intercommunality"',
            'kind = "rings"',
            "t.toml: line 3",
            "zones.kind: must be one of flat, intercommunality, distance, got 'rings'",
        ),
        (
            "between_cents = 300\n",
            "",
            "t.toml: line 2",
            "zones.between_cents: is required with kind = 'intercommunality'",
        ),
        (
            'kind = "single"',
            'kind = "single"\nprice = 3',
            "t.toml: line 15",
            "products.single.price: unknown key",
        ),
        (
            "inside_cents = 200",
            "inside_cents = 2.5",
            "t.toml: line 4",
            "zones.inside_cents: must be an integer from 0 to 1000000000, got 2.5",
        ),
        (
            'kind = "single"',
            'kind = "card"',
            "t.toml: line 13",
            "products.single.trips: a card needs its number of trips",
        ),
    ],
)
def test_bad_files_name_line_and_key(old, new, where, message):
    text = GOOD.replace(old, new)
    with pytest.raises(InputError) as e:
        fare_rules_from_text(text, "t.toml")
    assert e.value.where == where
    assert e.value.message.startswith(message)


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="not valid TOML") as e:
        fare_rules_from_text("[zones\n", "t.toml")
    assert e.value.where == "t.toml"
    with pytest.raises(InputError, match="no such fare file"):
        load_fare_rules(tmp_path / "nope.toml")


def test_default_category_must_exist():
    with pytest.raises(InputError, match="'senior' is not a category"):
        fare_rules_from_text('default_category = "senior"\n' + GOOD, "t.toml")


def test_distance_bands_must_ascend():
    text = GOOD.replace(
        'kind = "intercommunality"\ninside_cents = 200\nbetween_cents = 300',
        'kind = "distance"\n'
        "bands = [{up_to_km = 10, cents = 1}, {up_to_km = 5, cents = 2}, {cents = 3}]",
    )
    with pytest.raises(InputError, match=r"zones.bands\[1\].up_to_km: must be a number above 10"):
        fare_rules_from_text(text, "t.toml")
