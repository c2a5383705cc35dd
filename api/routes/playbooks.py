"""``/v1/playbooks`` and ``/v1/playbook-runs``: multi-step automations over HTTP.

Templates, runs, approvals, cancel, rollback, suggestions, analytics, outbound webhooks and SSE
progress. Staff and admins only (clients get 403). The person calling is the approver of gates
and the one who orders rollbacks (``human:<key name>``). Typed playbook errors become problem+json:
unknown playbook or run 404, invalid playbook or parameters 422, wrong run state 409.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.auth.deps import require_role
from api.auth.principal import Principal, Role
from api.playbook_service import PlaybookService, service_of
from api.problems import ProblemError
from api.schemas.common import problem_responses
from api.schemas.playbooks import (
    AnalyticsOut,
    ApprovalIn,
    PlaybookList,
    PlaybookSummary,
    RollbackIn,
    RollbackOut,
    RunList,
    RunOut,
    StartRun,
    SuggestIn,
    SuggestOut,
    ValidateRequest,
    ValidationOut,
    WebhookIn,
    WebhookOut,
)  # fmt: skip
from graphs.playbooks.model import PlaybookError, UnknownPlaybookError
from graphs.playbooks.rollback import rollback
from graphs.playbooks.runner import PlaybookInvalidError, RunStateError
from graphs.playbooks.store import FINISHED, RunRecord, UnknownRunError
from graphs.playbooks.validate import validate

router = APIRouter(prefix="/v1", tags=["playbooks"])
Staff = Annotated[Principal, Depends(require_role(Role.STAFF))]
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
Svc = Annotated[PlaybookService, Depends(service_of)]
PlaybookId = Annotated[str, Path(max_length=64, pattern=r"^[a-z][a-z0-9-]*$")]
RunId = Annotated[UUID, Path(description="The run id.")]
_R = problem_responses(401, 403, 404, 409, 422, 429)
T = TypeVar("T")


async def _problems(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except UnknownPlaybookError as exc:
        raise ProblemError(404, "unknown-playbook", "Unknown playbook", str(exc),
                           valid=exc.known) from exc  # fmt: skip
    except UnknownRunError as exc:
        raise ProblemError(404, "unknown-playbook-run", "Unknown playbook run", str(exc)) from exc
    except PlaybookInvalidError as exc:
        raise ProblemError(422, "playbook-invalid", "Playbook fails validation", str(exc),
                           issues=exc.report.as_dict()["issues"]) from exc  # fmt: skip
    except RunStateError as exc:
        raise ProblemError(409, "playbook-run-state", "Not possible in the run's state",
                           str(exc)) from exc  # fmt: skip
    except PlaybookError as exc:
        raise ProblemError(
            422, "playbook-parameters", "Invalid playbook request", str(exc)
        ) from exc


def _run_out(run: RunRecord, waiting: list[dict[str, Any]] | None = None) -> RunOut:
    return RunOut.model_validate({**run.model_dump(), "waiting_on": waiting or []})


async def _with_gates(svc: PlaybookService, run: RunRecord) -> RunOut:
    gates = await svc.runner.pending(run.id) if run.status == "waiting_approval" else []
    return _run_out(run, gates)


@router.get("/playbooks", response_model=PlaybookList, summary="List playbook templates",
            responses=problem_responses(401, 403, 429))  # fmt: skip
async def list_playbooks(_: Staff, svc: Svc) -> PlaybookList:
    """Every playbook template."""
    return PlaybookList(items=[
        PlaybookSummary(id=p.id, version=p.version, name=p.name, description=p.description,
                        level=p.level, steps=len(p.steps), tags=list(p.tags))
        for p in svc.runner.playbooks
    ])  # fmt: skip


@router.get("/playbooks/analytics", response_model=AnalyticsOut, summary="Run analytics",
            responses=problem_responses(401, 403, 429))  # fmt: skip
async def analytics(_: Staff, svc: Svc) -> AnalyticsOut:
    """Runs per playbook by status, success rate and durations."""
    return AnalyticsOut(items=await svc.runner.store.analytics())


@router.post("/playbooks/suggest", response_model=SuggestOut, summary="Suggest playbooks",
             responses=problem_responses(401, 403, 422, 429))  # fmt: skip
async def suggest(body: SuggestIn, _: Staff, svc: Svc) -> SuggestOut:
    """Playbooks ranked for a context: similarity x past success, with reasons."""
    suggester = await svc.suggester()
    history = await svc.runner.store.success_rates()
    ranked = await asyncio.to_thread(
        suggester.rank, body.context, recent=body.recent, history=history, k=body.k
    )
    return SuggestOut.model_validate({"items": [s.as_dict() for s in ranked]})


@router.get("/playbooks/{playbook_id}", summary="Show a playbook", responses=_R)
async def show(playbook_id: PlaybookId, _: Staff, svc: Svc) -> dict[str, Any]:
    """The full definition: parameters, steps, compensations, checkpoints."""
    pb = await _problems(lambda: _get(svc, playbook_id))
    out: dict[str, Any] = pb.model_dump(mode="json")
    return out


async def _get(svc: PlaybookService, playbook_id: str) -> Any:
    return svc.runner.playbooks.get(playbook_id)


@router.post("/playbooks/{playbook_id}/validate", response_model=ValidationOut,
             summary="Validate a playbook", responses=_R)  # fmt: skip
async def validate_playbook(
    playbook_id: PlaybookId, body: ValidateRequest, principal: Staff, svc: Svc
) -> ValidationOut:
    """Validate at a level; ``paranoid`` (a dry run on a scratch database) is for admins."""
    pb = await _problems(lambda: _get(svc, playbook_id))
    if body.level == "paranoid":
        if principal.role.rank < Role.ADMIN.rank:
            raise ProblemError(403, "forbidden", "Forbidden", "paranoid validation needs admin")
        from graphs.playbooks.dryrun import dry_run

        report = await dry_run(pb, svc.runner.db.url, svc.runner.engine.catalog)
    else:
        report = validate(pb, body.level, catalog=svc.runner.engine.catalog)
    return ValidationOut.model_validate(report.as_dict())


@router.post("/playbooks/{playbook_id}/runs", response_model=RunOut, status_code=201,
             summary="Run a playbook", responses=_R)  # fmt: skip
async def start_run(
    playbook_id: PlaybookId, body: StartRun, principal: Staff, svc: Svc, response: Response
) -> RunOut:
    """Start a run; see ``wait`` in the body."""
    pb = await _problems(lambda: _get(svc, playbook_id))
    params = {**(pb.sample_params if body.use_sample else {}), **body.params}
    instances = {k.upper(): str(v) for k, v in body.instances.items()}

    async def go() -> RunRecord:
        return await svc.runner.start(pb.id, params, requested_by=principal.name,
                                      instances=instances)  # fmt: skip

    if body.wait:
        return await _with_gates(svc, await _problems(go))
    run = await _problems(lambda: svc.start_background(pb.id, params, principal.name, instances))
    response.status_code = 202
    return _run_out(run)


@router.get("/playbook-runs", response_model=RunList, summary="Run history",
            responses=problem_responses(401, 403, 422, 429))  # fmt: skip
async def history(
    _: Staff, svc: Svc,
    playbook: Annotated[
        str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9-]*$", description="A playbook id.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> RunList:  # fmt: skip
    """Runs, newest first (without steps)."""
    runs = await svc.runner.store.history(playbook, limit)
    return RunList(items=[_run_out(r) for r in runs])


@router.get("/playbook-runs/{run_id}", response_model=RunOut, summary="Run status", responses=_R)
async def status(run_id: RunId, _: Staff, svc: Svc) -> RunOut:
    """A run with every step (package, transition) and the gates it waits on."""
    return await _with_gates(svc, await _problems(lambda: svc.runner.store.get(run_id)))


@router.post("/playbook-runs/{run_id}/approvals", response_model=RunOut,
             summary="Answer an approval gate", responses=_R)  # fmt: skip
async def approve(run_id: RunId, body: ApprovalIn, principal: Staff, svc: Svc) -> RunOut:
    """Approve or refuse; the transition behind the gate is fired as ``human:<caller>``."""
    run = await _problems(lambda: svc.runner.approve(
        run_id, body.step, by=principal.name, approved=body.approved, note=body.note))  # fmt: skip
    return await _with_gates(svc, run)


@router.post("/playbook-runs/{run_id}/cancel", response_model=RunOut, summary="Cancel a run",
             responses=_R)  # fmt: skip
async def cancel(run_id: RunId, _: Staff, svc: Svc) -> RunOut:
    """Cancel at once when waiting for a person, else before the next steps start."""
    return _run_out(await _problems(lambda: svc.runner.cancel(run_id)))


@router.post("/playbook-runs/{run_id}/rollback", response_model=RollbackOut,
             summary="Roll a run back", responses=_R)  # fmt: skip
async def rollback_run(run_id: RunId, body: RollbackIn, principal: Staff, svc: Svc) -> RollbackOut:
    """Undo completed steps by compensating transitions (see the strategies)."""
    report = await _problems(
        lambda: rollback(
            svc.runner, run_id, body.strategy, checkpoint=body.checkpoint, by=principal.name
        )
    )
    return RollbackOut.model_validate(report.as_dict())


@router.get("/playbook-runs/{run_id}/events", summary="Run progress (SSE)", responses=_R)
async def events(run_id: RunId, request: Request, _: Staff, svc: Svc) -> EventSourceResponse:
    """Server-sent events: completed steps so far, then live ones, until the run stops."""
    run = await _problems(lambda: svc.runner.store.get(run_id))
    queue = svc.subscribe(str(run_id))

    async def stream() -> AsyncIterator[ServerSentEvent]:
        try:
            seen: set[str] = set()
            for s in run.steps:
                if s.status == "completed":
                    seen.add(s.step_id)
                    data = {"type": "playbook.step.completed", "step": s.step_id,
                            "persona": s.persona, **(s.output or {}),
                            "transition": s.transition}  # fmt: skip
                    yield ServerSentEvent(json.dumps(data, default=str), event=data["type"])
            current = await svc.runner.store.get(run_id, steps=False)
            while current.status not in FINISHED and current.status != "waiting_approval":
                try:
                    e = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    current = await svc.runner.store.get(run_id, steps=False)
                    continue
                if e.get("type") == "playbook.step.completed" and e.get("step") in seen:
                    continue
                yield ServerSentEvent(json.dumps(e, default=str), event=e["type"])
                if e["type"] in ("playbook.completed", "playbook.failed", "playbook.step.waiting"):
                    break
            final = await svc.runner.store.get(run_id, steps=False)
            yield ServerSentEvent(json.dumps({"status": final.status}), event="done")
        finally:
            svc.unsubscribe(str(run_id), queue)

    return EventSourceResponse(stream(), ping=15)


@router.get("/playbook-webhooks", response_model=list[WebhookOut], summary="List endpoints",
            responses=problem_responses(401, 403, 429))  # fmt: skip
async def list_webhooks(_: Admin, svc: Svc) -> list[WebhookOut]:
    """Registered outbound endpoints (secrets are never shown again)."""
    return [WebhookOut.model_validate(w) for w in await svc.endpoints.active()]


@router.post(
    "/playbook-webhooks", response_model=WebhookOut, status_code=201,
    summary="Register an endpoint", responses=problem_responses(401, 403, 422, 429),
)  # fmt: skip
async def add_webhook(body: WebhookIn, _: Admin, svc: Svc) -> WebhookOut:
    """Register ``url`` for event types; the answer carries the signing secret, once."""
    try:
        row = await svc.endpoints.add(body.url, list(body.events))
    except ValueError as exc:
        raise ProblemError(422, "validation-error", "Invalid request", str(exc)) from exc
    return WebhookOut.model_validate(row)


@router.delete("/playbook-webhooks/{endpoint_id}", status_code=204, summary="Remove an endpoint",
               responses=problem_responses(401, 403, 404, 429))  # fmt: skip
async def remove_webhook(endpoint_id: UUID, _: Admin, svc: Svc) -> Response:
    """Stop delivering to an endpoint."""
    if not await svc.endpoints.remove(endpoint_id):
        raise ProblemError(404, "unknown-webhook", "Unknown webhook endpoint")
    return Response(status_code=204)
