"""The service: every use case built once over one context (the composition root)."""

from __future__ import annotations

from dispatcher.service.bookings import Bookings
from dispatcher.service.carpooling import Carpooling
from dispatcher.service.compiling import Compiler
from dispatcher.service.context import Context
from dispatcher.service.day_fleet import DayFleet
from dispatcher.service.days import Days
from dispatcher.service.events import Operations
from dispatcher.service.fleet import Fleet
from dispatcher.service.jobs import Jobs
from dispatcher.service.personal_data import PersonalData
from dispatcher.service.plans import Plans
from dispatcher.service.privacy import Privacy
from dispatcher.service.settings import Settings


class Service:
    """The use cases of one process: ``days``, ``bookings``, ``jobs``, ``plans``, ``fleet``,
    ``carpooling``, ``personal_data`` (a person's rights, the retention period, pseudonymised
    dumps), ``operations`` (the day as it happens: vehicles' events, the live day, the
    riders' notifications, manual moves); ``store`` for what the API reads directly (keys,
    health); ``compiler``, ``day_fleet`` and ``privacy`` (who sees what, the access log),
    which the use cases share."""

    def __init__(self, context: Context | Settings) -> None:
        """Over ``context``, or over a context of ``Settings`` alone (the store they name, the
        system clock, the territory and road network they name, loaded on first use)."""
        self.ctx = ctx = context if isinstance(context, Context) else Context(context)
        self.settings, self.store = ctx.settings, ctx.store
        self.compiler = compiler = Compiler(ctx)
        self.day_fleet = day_fleet = DayFleet(ctx)
        self.privacy = privacy = Privacy(ctx)
        self.days = Days(ctx, compiler, privacy)
        self.bookings = Bookings(ctx, compiler, self.days, day_fleet)
        self.jobs = Jobs(ctx, compiler, day_fleet, privacy)
        self.fleet = Fleet(ctx, compiler, privacy)
        self.plans = Plans(ctx, self.fleet, privacy)
        self.carpooling = Carpooling(ctx, self.days, day_fleet, privacy)
        self.personal_data = PersonalData(ctx, privacy, self.days)
        self.operations = Operations(ctx, privacy)
        self.tickets = self.bookings.tickets

    def warm_up(self) -> None:
        """Load the territory and the road network now rather than on the first call."""
        _ = self.ctx.territory, self.ctx.network

    def close(self) -> None:
        self.jobs.close()
        self.store.close()
