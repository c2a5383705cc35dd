"""Split a message into sentences and clauses that may each carry a request.

No sentence-tokenizer library is installed here (the well-kept ones, pysbd and nltk's punkt,
are not dependencies), so this is a careful regular expression: a sentence ends at ``.``,
``!``, ``?`` or a line break followed by a capital, digit or quote, except after a known
abbreviation ("Dr.", "Mr.", "e.g.", "approx.", single initials) or inside a number
("3.5 hours"). Within a sentence, a list of requests is split at ";" and at
"and also / also / plus / oh and / and then / as well as", and at ", and" or " and " when
a new request starts there ("and can you…", "and please…", "and I'd like…").
"""

from __future__ import annotations

import re

#: Lower-cased abbreviations after which a period does not end a sentence.
ABBREVIATIONS = frozenset(
    """dr mr mrs ms prof st sr jr vs etc approx appt dept no nr tel ref inc ltd co corp
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    e.g i.e a.m p.m min mins hr hrs""".split()  # noqa: SIM905
)
#: A clause shorter than this many words is merged into its neighbour ("ok", "thanks!").
MIN_CLAUSE_WORDS = 3

_END = re.compile(r"([.!?…]+)[\"')\]]*\s+|\n+")
_CONNECTIVE = re.compile(
    r"\s*;\s*"
    r"|,?\s+(?:and\s+also|oh\s+and|and\s+then|as\s+well\s+as|plus)[,:]?\s+"
    r"|,\s*also[,:]?\s+"
    r"|,?\s+and\s+(?=(?:can|could|would|will|please|i'd|i\s+would|i\s+want|i\s+need|"
    r"we'd|we\s+need|we\s+want|what|when|where|how|is|are|do|does|did)\b)",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w[\w'-]*")


def _abbreviation_before(text: str, end: int) -> bool:
    """True when the period ending at ``end`` closes an abbreviation or an initial."""
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    token = text[start:end].rstrip(".").lower()
    return token in ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def split_sentences(message: str) -> list[str]:
    """Sentences of ``message``, abbreviation-aware (``"Dr. Lee"`` stays one sentence).

    Returns:
        Non-empty, stripped sentences in order; ``[]`` for a blank message.
    """
    out: list[str] = []
    start = 0
    for m in _END.finditer(message):
        punct = m.group(1)
        if punct == "." and _abbreviation_before(message, m.start(1)):
            continue
        nxt = message[m.end() : m.end() + 1]
        if punct and nxt and nxt.islower():  # "approx. two hours", "i.e. this" mid-sentence
            continue
        piece = message[start : m.end()].strip()
        if piece:
            out.append(piece)
        start = m.end()
    tail = message[start:].strip()
    if tail:
        out.append(tail)
    return out


def _merge_short(pieces: list[str]) -> list[str]:
    merged: list[str] = []
    for piece in pieces:
        if merged and len(_WORD.findall(piece)) < MIN_CLAUSE_WORDS:
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    if len(merged) > 1 and len(_WORD.findall(merged[0])) < MIN_CLAUSE_WORDS:
        first = merged.pop(0)
        merged[0] = f"{first} {merged[0]}"
    return merged


def split_clauses(message: str) -> list[str]:
    """Clauses of ``message`` that may each be an independent request.

    Sentences first (:func:`split_sentences`), then lists of requests inside a sentence.
    Pieces of fewer than :data:`MIN_CLAUSE_WORDS` words join their neighbour.

    Returns:
        At least one clause for a non-blank message; ``[]`` for a blank one.
    """
    pieces: list[str] = []
    for sentence in split_sentences(message):
        pieces += [p.strip(" ,;") for p in _CONNECTIVE.split(sentence) if p and p.strip(" ,;")]
    return _merge_short(pieces)
