"""The one dependency of the routes: the application's ``Service``, typed (FastAPI's ``deps``
pattern). Tests override ``get_service`` to hand the routes a service of their own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from dispatcher.service.app import Service


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
