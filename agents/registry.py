"""The persona registry: Grace, the eight personas, escalation levels and triggers.

The registry is data (``agents/personas.yaml``, shipped as package data) validated into the
pydantic models below and cross-checked against the workflow catalog on load, so a persona can
never claim a workflow it owns no transition in, nor hand work to someone who does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from graphs.workflows.catalog import WorkflowCatalog, default_catalog
from graphs.workflows.model import ADDRESSEES, PERSONAS, Transition, Workflow
from graphs.workflows.model import GRACE as GRACE  # re-exported: callers name it from here

#: libyaml's safe loader when PyYAML was built with it: the same documents ~10x faster than
#: the pure-Python SafeLoader (~0.4 s per start for these files on two cores).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Every persona id the registry must hold: the eight personas, then Grace (who owns no
#: workflow transition, see ``personas.yaml``).
ALL_NAMES: tuple[str, ...] = ADDRESSEES

_Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class RegistryError(ValueError):
    """``personas.yaml`` is malformed or disagrees with the workflow catalog."""


class UnknownPersonaError(LookupError):
    """No persona has this name.

    Attributes:
        name: The name asked for.
        valid: Every valid persona name, in registry order.
    """

    def __init__(self, name: str, valid: Sequence[str]) -> None:
        self.name = name
        self.valid = tuple(valid)
        super().__init__(f"unknown persona {name!r}: expected one of {', '.join(self.valid)}")

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0])


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EscalationLevel(_Frozen):
    """One of the four escalation levels.

    Attributes:
        level: 1 single persona, 2 coordinated personas, 3 full network, 4 human.
        name: Short name.
        meaning: When the level applies.
    """

    level: int = Field(ge=1, le=4)
    name: _Text
    meaning: _Text


class EscalationTrigger(_Frozen):
    """A situation that raises the escalation level.

    Attributes:
        id: Stable id recorded as the escalation reason, e.g. ``payment_dispute``.
        level: The level the trigger leads to.
        description: When it applies.
        examples: Sample messages (for classifiers and tests; never routing exemplars).
    """

    id: _Name
    level: int = Field(ge=1, le=4)
    description: _Text
    examples: tuple[_Text, ...] = Field(min_length=1)


class Persona(_Frozen):
    """One persona (or Grace) as declared in ``personas.yaml``.

    Attributes:
        name: Lowercase id (``nyra`` … ``atlas``, or ``grace``).
        display_name: Name shown to people.
        role: What the persona does, in a few words.
        seed_role: The role name used by the seed material.
        voice: How the persona speaks (goes into its prompt).
        scope: What the persona handles (also a routing description).
        out_of_scope: What it refuses and who handles that instead.
        workflows: Ids of the workflows in which it owns at least one transition.
        handoffs_to: Personas (or ``grace``) it may hand work to.
        keywords: Lowercase phrases typical of its requests (router feature).
        exemplars: Sample requests (router training data; never the eval set).
    """

    name: _Name
    display_name: _Text
    role: _Text
    seed_role: _Text
    voice: _Text
    scope: tuple[_Text, ...] = Field(min_length=1)
    out_of_scope: tuple[_Text, ...] = ()
    workflows: tuple[str, ...] = ()
    handoffs_to: tuple[_Name, ...] = ()
    keywords: tuple[_Text, ...] = ()
    exemplars: tuple[_Text, ...] = Field(min_length=1)

    @property
    def is_supervisor(self) -> bool:
        """True for Grace."""
        return self.name == GRACE


class _RegistryFile(_Frozen):
    version: int = Field(ge=1)
    escalation_levels: tuple[EscalationLevel, ...]
    escalation_triggers: tuple[EscalationTrigger, ...]
    personas: tuple[Persona, ...]


def _default_source() -> str:
    return resources.files("agents").joinpath("personas.yaml").read_text(encoding="utf-8")


class PersonaRegistry:
    """The validated registry, indexed by persona name.

    Build it with :meth:`load`; the constructor takes already-parsed models.

    Args:
        personas: Grace and the eight personas, any order.
        levels: Escalation levels 1-4.
        triggers: Escalation triggers.
        catalog: Workflow catalog the personas' ``workflows`` are checked against.
        version: The file's ``version``.

    Raises:
        RegistryError: a persona is missing, unknown or duplicated; a persona's ``workflows``
            differ from the workflows where it owns a transition; ``handoffs_to`` names an
            unknown persona or itself; the levels are not exactly 1-4; a trigger id repeats.
    """

    def __init__(
        self,
        personas: Sequence[Persona],
        levels: Sequence[EscalationLevel],
        triggers: Sequence[EscalationTrigger],
        *,
        catalog: WorkflowCatalog,
        version: int = 1,
    ) -> None:
        self.version = version
        self._catalog = catalog
        self._by_name: dict[str, Persona] = {}
        for p in personas:
            if p.name in self._by_name:
                raise RegistryError(f"persona {p.name!r} is declared twice")
            self._by_name[p.name] = p
        self._levels = tuple(sorted(levels, key=lambda lv: lv.level))
        self._triggers = tuple(triggers)
        self._validate()

    @classmethod
    def load(
        cls, path: str | Path | None = None, *, catalog: WorkflowCatalog | None = None
    ) -> PersonaRegistry:
        """Read and validate a registry file.

        Args:
            path: A ``personas.yaml``; None reads the shipped one, parsed once per process
                (with the default catalog too).
            catalog: Workflow catalog to check against; defaults to the shipped one.

        Raises:
            RegistryError: the file is not valid YAML, does not match the schema, or fails the
                cross-checks listed on the class.
            OSError: ``path`` cannot be read.
        """
        if path is None and catalog is None:
            return _default_registry()
        text = _default_source() if path is None else Path(path).read_text(encoding="utf-8")
        return cls.from_text(text, catalog=catalog or default_catalog())

    @classmethod
    def from_text(cls, text: str, *, catalog: WorkflowCatalog) -> PersonaRegistry:
        """Parse a registry from YAML text (see :meth:`load`)."""
        try:
            data = yaml.load(text, Loader=_YAML_LOADER)
            raw = _RegistryFile.model_validate(data)
        except (yaml.YAMLError, ValidationError) as exc:
            raise RegistryError(f"invalid persona registry: {exc}") from exc
        return cls(
            raw.personas,
            raw.escalation_levels,
            raw.escalation_triggers,
            catalog=catalog,
            version=raw.version,
        )

    def _validate(self) -> None:
        names = set(self._by_name)
        missing = [n for n in ALL_NAMES if n not in names]
        unknown = sorted(names - set(ALL_NAMES))
        if missing or unknown:
            raise RegistryError(
                f"the registry must hold exactly {', '.join(ALL_NAMES)}; "
                f"missing: {missing or 'none'}, unknown: {unknown or 'none'}"
            )
        for p in self._by_name.values():
            owned = sorted({wf.id for wf, _ in self._catalog.owned_by(p.name)})
            if sorted(set(p.workflows)) != owned or len(set(p.workflows)) != len(p.workflows):
                raise RegistryError(
                    f"{p.name}: workflows {sorted(p.workflows)} must equal the workflows where "
                    f"it owns a transition: {owned}"
                )
            bad = [h for h in p.handoffs_to if h not in names or h == p.name]
            if bad:
                raise RegistryError(f"{p.name}: handoffs_to names unknown or self: {bad}")
        if [lv.level for lv in self._levels] != [1, 2, 3, 4]:
            raise RegistryError("escalation_levels must define levels 1, 2, 3 and 4 once each")
        ids = [t.id for t in self._triggers]
        if len(set(ids)) != len(ids):
            raise RegistryError(f"duplicate escalation trigger ids in {ids}")

    @property
    def names(self) -> tuple[str, ...]:
        """The eight persona ids in :data:`graphs.workflows.model.PERSONAS` order, then grace."""
        return ALL_NAMES

    @property
    def personas(self) -> tuple[Persona, ...]:
        """The eight personas (Grace excluded), in ``graphs.workflows.model.PERSONAS`` order."""
        return tuple(self._by_name[n] for n in PERSONAS)

    @property
    def grace(self) -> Persona:
        """The supervisor."""
        return self._by_name[GRACE]

    @property
    def levels(self) -> tuple[EscalationLevel, ...]:
        """Escalation levels 1-4, in order."""
        return self._levels

    @property
    def triggers(self) -> tuple[EscalationTrigger, ...]:
        """Escalation triggers, in file order."""
        return self._triggers

    def level(self, number: int) -> EscalationLevel:
        """The escalation level ``number`` (1-4).

        Raises:
            KeyError: no such level.
        """
        for lv in self._levels:
            if lv.level == number:
                return lv
        raise KeyError(f"no escalation level {number}: expected 1-4")

    def get(self, name: str) -> Persona:
        """The persona ``name`` (case-insensitive, surrounding spaces ignored).

        Raises:
            UnknownPersonaError: no such persona; the message lists the valid names.
        """
        persona = self._by_name.get(name.strip().lower())
        if persona is None:
            raise UnknownPersonaError(name, ALL_NAMES)
        return persona

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self._by_name

    def owned_transitions(self, name: str) -> list[tuple[Workflow, Transition]]:
        """Every ``(workflow, transition)`` the persona owns, in catalog order (empty for Grace).

        Raises:
            UnknownPersonaError: no such persona.
        """
        return self._catalog.owned_by(self.get(name).name)


@lru_cache(maxsize=1)
def _default_registry() -> PersonaRegistry:
    return PersonaRegistry.from_text(_default_source(), catalog=default_catalog())
