"""Route optimisation for rural on-demand transport and carpooling."""

__version__ = "0.1.0"
