from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.registry import (
    ALL_NAMES,
    GRACE,
    Persona,
    PersonaRegistry,
    RegistryError,
    UnknownPersonaError,
)
from graphs.workflows.catalog import default_catalog
from graphs.workflows.model import PERSONAS

REGISTRY_FILE = Path(__file__).resolve().parents[2] / "agents" / "personas.yaml"


@pytest.fixture(scope="module")
def registry() -> PersonaRegistry:
    return PersonaRegistry.load()


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(REGISTRY_FILE.read_text(encoding="utf-8"))
    return data


def _load(data: dict[str, Any]) -> PersonaRegistry:
    return PersonaRegistry.from_text(yaml.safe_dump(data), catalog=default_catalog())


def _persona(data: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in data["personas"] if p["name"] == name)
    return found


def test_default_load_is_cached(registry: PersonaRegistry) -> None:
    assert PersonaRegistry.load() is registry


def test_load_from_path(tmp_path: Path) -> None:
    path = tmp_path / "personas.yaml"
    path.write_text(REGISTRY_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    reg = PersonaRegistry.load(path)
    assert reg is not PersonaRegistry.load()
    assert [p.name for p in reg.personas] == list(PERSONAS)


def test_eight_personas_in_model_order(registry: PersonaRegistry) -> None:
    assert tuple(p.name for p in registry.personas) == PERSONAS
    assert all(isinstance(p, Persona) and not p.is_supervisor for p in registry.personas)
    assert registry.names == ALL_NAMES


def test_grace(registry: PersonaRegistry) -> None:
    grace = registry.grace
    assert grace.name == GRACE and grace.is_supervisor
    assert grace.display_name == "Grace Fields"
    assert grace.workflows == ()
    assert set(grace.handoffs_to) == set(PERSONAS)
    assert registry.owned_transitions("grace") == []


def test_levels_and_triggers(registry: PersonaRegistry) -> None:
    assert [lv.level for lv in registry.levels] == [1, 2, 3, 4]
    assert registry.level(4).name == "human escalation"
    with pytest.raises(KeyError):
        registry.level(5)
    ids = {t.id for t in registry.triggers}
    assert {"explicit_human_request", "payment_dispute", "high_impact_incident"} <= ids
    assert all(t.examples for t in registry.triggers)


def test_get_is_case_insensitive(registry: PersonaRegistry) -> None:
    assert registry.get("Solari") is registry.get(" solari ")
    assert registry.get("GRACE") is registry.grace
    assert "Zevi" in registry and "bob" not in registry and 3 not in registry


def test_unknown_persona_lists_valid_names(registry: PersonaRegistry) -> None:
    with pytest.raises(UnknownPersonaError) as info:
        registry.get("bob")
    assert info.value.name == "bob"
    assert info.value.valid == ALL_NAMES
    assert "nyra" in str(info.value) and "grace" in str(info.value)
    with pytest.raises(UnknownPersonaError):
        registry.owned_transitions("bob")


@pytest.mark.parametrize("name", PERSONAS)
def test_workflows_match_owned_transitions(registry: PersonaRegistry, name: str) -> None:
    owned = registry.owned_transitions(name)
    assert owned, f"{name} owns no transition"
    assert all(t.owner == name for _, t in owned)
    assert set(registry.get(name).workflows) == {wf.id for wf, _ in owned}


@pytest.mark.parametrize("name", PERSONAS)
def test_router_data_present(registry: PersonaRegistry, name: str) -> None:
    persona = registry.get(name)
    assert len(persona.exemplars) >= 10
    assert persona.keywords and persona.scope


def test_handoff_chains_follow_the_seed(registry: PersonaRegistry) -> None:
    for a, b in [("nyra", "ruvo"), ("ruvo", "solari"), ("solari", "grace"), ("zevi", "liora")]:
        assert b in registry.get(a).handoffs_to
    assert all(GRACE in p.handoffs_to for p in registry.personas)


def test_missing_persona_is_refused() -> None:
    data = _raw()
    data["personas"] = [p for p in data["personas"] if p["name"] != "zevi"]
    with pytest.raises(RegistryError, match="zevi"):
        _load(data)


def test_unknown_persona_is_refused() -> None:
    data = _raw()
    data["personas"].append({**_persona(data, "zevi"), "name": "bob"})
    with pytest.raises(RegistryError, match="bob"):
        _load(data)


def test_duplicate_persona_is_refused() -> None:
    data = _raw()
    data["personas"].append(_persona(data, "zevi"))
    with pytest.raises(RegistryError, match="twice"):
        _load(data)


def test_workflows_must_equal_catalog_ownership() -> None:
    data = _raw()
    _persona(data, "solari")["workflows"] = ["WF-INV-MGT", "WF-WELL-BOOK"]
    with pytest.raises(RegistryError, match=r"solari.*WF-CONSULT"):
        _load(data)
    data = _raw()
    _persona(data, "grace")["workflows"] = ["WF-CONSULT"]
    with pytest.raises(RegistryError, match="grace"):
        _load(data)


def test_handoffs_must_name_known_personas() -> None:
    data = _raw()
    _persona(data, "nyra")["handoffs_to"] = ["ruvo", "bob"]
    with pytest.raises(RegistryError, match="bob"):
        _load(data)
    data = _raw()
    _persona(data, "nyra")["handoffs_to"] = ["nyra"]
    with pytest.raises(RegistryError, match="self"):
        _load(data)


def test_levels_must_be_one_to_four() -> None:
    data = _raw()
    data["escalation_levels"] = data["escalation_levels"][:3]
    with pytest.raises(RegistryError, match="levels"):
        _load(data)


def test_duplicate_trigger_ids_are_refused() -> None:
    data = _raw()
    data["escalation_triggers"].append(data["escalation_triggers"][0])
    with pytest.raises(RegistryError, match="duplicate"):
        _load(data)


@pytest.mark.parametrize(
    "text",
    [
        "personas: [",  # not YAML
        "version: 1\npersonas: []",  # missing sections
        "just a string",
    ],
)
def test_malformed_file_is_refused(text: str) -> None:
    with pytest.raises(RegistryError, match="invalid persona registry"):
        PersonaRegistry.from_text(text, catalog=default_catalog())


def test_extra_fields_are_refused() -> None:
    data = _raw()
    _persona(data, "nyra")["colour"] = "blue"
    with pytest.raises(RegistryError, match="colour"):
        _load(data)


def test_models_are_frozen(registry: PersonaRegistry) -> None:
    with pytest.raises(ValueError):
        registry.get("nyra").name = "x"  # type: ignore[misc]
