"""docker/: the Dockerfile's essentials, the compose stack, and ``docker compose config``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

DOCKER = Path(__file__).resolve().parents[2] / "docker"
DOCKERFILE = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
PYPROJECT = (DOCKER.parent / "pyproject.toml").read_text(encoding="utf-8")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))
    return data


def _compose_command() -> list[str] | None:
    """``docker compose`` (v2 plugin) or ``docker-compose``, whichever works here."""
    candidates = [["docker", "compose"]] if shutil.which("docker") else []
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for cmd in candidates:
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0:
            return cmd
    return None


def test_dockerfile_is_multi_stage_non_root_cpu_torch_and_serves() -> None:
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\w+)", DOCKERFILE, flags=re.M | re.I)
    assert stages == ["build", "runtime"]
    users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    pinned = re.search(r"torch==([\d.]+)", PYPROJECT)
    assert pinned is not None
    assert f"--index-url https://download.pytorch.org/whl/cpu torch=={pinned[1]}" in DOCKERFILE
    assert "COPY --from=build /opt/venv /opt/venv" in DOCKERFILE  # no build tools at runtime
    assert "SentenceTransformerEmbedder" in DOCKERFILE  # the bundled model loads at build time
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", DOCKERFILE, flags=re.M)
    assert re.search(r'^CMD \["grace", "serve"\]', DOCKERFILE, flags=re.M)
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert "**" in ignore  # allow-list: the .venv never enters the build context


def test_compose_has_app_worker_postgres_redis_with_health_checks() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"app", "worker", "postgres", "redis"}
    assert services["postgres"]["image"].startswith("pgvector/pgvector:pg17")
    assert services["redis"]["image"].startswith("redis:")
    assert services["worker"]["command"] == ["grace", "worker"]
    assert services["app"]["command"] == ["grace", "serve"]
    for name, service in services.items():
        assert "test" in service["healthcheck"], name
    for name in ("app", "worker"):
        env = services[name]["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["GRACE_SECRET_KEY"].startswith("${GRACE_SECRET_KEY:?")  # no default secret
        deps = services[name]["depends_on"]
        assert {d["condition"] for d in deps.values()} == {"service_healthy"}
    assert {"pgdata", "redisdata", "knowledge", "grace-data"} <= set(compose["volumes"])
    assert services["app"]["volumes"] == services["worker"]["volumes"]  # jobs carry paths
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_docker_compose_config_validates() -> None:
    cmd = _compose_command()
    if cmd is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed here")
    env = {**os.environ, "GRACE_SECRET_KEY": "test-only-" + "x" * 32}
    done = subprocess.run(
        [*cmd, "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    missing = subprocess.run(
        [*cmd, "-f", str(DOCKER / "compose.yaml"), "config", "--quiet"],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "GRACE_SECRET_KEY"},
    )  # fmt: skip
    assert missing.returncode != 0 and "GRACE_SECRET_KEY" in missing.stderr
