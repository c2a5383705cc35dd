"""The workflow engine against real PostgreSQL: successes, every refusal, idempotency, queries."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from graphs.core.database import Database
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import (
    HumanApprovalRequiredError,
    IdempotencyKeyReusedError,
    InvalidActorError,
    InvalidPayloadError,
    InvalidTransitionError,
    NotOwnerError,
    StaleVersionError,
    UnknownEventError,
    UnknownInstanceError,
    UnknownWorkflowError,
    WorkflowError,
)
from graphs.workflows.records import Instance

pytestmark = pytest.mark.integration


async def _snapshot(db: Database, instance_id: uuid.UUID) -> tuple[Any, ...]:
    async with db.connection() as c:
        row = await (
            await c.execute(
                "SELECT i.state, i.version, i.updated_at,"
                " (SELECT count(*) FROM workflow_audit a WHERE a.instance_id = i.id)"
                " FROM workflow_instances i WHERE i.id = %s",
                (instance_id,),
            )
        ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.fixture
def engine(db: Database) -> WorkflowEngine:
    return WorkflowEngine(db)


@pytest.fixture
async def booking(engine: WorkflowEngine) -> Instance:
    return await engine.start("WF-WELL-BOOK", "booking:B-1042", data={"client": "c-17"})


async def test_start_records_initial_state_and_audit(engine: WorkflowEngine) -> None:
    inst = await engine.start("wf-well-book", "B-7", actor="nyra", data={"service": "reiki"})
    assert (inst.workflow_id, inst.state, inst.version) == ("WF-WELL-BOOK", "inquiry", 0)
    assert str(inst.subject) == "booking:B-7"
    assert inst.data == {"service": "reiki"}
    (row,) = await engine.history(inst.id)
    assert (row.event, row.actor, row.from_state, row.to_state, row.version) == (
        "start",
        "nyra",
        None,
        "inquiry",
        0,
    )


async def test_apply_moves_state_and_appends_audit(
    engine: WorkflowEngine, booking: Instance
) -> None:
    res = await engine.apply(
        booking.id, "consultation_scheduled", "nyra", "idem-1", {"slot": "2026-12-01T10:00"}
    )
    assert (res.from_state, res.to_state, res.version, res.replayed) == (
        "inquiry",
        "consultation",
        1,
        False,
    )
    inst = await engine.get(booking.id)
    assert (inst.state, inst.version) == ("consultation", 1)
    hist = await engine.history(booking.id)
    assert [h.event for h in hist] == ["start", "consultation_scheduled"]
    last = hist[-1]
    assert (last.actor, last.payload, last.idempotency_key) == (
        "nyra",
        {"slot": "2026-12-01T10:00"},
        "idem-1",
    )
    assert last.request_id == res.request_id and last.id == res.audit_id


async def test_human_actor_with_name_is_recorded(engine: WorkflowEngine, booking: Instance) -> None:
    await engine.apply(booking.id, "consultation_scheduled", "nyra")
    await engine.apply(booking.id, "consultation_completed", "solari")
    res = await engine.apply(booking.id, "client_accepted_quote", "human:maria")
    assert res.actor == "human:maria" and res.to_state == "payment_pending"


REFUSALS: list[tuple[str, dict[str, Any], type[WorkflowError]]] = [
    ("unknown event", {"event": "teleport", "actor": "nyra"}, UnknownEventError),
    (
        "wrong from-state",
        {"event": "consultation_completed", "actor": "solari"},
        InvalidTransitionError,
    ),
    ("persona not owner", {"event": "consultation_scheduled", "actor": "solari"}, NotOwnerError),
    ("system not owner", {"event": "consultation_scheduled", "actor": "system"}, NotOwnerError),
    ("human not owner", {"event": "consultation_scheduled", "actor": "human"}, NotOwnerError),
    ("invalid actor", {"event": "consultation_scheduled", "actor": "grace"}, InvalidActorError),
    (
        "stale version",
        {"event": "consultation_scheduled", "actor": "nyra", "expected_version": 3},
        StaleVersionError,
    ),
    (
        "payload not an object",
        {"event": "consultation_scheduled", "actor": "nyra", "payload": ["x"]},
        InvalidPayloadError,
    ),
    (
        "payload not JSON",
        {"event": "consultation_scheduled", "actor": "nyra", "payload": {"x": object()}},
        InvalidPayloadError,
    ),
]


@pytest.mark.parametrize(("case", "kwargs", "error"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_refusals_write_nothing(
    db: Database,
    engine: WorkflowEngine,
    booking: Instance,
    case: str,
    kwargs: dict[str, Any],
    error: type[WorkflowError],
) -> None:
    before = await _snapshot(db, booking.id)
    with pytest.raises(error) as info:
        await engine.apply(booking.id, **kwargs)
    assert type(info.value) is error, case
    assert await _snapshot(db, booking.id) == before


async def test_persona_on_human_step_is_told_to_escalate(
    db: Database, engine: WorkflowEngine, booking: Instance
) -> None:
    await engine.apply(booking.id, "consultation_scheduled", "nyra")
    await engine.apply(booking.id, "consultation_completed", "solari")
    before = await _snapshot(db, booking.id)
    with pytest.raises(HumanApprovalRequiredError, match="needs a human approval") as info:
        await engine.apply(booking.id, "client_accepted_quote", "solari")
    assert info.value.code == "human-approval-required"
    assert isinstance(info.value, NotOwnerError)
    assert await _snapshot(db, booking.id) == before


async def test_unknown_instance_and_workflow(engine: WorkflowEngine) -> None:
    with pytest.raises(UnknownInstanceError):
        await engine.apply(uuid.uuid4(), "consultation_scheduled", "nyra")
    with pytest.raises(UnknownInstanceError):
        await engine.apply("not-a-uuid", "consultation_scheduled", "nyra")
    with pytest.raises(UnknownInstanceError):
        await engine.history(uuid.uuid4())
    with pytest.raises(UnknownWorkflowError):
        await engine.start("WF-NOPE", "x:1")
    with pytest.raises(InvalidPayloadError):
        await engine.start("WF-WELL-BOOK", "booking:")


async def test_final_state_allows_nothing(engine: WorkflowEngine, booking: Instance) -> None:
    await engine.apply(booking.id, "consultation_scheduled", "nyra")
    await engine.apply(booking.id, "consultation_completed", "solari")
    await engine.apply(booking.id, "client_declined_quote", "human")
    with pytest.raises(InvalidTransitionError, match="final state"):
        await engine.apply(booking.id, "consultation_completed", "solari")


async def test_repeated_idempotency_key_replays_and_writes_nothing(
    db: Database, engine: WorkflowEngine, booking: Instance
) -> None:
    first = await engine.apply(booking.id, "consultation_scheduled", "nyra", "key-1")
    after_first = await _snapshot(db, booking.id)
    again = await engine.apply(booking.id, "consultation_scheduled", "nyra", "key-1")
    assert again.replayed and not first.replayed
    assert (again.audit_id, again.version, again.to_state, again.request_id) == (
        first.audit_id,
        first.version,
        first.to_state,
        first.request_id,
    )
    assert await _snapshot(db, booking.id) == after_first


async def test_idempotency_key_reused_for_other_request_is_refused(
    db: Database, engine: WorkflowEngine, booking: Instance
) -> None:
    await engine.apply(booking.id, "consultation_scheduled", "nyra", "key-2")
    before = await _snapshot(db, booking.id)
    with pytest.raises(IdempotencyKeyReusedError):
        await engine.apply(booking.id, "consultation_completed", "solari", "key-2")
    other = await engine.start("WF-WELL-BOOK", "B-2")
    with pytest.raises(IdempotencyKeyReusedError):
        await engine.apply(other.id, "consultation_scheduled", "nyra", "key-2")
    assert await _snapshot(db, booking.id) == before
    assert (await engine.get(other.id)).version == 0


async def test_idempotent_start(engine: WorkflowEngine) -> None:
    a = await engine.start("WF-CONSULT", "engagement:E-1", idempotency_key="form-991")
    b = await engine.start("WF-CONSULT", "engagement:E-1", idempotency_key="form-991")
    assert a.id == b.id
    assert len(await engine.find(workflow_id="WF-CONSULT")) == 1
    with pytest.raises(IdempotencyKeyReusedError):
        await engine.start("WF-WELL-BOOK", "B-1", idempotency_key="form-991")


async def test_expected_version_matching_is_accepted(
    engine: WorkflowEngine, booking: Instance
) -> None:
    res = await engine.apply(booking.id, "consultation_scheduled", "nyra", expected_version=0)
    assert res.version == 1


async def test_apply_inside_callers_transaction_rolls_back_with_it(
    db: Database, engine: WorkflowEngine, booking: Instance
) -> None:
    before = await _snapshot(db, booking.id)
    async with db.connection() as conn:
        with pytest.raises(RuntimeError, match="boom"):
            async with conn.transaction():
                await engine.apply(booking.id, "consultation_scheduled", "nyra", conn=conn)
                raise RuntimeError("boom")
    assert await _snapshot(db, booking.id) == before
    # and a refusal inside a transaction leaves the transaction usable (savepoint)
    async with db.connection() as conn, conn.transaction():
        with pytest.raises(NotOwnerError):
            await engine.apply(booking.id, "consultation_scheduled", "ruvo", conn=conn)
        await engine.apply(booking.id, "consultation_scheduled", "nyra", conn=conn)
    assert (await engine.get(booking.id)).state == "consultation"


async def test_queries_by_workflow_state_and_subject(engine: WorkflowEngine) -> None:
    b1 = await engine.start("WF-WELL-BOOK", "booking:B-1")
    await engine.start("WF-WELL-BOOK", "booking:B-2")
    doc = await engine.start("WF-KB-DEV", "document:refunds")
    await engine.apply(b1.id, "consultation_scheduled", "nyra")

    assert {i.id for i in await engine.find(workflow_id="wf-well-book")} == {
        b1.id,
        (await engine.find(subject="booking:B-2"))[0].id,
    }
    in_consultation = await engine.find(workflow_id="WF-WELL-BOOK", state="consultation")
    assert [i.id for i in in_consultation] == [b1.id]
    assert [i.id for i in await engine.find(subject="refunds")] == [doc.id]
    assert [i.id for i in await engine.find(subject="document:refunds")] == [doc.id]
    assert await engine.find(subject="client:refunds") == []
    assert len(await engine.find(limit=2)) == 2
    assert [t.event for t in engine.available(await engine.get(b1.id), "solari")] == [
        "consultation_completed"
    ]
    assert engine.available(await engine.get(b1.id), "nyra") == []
