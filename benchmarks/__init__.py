"""Benchmarks: readers of published instances, peer adapters (PyVRP, VROOM) and the runner
``python -m benchmarks.bench``. Peers never leak into ``dispatcher/``."""
