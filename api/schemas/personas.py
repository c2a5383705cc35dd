"""Persona schemas: Grace and the eight personas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

_EXAMPLE: dict[str, Any] = {
    "name": "solari",
    "display_name": "Solari",
    "role": "Bookings and scheduling",
    "scope": ["wellness bookings", "gallery visits"],
    "workflows": ["WF-WELL-BOOK"],
    "handoffs_to": ["grace"],
    "supervisor": False,
}


class PersonaOut(BaseModel):
    """A persona a client can talk to (``persona`` in ``POST /v1/chat``)."""

    name: str
    display_name: str
    role: str
    scope: list[str]
    workflows: list[str]
    handoffs_to: list[str]
    supervisor: bool

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})


class PersonaList(BaseModel):
    """Grace first, then the eight personas."""

    items: list[PersonaOut]

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_EXAMPLE]}]})
