"""requirements.lock pins every dependency that pyproject.toml declares, at a version it allows.

The README's install commands and ``.ci/run`` install with ``-c requirements.lock``: a dependency
added to pyproject.toml but not to the lock would install at whatever version is newest on the
day, which is how a fresh machine once failed where CI passed. Regenerate with ``.ci/lock``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    return [Requirement(line) for line in lines]


def _locked() -> tuple[dict[str, Version], set[str]]:
    """Pinned versions by canonical name, and the names pip-compile says pyproject asked for."""
    pins: dict[str, Version] = {}
    direct: set[str] = set()
    current: str | None = None
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = Version(match.group(2))
        elif current and "grace-fields (pyproject.toml)" in line:
            direct.add(current)
    return pins, direct


def test_every_declared_dependency_is_pinned_at_an_allowed_version() -> None:
    pins, _ = _locked()
    problems = []
    for req in _declared():
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{req.name}: not in requirements.lock")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{req.name}: locked {pins[name]} is outside {req.specifier}")
    assert not problems, "run .ci/lock:\n" + "\n".join(problems)


def test_lock_names_no_direct_dependency_that_pyproject_dropped() -> None:
    _, direct = _locked()
    declared = {canonicalize_name(req.name) for req in _declared()}
    stale = sorted(direct - declared)
    assert not stale, f"requirements.lock still pins dropped dependencies {stale}: run .ci/lock"


def test_torch_is_the_cpu_wheel_on_disk() -> None:
    pins, _ = _locked()
    assert pins["torch"].public == "2.13.0", "any other torch pulls a multi-GB CUDA build"
