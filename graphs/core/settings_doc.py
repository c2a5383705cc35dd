"""The README's configuration table, generated from :class:`~graphs.core.settings.Settings`.

``python -m graphs.core.settings_doc`` prints one Markdown row per setting: its environment
variable(s), its default and the first sentence of its description in the ``Settings``
docstring. A unit test fails when a setting's variable is missing from the README, so the
table cannot fall behind the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import AliasChoices
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from graphs.core.settings import Settings

#: A full stop (optionally closing a parenthesis), then a capital, a digit or a literal.
_SENTENCE_END = re.compile(r"(?<!e\.g\.)(?<!i\.e\.)(?<=\.)\)?\s+(?=[A-Z`0-9])")
#: Defaults that depend on the machine, described instead of printed.
_DESCRIBED_DEFAULTS = {"data_dir": "the platform user data dir"}


@dataclass(frozen=True)
class SettingDoc:
    """One setting as the README shows it.

    Attributes:
        name: Field name on ``Settings`` (``job_max_tries``).
        variables: Environment variables that set it, preferred first (``GRACE_JOB_MAX_TRIES``).
        default: The default as shown (``3``, ``unset``).
        meaning: First sentence of the field's description in the ``Settings`` docstring.
    """

    name: str
    variables: tuple[str, ...]
    default: str
    meaning: str


def env_names(name: str, field: FieldInfo) -> tuple[str, ...]:
    """The environment variables of one field (unprefixed aliases first, as declared)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(c) for c in alias.choices)
    if isinstance(alias, str):
        return (alias,)
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return (f"{prefix}{name}".upper(),)


def _default(name: str, field: FieldInfo) -> str:
    if name in _DESCRIBED_DEFAULTS:
        return _DESCRIBED_DEFAULTS[name]
    value: Any = field.default
    if value is PydanticUndefined and field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    if value == {} or value == []:
        return "`{}`" if isinstance(value, dict) else "`[]`"
    return f"`{value}`"


def _descriptions() -> dict[str, str]:
    """Field name -> its description in the ``Attributes:`` section of ``Settings``."""
    doc = Settings.__doc__ or ""
    section = doc.split("Attributes:", 1)[-1]
    out: dict[str, str] = {}
    current: str | None = None
    for line in section.splitlines():
        match = re.match(r"^ {8}(\w+): (.*)$", line)
        if match:
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif current is not None and line.startswith(" " * 12):
            out[current] += " " + line.strip()
    return out


def _first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence, reStructuredText literals as Markdown."""
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0].rstrip(".")
    return sentence.replace("``", "`").replace("|", "\\|")


def setting_docs() -> list[SettingDoc]:
    """Every setting, in declaration order."""
    descriptions = _descriptions()
    return [
        SettingDoc(
            name=name,
            variables=env_names(name, field),
            default=_default(name, field),
            meaning=_first_sentence(descriptions.get(name, "")),
        )
        for name, field in Settings.model_fields.items()
    ]


def settings_table() -> str:
    """The Markdown table (``| variable | default | meaning |``), one row per setting."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for s in setting_docs():
        names = " / ".join(f"`{v}`" for v in s.variables)
        rows.append(f"| {names} | {s.default} | {s.meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover - a documentation helper
    print(settings_table())
