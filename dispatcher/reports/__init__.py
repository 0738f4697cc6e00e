"""Operators' and planners' outputs: driver manifests, the map of the day, a GTFS-Flex feed,
and the scenario report. Everything here reads a Problem and a Plan (or scenario results) and
writes files; nothing here plans or checks."""
