"""``GET /v1/personas``: Grace and the eight personas a client can talk to.

``GET /v1/agents`` is the same list under the endpoint's name before 2026-12-04 (deprecated,
kept for existing clients).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from agents.registry import Persona
from api.auth.deps import rate_limited
from api.auth.principal import Principal
from api.deps import RegistryDep
from api.schemas.common import problem_responses
from api.schemas.personas import PersonaList, PersonaOut

router = APIRouter(prefix="/v1", tags=["personas"])


def persona_out(p: Persona) -> PersonaOut:
    """The public view of a persona."""
    return PersonaOut(
        name=p.name,
        display_name=p.display_name,
        role=p.role,
        scope=list(p.scope),
        workflows=list(p.workflows),
        handoffs_to=list(p.handoffs_to),
        supervisor=p.is_supervisor,
    )


@router.get(
    "/personas", response_model=PersonaList, summary="List the personas",
    responses=problem_responses(401, 429),
)  # fmt: skip
async def list_personas(
    _: Annotated[Principal, Depends(rate_limited)], registry: RegistryDep
) -> PersonaList:
    """Grace first, then the eight personas (use ``name`` as ``persona`` in ``POST /v1/chat``)."""
    return PersonaList(items=[persona_out(registry.grace), *map(persona_out, registry.personas)])


@router.get(
    "/agents", response_model=PersonaList, summary="List the personas (deprecated name)",
    responses=problem_responses(401, 429), deprecated=True,
)  # fmt: skip
async def list_agents(
    principal: Annotated[Principal, Depends(rate_limited)], registry: RegistryDep
) -> PersonaList:
    """The same list as ``GET /v1/personas``, under the endpoint's older name."""
    return await list_personas(principal, registry)
