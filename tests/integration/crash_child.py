"""Child process for the crash-resume test: runs one turn and blocks mid-turn until killed.

Usage: python -m tests.integration.crash_child THREAD_ID CASE_ID MARKER_PATH
(DATABASE_URL points at the test database).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage

from agents.testing import HashingEmbedder, ScriptedChatModel, StubRouter
from graphs.runtime import GraceRuntime


def main() -> None:
    thread_id, instance_id, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])

    def block(_: Any) -> str:
        marker.write_text("transition applied; now hanging")
        time.sleep(120)
        return "never reached"

    model = ScriptedChatModel(
        [
            AIMessage(
                "",
                tool_calls=[
                    {
                        "name": "well_book__consultation_scheduled",
                        "args": {"instance_id": instance_id},
                        "id": "c1",
                    }
                ],
            ),
            block,
        ]
    )

    async def run() -> None:
        rt = await GraceRuntime.open(
            model=model, embedder=HashingEmbedder(256), router=StubRouter(default="nyra")
        )
        await rt.ask("Please schedule my consultation, booking B-77", thread_id=thread_id)

    asyncio.run(run())


if __name__ == "__main__":
    main()
