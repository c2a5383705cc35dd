"""``grace demo``: the product end to end on the embedded database, no API key needed.

It ingests the starter knowledge base, then plays a short conversation: a new client is routed
to Nyra (lead capture), who proposes to open a booking and schedule the consultation and does
so when the client says yes (personas act only when asked); Atlas answers a policy question
with citations; Solari, asked to confirm the booking, proposes it and, on the yes, the engine
refuses a step that cannot happen yet; staff ask for the quote and confirm; the client's
acceptance needs a person (level 4); a member of staff approves; the thread resumes and the
approval is applied through the workflow engine as that person. With an LLM key configured the
same conversation runs through the model instead of the offline policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.panel import Panel
from rich.rule import Rule

from api.cli.chat import render_turn
from api.cli.console import console, err_console, handle_errors, run_async

CORPUS = Path(__file__).resolve().parents[2] / "knowledge" / "corpus"

#: (speaker label, message, persona requested or None for routing)
SCRIPT: list[tuple[str, str, str | None]] = [
    (
        "Client",
        "Hello! I'm new and interested in your sound bath programme. "
        "I'd like to schedule a consultation, reference B-2041.",
        None,
    ),
    ("Client", "Yes, please go ahead.", None),
    ("Client", "What does your cancellation policy say if I cancel the day before?", None),
    ("Client", "Please confirm my booking now.", "solari"),
    ("Client", "Yes.", "solari"),
    ("Staff", "The consultation is finished, please prepare and send the quote.", "solari"),
    ("Staff", "Yes, go ahead.", "solari"),
    ("Client", "Great, I accept the quote.", "solari"),
]


async def _run() -> None:
    from graphs.core.settings import get_settings
    from graphs.runtime import Audience, GraceRuntime
    from knowledge.embedding.factory import get_default_embedder
    from knowledge.ingest import IngestOptions
    from knowledge.queue import create_ingest_job, run_ingest

    settings = get_settings()
    with err_console.status("Starting: embedded database, embedding model, router…"):
        rt = await GraceRuntime.open(settings)
    try:
        console.print(Rule("1. Knowledge base"))
        with err_console.status("Ingesting the starter handbook (first run only)…"):
            options = IngestOptions(collection="handbook", operator="demo")
            job_id = await create_ingest_job(rt.db, [CORPUS], options)
            job = await run_ingest(
                settings, rt.db, get_default_embedder(settings), job_id, bus=rt.bus
            )
        console.print(
            f"Ingested {CORPUS}: {job.files_done} written, {job.files_skipped} unchanged, "
            f"{job.chunks_written} chunks; every document went through WF-KB-DEV to 'active'."
        )
        console.print(Rule("2. A conversation"))
        thread: str | None = None
        last: Any = None
        for speaker, message, persona in SCRIPT:
            to = f" → {persona.capitalize()}" if persona else ""
            console.print(f"\n[bold]{speaker}{to}:[/] {message}")
            audience: Audience = "staff" if speaker == "Staff" else "client"  # staff-only steps
            last = await rt.ask(message, thread_id=thread, persona=persona, audience=audience)
            thread = last.thread_id
            render_turn(last)
        if last is not None and last.escalation is not None:
            console.print(Rule("3. A person decides (level 4)"))
            console.print(
                f"Staff run: grace escalations resolve {last.escalation.id} --approve "
                "--by maria --note 'confirmed by phone'"
            )
            done = await rt.resolve(
                last.escalation.id, approve=True, by="maria", note="confirmed by phone"
            )
            render_turn(done)
        console.print(Rule("Explore"))
        console.print(
            Panel.fit(
                f"grace chat --thread {thread}\n"
                "grace workflows instances --workflow WF-WELL-BOOK\n"
                "grace escalations list --status all\n"
                "grace search 'late cancellation fee'\n"
                "grace knowledge docs",
                title="Next",
            )
        )
    finally:
        await rt.close()


@handle_errors
def demo() -> None:
    """Ingest the starter knowledge base and play a short conversation with the personas."""
    run_async(_run)
