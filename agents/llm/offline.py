"""Offline replies: grounded answers assembled without a language model.

With no provider configured, a persona still answers: the sentences of the retrieved passages
that share the most content words with the question, quoted with numbered citations, then the
workflow actions taken and the ones refused, always labelled as offline. Deterministic: the same
inputs give the same text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from knowledge.chunking.structured import render_block
from knowledge.citations import LABEL_SEPARATOR, present_citation
from knowledge.retriever import Passage
from knowledge.terms import STOPWORDS, fold

#: First line of every offline reply.
OFFLINE_LABEL = (
    "_(offline mode: no language model is configured; this answer is assembled from the "
    "knowledge base and the actions taken)_"
)


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_MARKUP = re.compile(r"\*\*|__|`|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w)")
_TABLE_RULE = re.compile(r"^:?-{2,}:?$")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
#: A sentence that is (part of) raw JSON or a code fence: braces, ``"key":`` pairs, backticks.
_JSONISH = re.compile(r'[{}]|"\w[\w ]*"\s*:|```|^\s*[\[\]],?\s*$')
_MIN_WORDS = 4
#: Sentence choice (:func:`_select`), tuned on the Atlas dev split and the starter retrieval
#: set (2026-12-04; sentences of the top 5 passages, share of expected facts in the chosen
#: ones): cosine + 0.2 x relative term overlap - 0.03 x passage rank, up to 5 sentences within
#: 0.3 of the best, reached 0.59 of the facts with 3.6 sentences; the term-overlap choice of 2
#: sentences from each of the top 3 passages reached 0.55 with 4.1, overlap alone at most 0.58.
LEXICAL_WEIGHT = 0.2
RANK_PENALTY = 0.03
SCORE_WINDOW = 0.3

#: ``similarity(sentences)``: each sentence's cosine similarity to the question.
SentenceSimilarity = Callable[[Sequence[str]], Sequence[float]]
_DONT_KNOW = (
    "I don't know the answer to that: nothing in our knowledge base matches your question "
    "closely enough, and I would rather not guess."
)
_HAND_OVER = "Would you like me to hand this over to a member of our team?"
#: Lead-in of the passages quoted after the answer.
ALSO = "Also in our knowledge base:"


@dataclass(frozen=True)
class _Unit:
    """A quotable sentence, its content terms and those of the heading it sits under."""

    text: str
    terms: frozenset[str]
    heading: frozenset[str]

    def score(self, weights: dict[str, float]) -> float:
        """Weighted overlap with the question; heading-only matches count half."""
        own = sum(w for t, w in weights.items() if t in self.terms)
        return own + 0.5 * sum(w for t, w in weights.items() if t in self.heading - self.terms)


def compose_grounded_reply(
    *,
    persona_display: str,
    message: str,
    passages: Sequence[Passage],
    actions: Sequence[str] = (),
    refusals: Sequence[str] = (),
    escalation: str | None = None,
    max_passages: int = 5,
    sentences_per_passage: int = 2,
    max_sentences: int = 5,
    source_roots: Iterable[Path] = (),
    similarity: SentenceSimilarity | None = None,
) -> str:
    """Compose a labelled, cited reply from passages and workflow outcomes, without a model.

    Args:
        persona_display: Name shown for the persona answering (``"Atlas"``).
        message: The client's question; its content words pick the sentences quoted.
        passages: Retrieved passages, best first (as :class:`knowledge.retriever.Retriever`
            returns them).
        actions: Workflow transitions applied, each already described in words (see
            :func:`describe_transition`).
        refusals: What could not be done and why (e.g. an approval only staff may give).
        escalation: Set when the thread was handed to a person: what they will look at.
        max_passages: Passages considered, from the top.
        sentences_per_passage: Sentences quoted from each passage at most.
        max_sentences: Sentences quoted in all, the best-matching ones over every passage
            considered (so an answer spanning two chunks quotes both), chosen by
            :func:`_select`.
        source_roots: Folders sources are named relative to (see
            :func:`knowledge.citations.logical_source`). The reply is stored in the thread and
            may be read by a client, so its ``Sources:`` lines always show the heading label
            and the logical source, never a server path.
        similarity: Scores candidate sentences against the question (see
            :data:`SentenceSimilarity`); without it sentences are chosen by term overlap only.

    Returns:
        Markdown text: the offline label, quoted sentences with ``[n]`` citations (the bullet
        whose sentence matches the question best first; structured blocks as readable
        statements, never raw JSON), actions,
        refusals, escalation and a ``Sources:`` list. With no passages and no actions, an
        honest "I don't know" that offers a hand-over to a person (or confirms one).
    """
    candidates = [(p, _passage_units(p)) for p in passages[:max_passages]]
    weights = _term_weights(content_terms(message), [u for _, us in candidates for u in us])
    roots = tuple(source_roots)
    chosen = _select(candidates, weights, max_sentences, sentences_per_passage, similarity)
    scored: list[tuple[float, int, str, Passage]] = []
    for rank, (passage, _) in enumerate(candidates):
        picked = sorted((i, sc, text) for r, i, sc, text in chosen if r == rank)
        if picked:
            text = " ".join(_sentence(t) for _, _, t in picked)
            scored.append((max(sc for _, sc, _ in picked), rank, text, passage))
    # The answering sentences lead: bullets by their best sentence's score, then by rank.
    scored.sort(key=lambda q: (-q[0], q[1]))
    quotes: list[tuple[str, int, str]] = []
    sources: list[tuple[tuple[str, str], str]] = []
    for _, _, text, passage in scored:
        quotes.append((text, _source_number(sources, passage, roots), _where(passage)))

    body: list[str] = []
    if quotes:
        # The answer first, in prose, naming the section it comes from; then what else matched.
        text, n, where = quotes[0]
        lead = f"{where}: {text} [{n}]" if where else f"{text} [{n}]"
        more = "\n".join(f"- {w}: {t} [{m}]" if w else f"- {t} [{m}]" for t, m, w in quotes[1:])
        body.append(lead + (f"\n\n{ALSO}\n{more}" if more else ""))
    if actions:
        body.append("What I did:\n" + "\n".join(f"- {_sentence(a)}" for a in actions))
    if refusals:
        body.append("What I could not do:\n" + "\n".join(f"- {_sentence(r)}" for r in refusals))
    if escalation is not None:
        detail = f": {_sentence(escalation)}" if escalation.strip() else "."
        body.append(f"I have passed this to a member of our team, who will follow up{detail}")
    elif not quotes and not actions:
        body.append(_HAND_OVER if refusals else f"{_DONT_KNOW} {_HAND_OVER}")
    body[0] = f"{persona_display} here. {body[0]}"
    parts = [OFFLINE_LABEL, *body]
    if sources:
        lines = [f"[{i}] {line}" for i, (_, line) in enumerate(sources, start=1)]
        parts.append("Sources:\n" + "\n".join(lines))
    return "\n\n".join(parts)


def describe_transition(
    *, workflow: str, event: str, from_state: str, to_state: str, subject: str | None = None
) -> str:
    """Describe an applied workflow transition in words, for ``actions``.

    Args:
        workflow: Workflow name or id (``"wellness booking"``, ``"WF-BOOK"``).
        event: The transition's event (``quote_accepted``).
        from_state: State before.
        to_state: State after.
        subject: What moved (``"booking B-12"``), when known.

    Returns:
        E.g. ``Recorded "quote accepted" for booking B-12 (wellness booking): quote sent →
        payment pending.``
    """
    what = f" for {subject}" if subject else ""
    return (
        f'Recorded "{_words(event)}"{what} ({workflow}): {_words(from_state)} → {_words(to_state)}.'
    )


def content_terms(text: str) -> set[str]:
    """Stemmed content words of ``text`` (stopwords and one-letter words dropped)."""
    return {fold(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def _select(
    candidates: list[tuple[Passage, list[_Unit]]],
    weights: dict[str, float],
    limit: int,
    per_passage: int,
    similarity: SentenceSimilarity | None,
) -> list[tuple[int, int, float, str]]:
    """The best sentences over all passages: ``(passage rank, unit index, score, text)``.

    A sentence's score is its cosine similarity to the question (``similarity``; without one,
    0) plus :data:`LEXICAL_WEIGHT` times its term overlap relative to the best sentence's,
    minus :data:`RANK_PENALTY` per passage rank. Sentences are taken best first, at most
    ``per_passage`` from one passage, none repeated, none more than :data:`SCORE_WINDOW` below
    the best. When nothing matches at all, the top passage's first sentence (score 0.0).
    """
    units = [(rank, i, u) for rank, (_, us) in enumerate(candidates) for i, u in enumerate(us)]
    if not units:
        return []
    lexical = [u.score(weights) for _, _, u in units]
    top_lexical = max(lexical)
    if similarity is None and top_lexical <= 0:
        return [(0, 0, 0.0, _clip(candidates[0][1][0].text))] if candidates[0][1] else []
    cosine = list(similarity([u.text for _, _, u in units])) if similarity else [0.0] * len(units)
    score = [
        c + LEXICAL_WEIGHT * (lx / top_lexical if top_lexical > 0 else 0.0) - RANK_PENALTY * r
        for (r, _, _), c, lx in zip(units, cosine, lexical, strict=True)
    ]
    order = sorted(range(len(units)), key=lambda j: (-score[j], j))
    out: list[tuple[int, int, float, str]] = []
    seen: set[str] = set()
    taken: dict[int, int] = {}
    for j in order:
        rank, i, u = units[j]
        if len(out) >= limit or score[j] < score[order[0]] - SCORE_WINDOW:
            break
        text = _clip(u.text)
        if taken.get(rank, 0) >= per_passage or text.lower() in seen:
            continue
        if similarity is None and lexical[j] <= 0:
            continue
        seen.add(text.lower())
        taken[rank] = taken.get(rank, 0) + 1
        out.append((rank, i, score[j], text))
    return out


def _passage_units(passage: Passage) -> list[_Unit]:
    """The quotable sentences of a passage; never raw JSON.

    A structured block (JSON transition list, other JSON, a Markdown table) is quoted as the
    readable statements :func:`knowledge.chunking.structured.render_block` rebuilds from it,
    the same ones that were embedded; any remaining sentence that still looks like JSON is
    dropped.
    """
    heading = _section_terms(passage)
    path = [h for h in passage.heading_path if h != passage.citation.title]
    # The reply names the section: statements name the workflow (H2 above "Transitions").
    context = (path[-2] if len(path) > 1 else "".join(path)) or passage.citation.title
    statements = None
    if not passage.text.startswith("|"):  # tables keep this module's own row rendering
        statements = render_block(passage.text, context)
        if statements is None and passage.text.lstrip().startswith("{"):
            # a chunk from the middle of a JSON array: its whole objects, without the brackets
            statements = render_block(f"[{passage.text}]", context)
    if statements:
        units = [_unit(_MARKUP.sub("", st), heading) for st in statements if _long_enough(st)]
    else:
        units = _units(passage.text, heading)
    return [u for u in units if not _JSONISH.search(u.text)]


def _term_weights(terms: set[str], units: list[_Unit]) -> dict[str, float]:
    """Inverse document frequency of each question term over the candidate sentences."""
    n = len(units)
    return {
        t: 1.0 + math.log((n + 1) / (1 + sum(t in u.terms or t in u.heading for u in units)))
        for t in terms
    }


def _units(text: str, heading: frozenset[str] = frozenset()) -> list[_Unit]:
    """Split a markdown passage into sentences, each with the terms of its nearest heading.

    Headings are not quoted; list items, paragraphs and table rows are split apart; emphasis,
    links and list markers are removed.
    """
    units: list[_Unit] = []
    block: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if block:
            units.extend(_prose(" ".join(block), heading))
            block.clear()
        if table:
            units.extend(_table(table, heading))
            table.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("|"):
            if block:
                flush()
            table.append(line)
            continue
        if table or not line or line.startswith("#") or _LIST_MARKER.match(line):
            flush()
        if line.startswith("#"):
            heading = frozenset(content_terms(line.lstrip("#")))
        elif line:
            block.append(line)
    flush()
    return units


def _prose(text: str, heading: frozenset[str]) -> list[_Unit]:
    text = _MARKUP.sub("", _LINK.sub(r"\1", _LIST_MARKER.sub("", text))).strip()
    return [_unit(s, heading) for s in _SENTENCE_END.split(text) if _long_enough(s)]


def _table(rows: list[str], heading: frozenset[str]) -> list[_Unit]:
    """One sentence per body row: ``first cell: other cells; ...`` (header row dropped)."""
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row in rows]
    rules = {i for i, row in enumerate(cells) if all(_TABLE_RULE.match(c) for c in row)}
    out: list[_Unit] = []
    for i, row in enumerate(cells):
        if i in rules or i + 1 in rules:
            continue
        row = [_MARKUP.sub("", c) for c in row if c]
        text = f"{row[0]}: {'; '.join(row[1:])}" if len(row) > 1 else "".join(row)
        if _long_enough(text):
            out.append(_unit(text, heading))
    return out


def _unit(text: str, heading: frozenset[str]) -> _Unit:
    text = text.strip()
    return _Unit(text, frozenset(content_terms(text)), heading)


def _long_enough(sentence: str) -> bool:
    return len(_WORD.findall(sentence.lower())) >= _MIN_WORDS


def _section_terms(passage: Passage) -> frozenset[str]:
    heading = passage.heading_path[-1] if passage.heading_path else passage.citation.section
    return frozenset(content_terms(heading or ""))


def _clip(sentence: str, limit: int = 320) -> str:
    if len(sentence) <= limit:
        return sentence
    return sentence[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


def _where(passage: Passage) -> str:
    """The section a passage sits in, as a reader names it.

    Its last two headings below the document title (``Wellness Service Booking Workflow ›
    Transitions``), else its section, else the document title.
    """
    c = passage.citation
    path = [h for h in passage.heading_path if h != c.title]
    if not path and c.section and c.section != c.title:
        path = [c.section]
    return LABEL_SEPARATOR.join(path[-2:]) if path else c.title


def _source_number(
    sources: list[tuple[tuple[str, str], str]], passage: Passage, roots: tuple[Path, ...]
) -> int:
    """1-based number of the passage's document section, adding its source line on first use."""
    citation = passage.citation
    # The full heading path: two workflows of one document both have "Agent Responsibilities".
    key = (citation.document_id, "\n".join(passage.heading_path) or citation.section or "")
    for i, (known, _) in enumerate(sources, start=1):
        if known == key:
            return i
    sources.append((key, _source_line(passage, roots)))
    return len(sources)


def _source_line(passage: Passage, roots: tuple[Path, ...]) -> str:
    """``<label> (<collection>:<relative/path.md>)``: what a client may see of a source."""
    c = passage.citation
    shown = present_citation(
        {**c.__dict__, "collection": passage.collection or c.collection,
         "heading_path": passage.heading_path or c.heading_path},
        "client", roots,
    )  # fmt: skip
    return f"{shown['label']} ({shown['source']})" if shown["source"] else shown["label"]


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?", ")", "…")) else text + "."


def _words(identifier: str) -> str:
    return identifier.replace("_", " ").replace("-", " ").strip()
