"""The fleet: vehicles (minibuses, cars) validated on the territory before they are stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dispatcher.service.compiling import Compiler
from dispatcher.service.context import Context


class Fleet:
    def __init__(self, ctx: Context, compiler: Compiler) -> None:
        self.ctx, self.compiler = ctx, compiler

    def vehicles(self) -> list[dict[str, Any]]:
        return self.ctx.store.list_vehicles()

    def get(self, vehicle_id: str) -> dict[str, Any]:
        return self.ctx.store.get_vehicle(vehicle_id)

    def validate(self, d: Mapping[str, Any], where: str = "body") -> None:
        self.compiler.validate_vehicle(d, where)

    def put(self, d: Mapping[str, Any], create_only: bool = False) -> bool:
        """Store a vehicle once validated; True if created."""
        self.validate(d)
        return self.ctx.store.put_vehicle(d, create_only=create_only)

    def delete(self, vehicle_id: str) -> None:
        self.ctx.store.delete_vehicle(vehicle_id)
