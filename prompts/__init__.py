"""Versioned prompt files, one per persona and one for Grace (package data)."""
