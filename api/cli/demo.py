"""``grace demo``: a guided run through the product on the embedded database.

For now it shows the workflow layer every agent acts through: owned transitions applied,
refusals (wrong owner, a human approval an agent may not take), idempotent retries and the audit
trail. The chat demo (supervisor + personas) will extend it.
"""

from __future__ import annotations

import uuid
from typing import Any

import typer
from rich.panel import Panel
from rich.table import Table

from api.cli.console import console, handle_errors, run_async
from graphs.core.database import Database, resolve_target
from graphs.core.settings import get_settings
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import WorkflowError

app = typer.Typer()

# (narration, event, actor, payload, idempotency key suffix or None)
_SCRIPT: list[tuple[str, str, str, dict[str, Any] | None, str | None]] = [
    ("Nyra (lead capture) books the first consultation.", "consultation_scheduled", "nyra",
     {"slot": "Tue 10:00", "service": "sound bath"}, None),
    ("Nyra tries to close the consultation — that step is Solari's.", "consultation_completed",
     "nyra", None, None),
    ("Solari (booking) completes the consultation and sends the quote.",
     "consultation_completed", "solari", {"quote": "Q-2041", "amount_eur": 85}, None),
    ("Solari tries to accept the quote for the client — a person must do that.",
     "client_accepted_quote", "solari", None, None),
    ("The client accepts the quote (a human step).", "client_accepted_quote", "human:client",
     {"quote": "Q-2041"}, None),
    ("The payment processor confirms payment (system).", "payment_received", "system",
     {"provider_ref": "pay_8841"}, "pay"),
    ("The same payment webhook arrives twice — the idempotency key makes it harmless.",
     "payment_received", "system", {"provider_ref": "pay_8841"}, "pay"),
    ("Solari confirms the booking.", "confirmation_sent", "solari", None, None),
]  # fmt: skip


async def _run() -> tuple[str, list[Any], Any]:
    settings = get_settings()
    target = resolve_target(settings)
    console.print(Panel.fit(f"Data: [bold]{target.display}[/]", title="Grace Fields demo"))
    run = uuid.uuid4().hex[:6]
    async with await Database.connect(settings, url=target.url) as db:
        engine = WorkflowEngine(db)
        inst = await engine.start(
            "WF-WELL-BOOK", f"booking:DEMO-{run}", actor="nyra", data={"client": "Ava"}
        )
        console.print(
            f"\nA client asks about a sound bath. Nyra opens booking [bold]{inst.subject}[/] "
            f"(WF-WELL-BOOK, state [bold]{inst.state}[/]).\n"
        )
        for text, event, actor, payload, key in _SCRIPT:
            console.print(f"[dim]→[/] {text}")
            idem = f"demo-{run}-{key}" if key else None
            try:
                res = await engine.apply(inst.id, event, actor, idem, payload)
            except WorkflowError as exc:
                console.print(f"   [bold red]refused[/] [red]({exc.code})[/]: {exc}")
                continue
            tag = " [yellow](replayed — nothing written)[/]" if res.replayed else ""
            console.print(
                f"   [green]✓[/] {res.event} by [bold]{res.actor}[/]: "
                f"{res.from_state} → [bold]{res.to_state}[/]{tag}"
            )
        history = await engine.history(inst.id)
        final = await engine.get(inst.id)
    return str(inst.id), history, final


@handle_errors
def demo() -> None:
    """Run a short, narrated booking through the workflow engine on the embedded database."""
    iid, history, final = run_async(_run)
    table = Table(title="Audit trail (every change, who made it, in order)", title_justify="left")
    for col in ("v", "event", "actor", "from", "to"):
        table.add_column(col, no_wrap=col == "event")
    for h in history:
        table.add_row(str(h.version), h.event, h.actor, h.from_state or "—", h.to_state)
    console.print()
    console.print(table)
    console.print(
        f"Booking is now [bold]{final.state}[/]. Explore further:\n"
        f"  grace workflows history {iid}\n"
        "  grace workflows show WF-WELL-BOOK\n"
        "  grace workflows diagram WF-WELL-BOOK\n"
        "  grace bench workflows"
    )
