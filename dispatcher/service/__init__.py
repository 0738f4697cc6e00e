"""The application layer: the use cases of the service in plain Python, callable from the API,
the CLI and tests without HTTP.

``app.Service`` builds them over one ``context.Context`` (settings, store, clock, territory,
road network, what the process holds in memory):

- ``days`` — the calendar, batches of requests, cancellation;
- ``bookings`` — real-time bookings and the booking rules (``promises`` decides each);
- ``jobs`` — plan and scenario jobs in the background;
- ``plans`` — the plan as JSON, GeoJSON, manifest CSV, and the checker's verdict;
- ``fleet`` — the vehicles; ``carpooling`` — carpool offers, volunteers, matchings;
- ``compiling`` and ``day_fleet`` — request and vehicle dicts compiled into Problems.

It may import the model, io, graph, territory, solver and store; never the API.
"""
