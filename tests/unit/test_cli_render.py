"""``grace ask``'s turn rendering: each cited section is listed once, with its logical source."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rich.console import Console

from api.cli import chat


def _citation(chunk_id: int, section: str) -> dict[str, object]:
    return {
        "chunk_id": chunk_id,
        "document_id": "d1",
        "source": "/srv/kb/guide.md",
        "title": "Guide",
        "section": section,
        "score": 0.5,
    }


def test_sources_print_once_per_section(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Console(record=True, width=200)
    monkeypatch.setattr(chat, "console", out)
    turn = SimpleNamespace(
        persona="atlas",
        level=1,
        thread_id="t-1",
        escalation=None,
        reply="An answer.",
        reasons=[],
        actions=[],
        refusals=[],
        citations=[
            _citation(1, "Guide > Booking"),
            _citation(2, "Guide > Booking"),
            _citation(3, "Guide > Refunds"),
        ],
    )
    chat.render_turn(turn)
    text = out.export_text()
    source_lines = [line for line in text.splitlines() if line.strip().startswith("source")]
    assert len(source_lines) == 2, text
    assert "/srv/kb" not in text  # a client never sees a server path
