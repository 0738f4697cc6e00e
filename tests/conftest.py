"""Test-wide settings.

Hypothesis explores new random examples on every local run. On CI (``CI`` set, as ``.ci/run``
runs) the examples are derandomized: the same generated instances each run, so a red CI means
a change broke something, not that the dice found an old bug; those are found locally.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
