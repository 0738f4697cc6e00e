"""Parameter tuning on published benchmark instances, inside the installed package.

- :mod:`dispatcher.tuning.instances`: the readers of the Cordeau, Li & Lim and Solomon files
  into the project's ``Problem``, and the literature's scoring of a plan (``judge``); the
  benchmark runners in ``benchmarks/`` use the same readers.
- :mod:`dispatcher.tuning.study`: the Optuna study whose trials run on Dask.
- :mod:`dispatcher.tuning.cli`: ``dispatcher tune``.

Optuna and Dask are the optional ``tune`` extra (``pip install "dispatcher[tune]"``); nothing
here imports them until a study runs.
"""
