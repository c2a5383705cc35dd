"""Load the 14 operational workflow definitions shipped under ``definitions/``."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import yaml

from graphs.workflows.errors import UnknownWorkflowError
from graphs.workflows.model import Transition, Workflow

#: libyaml's safe loader when PyYAML was built with it: the same documents ~10x faster than
#: the pure-Python SafeLoader (~0.4 s per start for these files on two cores).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


class WorkflowCatalog:
    """All workflow definitions, indexed by id.

    Args:
        workflows: The definitions; ids must be unique.

    Raises:
        ValueError: two definitions share an id.
    """

    def __init__(self, workflows: list[Workflow]) -> None:
        self._by_id: dict[str, Workflow] = {}
        for wf in workflows:
            if wf.id in self._by_id:
                raise ValueError(f"duplicate workflow id {wf.id}")
            self._by_id[wf.id] = wf

    @classmethod
    def from_directory(cls, directory: Path = DEFINITIONS_DIR) -> WorkflowCatalog:
        """Load and validate every ``*.yaml`` file in ``directory``.

        Raises:
            pydantic.ValidationError: a definition is malformed (the message names the file).
        """
        workflows = []
        for path in sorted(directory.glob("*.yaml")):
            with path.open(encoding="utf-8") as fh:
                data = yaml.load(fh, Loader=_YAML_LOADER)
            try:
                workflows.append(Workflow.model_validate(data))
            except ValueError as exc:
                raise ValueError(f"{path.name}: {exc}") from exc
        return cls(workflows)

    def get(self, workflow_id: str) -> Workflow:
        """Return the workflow ``workflow_id`` (case-insensitive).

        Raises:
            UnknownWorkflowError: no such workflow.
        """
        wf = self._by_id.get(workflow_id.upper())
        if wf is None:
            raise UnknownWorkflowError(workflow_id, sorted(self._by_id))
        return wf

    def __iter__(self) -> Iterator[Workflow]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def owned_by(self, owner: str) -> list[tuple[Workflow, Transition]]:
        """Every ``(workflow, transition)`` pair whose owner is ``owner``."""
        return [(wf, t) for wf in self for t in wf.owned_by(owner)]


@lru_cache(maxsize=1)
def default_catalog() -> WorkflowCatalog:
    """The shipped catalog, loaded once per process."""
    return WorkflowCatalog.from_directory()
