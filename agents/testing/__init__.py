"""Test doubles for Grace, in one place (model: openai-agents' ``agents.testing``).

Product code never imports this package; tests, evals and benchmarks do. Everything here is
deterministic and offline:

* chat models (:mod:`agents.testing.chat`, :mod:`agents.testing.models`): the scripted model
  every other one is built on, and the instant, slow, obedient and every-tool models;
* routers and triage models (:mod:`agents.testing.routing`);
* embedders (:mod:`agents.testing.embedding`).
"""

from agents.testing.chat import ScriptedCall, ScriptedChatModel, ScriptExhausted
from agents.testing.embedding import HashingEmbedder, NoEmbedder
from agents.testing.models import (
    ECHO_PREFIX,
    EveryToolChatModel,
    InstantChatModel,
    ObedientChatModel,
    SlowChatModel,
    schema_arguments,
    this_turn,
)
from agents.testing.routing import Decision, FixedRouter, ScriptedTriageModels, StubRouter

__all__ = [
    "ECHO_PREFIX",
    "Decision",
    "EveryToolChatModel",
    "FixedRouter",
    "HashingEmbedder",
    "InstantChatModel",
    "NoEmbedder",
    "ObedientChatModel",
    "ScriptExhausted",
    "ScriptedCall",
    "ScriptedChatModel",
    "ScriptedTriageModels",
    "SlowChatModel",
    "StubRouter",
    "schema_arguments",
    "this_turn",
]
