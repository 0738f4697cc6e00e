"""The edges: JSON, CSV and GeoJSON in and out, local times in ISO 8601, places resolved.

Inside the model every time is integer seconds since midnight of the service day; here, and
only here, they become local times. One module per concern, each imported from directly
(nothing is re-exported here); a module imports only modules listed above it:

- :mod:`dispatcher.io.protocols`: what the edges need of the territory (``PlaceResolver``,
  ``TerritoryLike``) and of the road network (``MatrixSource``, ``PathSource``);
- :mod:`dispatcher.io.times`: ``parse_time``/``format_time``, ``parse_day``, windows in and out;
- :mod:`dispatcher.io.fields`: typed readers of dict fields whose errors name the field;
- :mod:`dispatcher.io.memo`: ``Memo``, the serialised pieces reused when a day is written again;
- :mod:`dispatcher.io.problem`: requests and vehicles from dicts, places resolved, the builder
  ``problem_from_dicts``, and the problem as JSON (``problem_to_dict``/``problem_from_dict``);
- :mod:`dispatcher.io.plan`: the plan as JSON (``plan_to_dict``/``plan_from_dict``);
- :mod:`dispatcher.io.geojson`: ``plan_to_geojson``, routes along the roads;
- :mod:`dispatcher.io.files`: ``read_text``, ``read_json``/``write_json``,
  ``load_problem``/``load_plan``;
- :mod:`dispatcher.io.tables`: the requests and fleet CSVs, ``load_requests``/``load_fleet``,
  ``load_list`` (offers and volunteers, CSV or JSON), ``strip_lines``;
- :mod:`dispatcher.io.mobility`: carpool offers and volunteers from dicts, and
  ``mixed_from_dicts``, the builder with them.

Documented schemas: ``docs/schema.md`` (problem, plan, requests CSV, fleet CSV).
"""
