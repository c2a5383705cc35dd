"""Faithfulness of an answer to the passages behind it, checked without a model.

Offline replies (:func:`agents.llm.offline.compose_grounded_reply`) quote sentences of the
retrieved passages, each bullet ending with ``[n]``, and list the sources as
``[n] Title / Section (source)``. Here every *claim* — any line of the reply that is not the
offline label, a lead-in, a ``Sources:`` entry or an honest "I don't know" — must

* carry a citation ``[n]`` whose source entry matches a passage retrieved in that turn (cited),
* and be backed by that passage: at least :data:`SUPPORT_MIN_OVERLAP` of the claim's content
  words occur in the cited passage's text or its headings (supported: the reply names the
  section it quotes).

Expected facts are found by case-insensitive string matching on the reply with markup removed.
With a provider configured, :mod:`evals.judge` adds an LLM verdict on top.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.llm.offline import OFFLINE_LABEL, content_terms
from knowledge.citations import LABEL_SEPARATOR, logical_source

#: Share of a claim's content words that must occur in the cited passage. A quoted sentence has
#: all of them (1.0); 0.8 leaves room for markup and table rows the composer re-punctuates
#: ("cell: cell; cell") while still failing any sentence that adds words of its own.
SUPPORT_MIN_OVERLAP = 0.8
DONT_KNOW = "I don't know"

_CITE = re.compile(r"\[(\d+)\]")
_SOURCE = re.compile(r"^\[(\d+)\]\s+(.*)$")
_LEAD_IN = re.compile(
    r"^(\w+ here\.\s*)?(This is what our knowledge base says|Also in our knowledge base|"
    r"What I did|What I could not do):?\s*$"
)
_GREETING = re.compile(r"^\w+ here\.\s+")
_CONTRIBUTION = re.compile(r"^\*\*[A-Z][\w ]*:\*\*\s*", re.MULTILINE)
#: Grace's own framing lines of merged and incident replies (not claims about the business).
_FRAMING = ("Several of us looked at this together.", "**Incident summary")
_MARKUP = re.compile(r"\*\*|__|`|_(?=\S)|(?<=\S)_")


@dataclass(frozen=True)
class Source:
    """A retrieved passage the reply may cite."""

    source: str
    section: str | None
    text: str
    heading_path: tuple[str, ...] = ()


@dataclass
class Faithfulness:
    """Verdict on one reply.

    Attributes:
        claims: Claim lines found.
        cited: Claims whose ``[n]`` resolves to a retrieved passage.
        supported: Claims backed by the cited passage's text.
        uncited: The claims without a valid citation (for the report).
        unsupported: Cited claims whose words are not in the passage.
        abstained: The reply says it does not know.
    """

    claims: int = 0
    cited: int = 0
    supported: int = 0
    uncited: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    abstained: bool = False

    @property
    def faithful(self) -> bool:
        """Every claim is cited and supported (vacuously true with no claims)."""
        return self.cited == self.claims and self.supported == self.claims


def normalise(text: str) -> str:
    """Lower-cased, markup-free, whitespace-collapsed text (for fact matching)."""
    text = (
        _MARKUP.sub("", text).replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'")
    )
    return " ".join(text.lower().split())


def facts_found(reply: str, facts: Sequence[str]) -> list[bool]:
    """For each expected fact, whether the reply contains it (case-insensitive)."""
    body = normalise(reply)
    return [normalise(f) in body for f in facts]


def check(reply: str, sources: Sequence[Source]) -> Faithfulness:
    """Check every claim of an offline reply against the passages retrieved for it.

    A merged reply (levels 2-3: ``**Atlas:** …`` per persona, each with its own numbered
    sources) is checked contribution by contribution.
    """
    verdict = Faithfulness(abstained=DONT_KNOW.lower() in reply.lower())
    for part in _CONTRIBUTION.split(reply):
        _check_part(part, sources, verdict)
    return verdict


def _check_part(reply: str, sources: Sequence[Source], verdict: Faithfulness) -> None:
    lines = [ln.strip() for ln in reply.splitlines()]
    entries: dict[int, str] = {}
    in_sources = False
    claims: list[str] = []
    for line in lines:
        if not line or line == OFFLINE_LABEL.strip():
            continue
        if line == "Sources:":
            in_sources = True
            continue
        if in_sources:
            m = _SOURCE.match(line)
            if m:
                entries[int(m.group(1))] = m.group(2)
                continue
            in_sources = False
        if _LEAD_IN.match(line) or DONT_KNOW.lower() in line.lower() or line.startswith(_FRAMING):
            continue
        if line.startswith("Would you like me to hand this over"):
            continue
        claims.append(_GREETING.sub("", line))  # "Atlas here. " is no claim
    for claim in claims:
        verdict.claims += 1
        cited = [_resolve(entries.get(int(n), ""), sources) for n in _CITE.findall(claim)]
        backing = [s for group in cited for s in group]
        if not backing:
            verdict.uncited.append(claim)
            continue
        verdict.cited += 1
        # The reply names the section it quotes: the passage's headings back those words.
        if any(
            _overlap(claim, " ".join((s.text, *s.heading_path))) >= SUPPORT_MIN_OVERLAP
            for s in backing
        ):
            verdict.supported += 1
        else:
            verdict.unsupported.append(claim)


def _resolve(entry: str, sources: Sequence[Source]) -> list[Source]:
    """Passages a ``Title › Section (logical source)`` entry refers to.

    The entry names a logical source (``collection:relative/path``, never the server path:
    :mod:`knowledge.citations`), so a passage matches when its stored source is shown as it
    (same logical form) and its section is one of the label's levels (the title's level
    included: a passage above a document's first heading has the title as its section).
    """
    if not entry:
        return []
    label = entry.rsplit(" (", 1)[0]
    levels = {level.strip() for level in label.split(LABEL_SEPARATOR.strip())}
    out = []
    for s in sources:
        shown = logical_source(s.source, "", "", ()) if s.source else ""
        if shown and not re.search(rf"[(:/]{re.escape(shown)}\)$", entry):
            continue
        if s.section and s.section.strip() not in levels:
            continue
        out.append(s)
    return out


def _overlap(claim: str, passage: str) -> float:
    words = content_terms(_CITE.sub(" ", claim))
    if not words:
        return 1.0
    return len(words & content_terms(passage)) / len(words)
