"""Who is calling: the authenticated principal of an API request and its role.

Roles are ordered ``client < staff < admin``: a higher role may do everything a lower one may
(issue 6): ``client`` chats and sees only its own threads, ``staff`` also resolves escalations
and fires human-owned workflow transitions, ``admin`` also ingests knowledge and manages keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The role of an API key, ordered ``client < staff < admin``."""

    CLIENT = "client"
    STAFF = "staff"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Position in the order ``client`` (0) < ``staff`` (1) < ``admin`` (2)."""
        return _RANKS[self]


_RANKS: dict[Role, int] = {Role.CLIENT: 0, Role.STAFF: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request.

    Attributes:
        key_id: Id of the API key (``"dev"`` for the keyless dev-mode principal).
        name: Human name given to the key at creation.
        role: What the key may do.
    """

    key_id: str
    name: str
    role: Role

    def at_least(self, role: Role) -> bool:
        """True when this principal's role is ``role`` or higher."""
        return self.role.rank >= role.rank
