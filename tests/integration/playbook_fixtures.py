"""Shared inputs and helpers of the playbook integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from graphs.core.database import Database
from graphs.playbooks.runner import PlaybookRunner, open_checkpointer
from graphs.playbooks.store import RunRecord

AGENCY_PARAMS: dict[str, Any] = {
    "offer_id": "OFFER-7",
    "offer": {
        "product_name": "Sound Bath Series",
        "target_audience": "wellness clients 30-60",
        "value_proposition": "restorative evenings in the gallery",
        "unique_selling_points": ["live gongs", "small groups"],
        "marketing_budget": 10000,
    },
    "leads": [
        {"id": "L1", "name": "Ada", "score": 85, "engagement_level": "high", "urgency": "high"},
        {"id": "L2", "name": "Bo", "score": 30, "engagement_level": "low"},
    ],
    "deal": {
        "deal_id": "D-9",
        "company": "Tech Corp",
        "tier": "enterprise",
        "start_date": "2027-01-04",
        "total_value": 50000,
        "deliverables": [{"name": "Series design", "estimated_days": 10},
                         {"name": "Six sessions", "estimated_days": 30}],
    },
    "feedback": {"ratings": {"overall": 5, "timeliness": 3, "quality": 5}, "improve": ["booking"]},
}  # fmt: skip


@asynccontextmanager
async def runner_on(db: Database, **kw: Any) -> AsyncIterator[PlaybookRunner]:
    """A runner with a real Postgres checkpointer on the test database."""
    saver, pool = await open_checkpointer(db.url)
    try:
        yield PlaybookRunner(db, saver, **kw)
    finally:
        await pool.close()


async def approve_all(runner: PlaybookRunner, run: RunRecord, by: str = "alice") -> RunRecord:
    """Answer every gate the run reaches with a yes, until it finishes."""
    while run.status == "waiting_approval":
        for gate in await runner.pending(run.id):
            run = await runner.approve(run.id, gate["step"], by=by)
    return run
