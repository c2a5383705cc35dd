"""``GET /v1/agents``: Grace and the eight personas a client can talk to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from agents.registry import Persona
from api.auth.deps import rate_limited
from api.auth.principal import Principal
from api.deps import RegistryDep
from api.schemas.agents import Agent, AgentList
from api.schemas.common import problem_responses

router = APIRouter(prefix="/v1", tags=["agents"])


def agent_of(p: Persona) -> Agent:
    """The public view of a persona."""
    return Agent(
        name=p.name,
        display_name=p.display_name,
        role=p.role,
        scope=list(p.scope),
        workflows=list(p.workflows),
        handoffs_to=list(p.handoffs_to),
        supervisor=p.is_supervisor,
    )


@router.get(
    "/agents", response_model=AgentList, summary="List the agents",
    responses=problem_responses(401, 429),
)  # fmt: skip
async def list_agents(
    _: Annotated[Principal, Depends(rate_limited)], registry: RegistryDep
) -> AgentList:
    """Grace first, then the eight personas (use ``name`` as ``agent`` in ``POST /v1/chat``)."""
    return AgentList(items=[agent_of(registry.grace), *map(agent_of, registry.personas)])
