"""Typed errors of the API security layer (keys, secrets)."""

from __future__ import annotations


class SecurityError(Exception):
    """Base class of the API security errors."""


class InsecureSecretError(SecurityError):
    """``secret_key`` is unset, too short or a known default outside dev mode."""


class KeyNotFoundError(SecurityError):
    """No API key has the given id or prefix."""


class InvalidKeyNameError(SecurityError):
    """An API key name is empty or too long."""
