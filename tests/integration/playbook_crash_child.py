"""Child process of the playbook crash test: runs a playbook and hangs after one transition.

Usage: python -m tests.integration.playbook_crash_child DATABASE_URL STEP_ID MARKER_PATH

After the engine applied ``STEP_ID``'s transition (before the step returns, so before its
checkpoint), the run id is written to MARKER_PATH and the process sleeps until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from graphs.core.database import Database
from graphs.playbooks.runner import PlaybookRunner, open_checkpointer


def main() -> None:
    url, hang_at, marker = sys.argv[1], sys.argv[2], Path(sys.argv[3])

    async def after_apply(run_id: str, step_id: str) -> None:
        if step_id == hang_at:
            marker.write_text(run_id)
            await asyncio.sleep(120)

    async def run() -> None:
        db = Database(url, min_size=1, max_size=4)
        await db.pool.open(wait=True)
        saver, _pool = await open_checkpointer(url)
        runner = PlaybookRunner(db, saver, after_apply=after_apply)
        pb = runner.playbooks.get("lead-to-booking")
        await runner.start(pb.id, pb.sample_params)

    asyncio.run(run())


if __name__ == "__main__":
    main()
