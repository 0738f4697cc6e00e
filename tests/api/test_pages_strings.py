"""The pages' strings: one dictionary per language, the same keys in both, and every key the
HTML and the scripts use is in them (no Chromium needed)."""

from __future__ import annotations

import json
import re

from dispatcher.api.pages import HERE, STATIC


def dictionaries() -> dict[str, dict[str, str]]:
    text = (STATIC / "strings.js").read_text(encoding="utf-8")
    body = text[text.index("{", text.index("window.STRINGS")) : text.rindex("}") + 1]
    body = re.sub(r",(\s*[}\]])", r"\1", body)  # trailing commas
    body = re.sub(r"^\s*(fr|en):", r'"\1":', body, flags=re.M)
    return json.loads(body)


def used_keys() -> set[str]:
    keys: set[str] = set()
    for page in HERE.glob("*.html"):
        keys |= set(re.findall(r'data-i18n(?:-placeholder|-title)?="([^"]+)"', page.read_text()))
    for script in STATIC.glob("*.js"):
        keys |= set(re.findall(r'\bt\("([a-z_]+\.[a-z_]+)"', script.read_text()))
    return keys


def test_both_languages_have_the_same_strings() -> None:
    d = dictionaries()
    assert set(d) == {"fr", "en"}
    assert set(d["fr"]) == set(d["en"]), set(d["fr"]) ^ set(d["en"])
    for lang, table in d.items():
        for k, v in table.items():
            assert v.strip(), f"{lang}: {k} is empty"
            assert re.findall(r"\{\w+\}", v) == re.findall(r"\{\w+\}", d["fr"][k]), (lang, k)


def test_every_key_used_is_defined() -> None:
    d = dictionaries()
    used = used_keys()
    assert len(used) > 40  # the patterns still find the keys
    missing = used - set(d["fr"])
    assert not missing, missing
    # the dynamic families: event types, stop kinds, vehicle statuses and booking states
    for family, names in {
        "ev": ("arrived", "departed", "boarded", "no_show", "dropped_off", "delayed",
               "unavailable", "position"),
        "kind": ("pickup", "dropoff", "break", "depot"),
        "status": ("planned", "on_road", "unavailable", "done"),
        "state": ("promised", "on_board", "done", "no_show", "refused", "cancelled"),
        "alert": ("late", "broken_promise", "return_before_outbound", "no_show", "unavailable",
                  "refused_after_promise"),
    }.items():  # fmt: skip
        for n in names:
            assert f"{family}.{n}" in d["fr"], f"{family}.{n}"
