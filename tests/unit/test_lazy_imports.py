"""Start-up: what a process without Redis, or ``grace ask --json``, does not import."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
from graphs.core.redis import get_redis
from graphs.core.settings import Settings
import api.cli.chat
assert get_redis(Settings(redis_url=None)) is None
print(json.dumps({m: m in sys.modules for m in ("redis", "markdown_it", "rich.markdown")}))
"""


def test_no_redis_client_and_no_markdown_parser_unless_used() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "GRACE_REDIS_URL")}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {"redis": False, "markdown_it": False, "rich.markdown": False}
