"""The ``paranoid`` validation level: a dry run of a whole playbook on a scratch database.

A fresh database is created on the same server, migrated, and the playbook is run through the
real workflow engine with its ``sample_params``, every approval gate answered yes by
``human:dry-run``; the report lists the state each workflow ended in. The scratch database is
dropped afterwards, whatever happened.
"""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from langgraph.checkpoint.memory import InMemorySaver
from psycopg import sql

from graphs.core import migrate
from graphs.core.database import Database
from graphs.core.embedded import database_uri
from graphs.playbooks.model import Playbook, PlaybookCatalog
from graphs.playbooks.validate import Issue, Report, validate
from graphs.workflows.catalog import WorkflowCatalog


async def dry_run(pb: Playbook, server_url: str, catalog: WorkflowCatalog | None = None) -> Report:
    """Validate ``pb`` at ``paranoid`` level.

    Args:
        pb: The playbook.
        server_url: A ``postgresql://`` URI of any database on the server to use (the scratch
            database is made beside it).
        catalog: Workflow definitions (the shipped ones by default).

    Returns:
        The report; ``final_states`` maps each workflow to the state the dry run left it in.
    """
    report = validate(pb, "paranoid", catalog=catalog)
    if not report.ok:
        return report
    from graphs.playbooks.runner import PlaybookRunner
    from graphs.workflows.engine import WorkflowEngine

    name = f"pb_dry_{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(_admin, server_url, sql.SQL("CREATE DATABASE {}"), name)
    url = database_uri(server_url, name)
    try:
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database(url, min_size=1, max_size=4)
        await db.pool.open(wait=True)
        try:
            runner = PlaybookRunner(
                db, InMemorySaver(), playbooks=PlaybookCatalog([pb]),
                engine=WorkflowEngine(db, catalog),
            )  # fmt: skip
            run = await runner.start(pb.id, pb.sample_params, requested_by="dry-run")
            while run.status == "waiting_approval":
                for gate in await runner.pending(run.id):
                    run = await runner.approve(run.id, gate["step"], by="dry-run")
            if run.status != "completed":
                report.issues.append(Issue("paranoid", f"dry run ended {run.status}: {run.error}"))
            for wf_id, iid in sorted(run.instances.items()):
                report.final_states[wf_id] = (await runner.engine.get(iid)).state
        finally:
            await db.close()
    except Exception as exc:  # any failure of the dry run is a finding, not a crash
        report.issues.append(Issue("paranoid", f"dry run failed: {type(exc).__name__}: {exc}"))
    finally:
        await asyncio.to_thread(
            _admin, server_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)"), name
        )
    return report


def _admin(url: str, statement: sql.SQL, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement.format(sql.Identifier(name)))
