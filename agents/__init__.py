"""Personas: registry, LLM providers and the router."""
