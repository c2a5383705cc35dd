"""Versioned prompt files, loaded by name from the ``prompts`` package.

Each ``prompts/<name>.md`` starts with ``<!-- version: N -->`` on its first line; the rest is the
prompt text, which may contain the placeholder ``{business_name}``. Files are package data and
are read with :mod:`importlib.resources`, so they work from a wheel as well as a checkout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

#: Package holding the prompt files.
PROMPTS_PACKAGE = "prompts"
_VERSION_LINE = re.compile(r"^\s*<!--\s*version:\s*(\d+)\s*-->\s*$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_PLACEHOLDER = "{business_name}"


class PromptError(Exception):
    """Base class of prompt loading errors."""


class PromptNotFoundError(PromptError, LookupError):
    """No prompt file has this name.

    Attributes:
        name: The name asked for.
        available: Names of the prompt files that exist.
    """

    def __init__(self, name: str, available: tuple[str, ...]) -> None:
        self.name, self.available = name, available
        super().__init__(
            f"no prompt named {name!r}: available prompts are {', '.join(available) or 'none'}"
        )

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0])


class PromptVersionError(PromptError, ValueError):
    """The prompt file does not start with a ``<!-- version: N -->`` line."""


@dataclass(frozen=True)
class Prompt:
    """One versioned prompt.

    Attributes:
        name: File stem, e.g. ``nyra``.
        version: The ``N`` of the file's ``<!-- version: N -->`` line.
        text: Everything after the version line, with ``{business_name}`` still in place.
    """

    name: str
    version: int
    text: str

    def render(self, *, business_name: str) -> str:
        """The prompt with ``{business_name}`` filled in.

        Only that placeholder is replaced (no ``str.format``), so other braces stay literal.
        """
        return self.text.replace(_PLACEHOLDER, business_name)


def available_prompts() -> tuple[str, ...]:
    """Names of every shipped prompt, sorted."""
    root = resources.files(PROMPTS_PACKAGE)
    return tuple(sorted(p.name[: -len(".md")] for p in root.iterdir() if p.name.endswith(".md")))


def parse_prompt(name: str, source: str) -> Prompt:
    """Build a :class:`Prompt` from a file's text.

    Raises:
        PromptVersionError: the first line is not ``<!-- version: N -->`` with N >= 1.
    """
    first, _, rest = source.partition("\n")
    match = _VERSION_LINE.match(first.lstrip("\ufeff"))
    if match is None or int(match.group(1)) < 1:
        raise PromptVersionError(
            f"prompt {name!r} must start with a '<!-- version: N -->' line (N >= 1), "
            f"found {first[:60]!r}"
        )
    return Prompt(name=name, version=int(match.group(1)), text=rest.strip() + "\n")


@lru_cache(maxsize=64)
def load_prompt(name: str) -> Prompt:
    """Load ``prompts/<name>.md`` (case-insensitive name), parsed once per process.

    Raises:
        PromptNotFoundError: no such file (or the name is not a plain file stem).
        PromptVersionError: the file has no valid version line.
    """
    stem = name.strip().lower()
    resource = resources.files(PROMPTS_PACKAGE).joinpath(f"{stem}.md")
    if not _NAME.match(stem) or not resource.is_file():
        raise PromptNotFoundError(name, available_prompts())
    return parse_prompt(stem, resource.read_text(encoding="utf-8"))
