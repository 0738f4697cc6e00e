"""``python -m dispatcher``: the command line, as the ``dispatcher`` script runs it."""

from dispatcher.cli import app

if __name__ == "__main__":
    app(prog_name="dispatcher")
