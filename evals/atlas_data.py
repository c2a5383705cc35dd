"""The Atlas eval set (issue 14): questions over documents the team did not write.

Files: ``evals/datasets/atlas/{dev,test}.jsonl``, one :class:`AtlasQuestion` per line, built
from the hand-written sources in ``evals/datasets/atlas/src/`` by ``build.py`` there. The
schema is stable: another branch (``atlas-answers``) reads the dev split through it.

Corpora:

* ``seeds``: the four documents in ``../shared/seeds/`` beside the repository root (outside
  the repo; CI has them there). :func:`corpus_root` raises when they are missing, so every
  check and suite that needs them fails instead of skipping.
* ``starter``: the shipped corpus ``knowledge/corpus/``.

A *section* is a heading path, document title first (``("Operational Workflows…",
"Wellness Service Booking Workflow", "Transitions")``), exactly as
:meth:`knowledge.types.SourceDocument.heading_path` gives it; its *text* is the heading's
own text, from its heading line to the next heading of any level (sub-sections excluded).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from knowledge.loaders.markdown import parse_headings

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASET_DIR = REPO_ROOT / "evals" / "datasets" / "atlas"
SEEDS_DIR = REPO_ROOT.parent / "shared" / "seeds"
STARTER_DIR = REPO_ROOT / "knowledge" / "corpus"
SEED_DOCUMENTS: tuple[str, ...] = (
    "agency-handoff-workflows.md",
    "haivemind-workflow-automation.md",
    "higherself-training-guide.md",
    "operational-workflows.md",
)

Corpus = Literal["seeds", "starter"]
QuestionType = Literal["exact", "paraphrase", "multi_hop", "unanswerable"]
Split = Literal["dev", "test"]
QUESTION_TYPES: tuple[QuestionType, ...] = ("exact", "paraphrase", "multi_hop", "unanswerable")
NonEmpty = Annotated[str, Field(min_length=1)]


class SeedsMissingError(FileNotFoundError):
    """``../shared/seeds`` (or one of its documents) is not beside the repository root."""


class SectionRef(BaseModel):
    """One expected section.

    Attributes:
        corpus: ``seeds`` or ``starter``.
        document: Path relative to the corpus root (``operational-workflows.md``,
            ``handbook/refunds.md``).
        path: Heading path, document title first, as the markdown loader parses it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    corpus: Corpus
    document: NonEmpty
    path: tuple[NonEmpty, ...] = Field(min_length=1)


class AtlasQuestion(BaseModel):
    """One question of the Atlas eval set.

    Attributes:
        id: Stable id, ``atlas-dev-NNN`` or ``atlas-test-NNN`` (never renumbered).
        split: ``dev`` (tune on it) or ``test`` (frozen; report once).
        authoring_pass: The writing pass (``dev-a``, ``test-a``); splits never share a pass.
        corpus: The corpus the question is about (for unanswerable ones: the one it sounds
            like it is about).
        document: Main document, relative to its corpus root (``None`` for unanswerable).
        type: ``exact`` (the document's own wording), ``paraphrase`` (other words),
            ``multi_hop`` (facts from two or more sections) or ``unanswerable`` (the documents
            do not say; many sound plausible).
        question: As a person would type it.
        facts: Short strings, each occurring literally (case and whitespace normalised) in the
            text of at least one expected section; all must be retrieved / in the answer.
            Empty exactly when unanswerable.
        sections: Expected sections (two or more for multi_hop; none for unanswerable).
        style: How it was written (``plain``, ``client``, ``typo``, ``indirect``, ``staff``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^atlas-(dev|test)-\d{3}$")
    split: Split
    authoring_pass: NonEmpty
    corpus: Corpus
    document: str | None = None
    type: QuestionType
    question: NonEmpty
    facts: tuple[NonEmpty, ...] = ()
    sections: tuple[SectionRef, ...] = ()
    style: NonEmpty = "plain"

    @model_validator(mode="after")
    def _labels(self) -> AtlasQuestion:
        if not self.id.startswith(f"atlas-{self.split}-"):
            raise ValueError(f"id {self.id} does not match split {self.split}")
        if self.type == "unanswerable":
            if self.facts or self.sections or self.document:
                raise ValueError("an unanswerable question has no facts, sections or document")
            return self
        if not (self.facts and self.sections and self.document):
            raise ValueError("an answerable question needs facts, sections and a document")
        if self.type == "multi_hop" and len(set(self.sections)) < 2:
            raise ValueError("a multi_hop question needs two or more distinct sections")
        return self

    @property
    def answerable(self) -> bool:
        """False for ``unanswerable`` questions."""
        return self.type != "unanswerable"


def normalise(text: str) -> str:
    """Lower-case ``text`` and collapse every whitespace run to one space (fact matching)."""
    return re.sub(r"\s+", " ", text).strip().lower()


def corpus_root(corpus: Corpus) -> Path:
    """Directory of ``corpus``.

    Raises:
        SeedsMissingError: ``seeds`` asked for and ``../shared/seeds`` or one of the four
            documents is missing (the suite and tests must fail, not skip, without them).
    """
    if corpus == "starter":
        return STARTER_DIR
    missing = [d for d in SEED_DOCUMENTS if not (SEEDS_DIR / d).is_file()]
    if missing:
        raise SeedsMissingError(
            f"seed documents missing under {SEEDS_DIR}: {', '.join(missing)} "
            "(the Atlas eval set needs ../shared/seeds beside the repository root)"
        )
    return SEEDS_DIR


def document_paths() -> dict[Corpus, list[Path]]:
    """Every document of both corpora (``.md`` files), by corpus; the seeds must exist."""
    starter = sorted(p for p in STARTER_DIR.rglob("*.md") if p.name != "README.md")
    return {
        "seeds": [corpus_root("seeds") / d for d in SEED_DOCUMENTS],
        "starter": starter,
    }


def sections_of(text: str) -> dict[tuple[str, ...], str]:
    """Own text of every heading path of markdown ``text``.

    A path that occurs twice (two ``### States`` under the same ``##`` never happens in our
    corpora, but could) maps to the texts joined with a blank line.

    Returns:
        ``{heading path: text from the heading line to the next heading}``.
    """
    headings = parse_headings(text)
    out: dict[tuple[str, ...], str] = {}
    stack: list[tuple[int, str]] = []
    for i, h in enumerate(headings):
        while stack and stack[-1][0] >= h.level:
            stack.pop()
        stack.append((h.level, h.title))
        end = headings[i + 1].start if i + 1 < len(headings) else len(text)
        key = tuple(t for _, t in stack)
        body = text[h.start : end]
        out[key] = f"{out[key]}\n\n{body}" if key in out else body
    return out


def section_texts(refs: Iterable[SectionRef]) -> list[str | None]:
    """Own text of each referenced section (``None`` where the path does not exist)."""
    cache: dict[tuple[str, str], dict[tuple[str, ...], str]] = {}
    found: list[str | None] = []
    for ref in refs:
        key = (ref.corpus, ref.document)
        if key not in cache:
            path = corpus_root(ref.corpus) / ref.document
            cache[key] = sections_of(path.read_text(encoding="utf-8")) if path.is_file() else {}
        found.append(cache[key].get(ref.path))
    return found


def check_question(q: AtlasQuestion) -> list[str]:
    """Problems with one question's labels (empty list when sound).

    Checks: every expected section exists; every fact occurs (normalised) in the text of at
    least one expected section; for ``multi_hop``, every expected section holds at least one
    fact (so the question really needs both).
    """
    texts = section_texts(q.sections)
    problems = [
        f"{q.id}: no section {' > '.join(r.path)} in {r.corpus}/{r.document}"
        for r, t in zip(q.sections, texts, strict=True)
        if t is None
    ]
    norm = [normalise(t) for t in texts if t is not None]
    for fact in q.facts:
        if not any(normalise(fact) in t for t in norm):
            problems.append(f"{q.id}: fact {fact!r} not in the text of its expected sections")
    if q.type == "multi_hop" and not problems:
        for r, t in zip(q.sections, norm, strict=True):
            if not any(normalise(f) in t for f in q.facts):
                problems.append(f"{q.id}: section {' > '.join(r.path)} holds none of the facts")
    return problems


def dataset_file(split: Split) -> Path:
    """``evals/datasets/atlas/<split>.jsonl``."""
    return DATASET_DIR / f"{split}.jsonl"


def load_split(split: Split, *, limit: int | None = None) -> list[AtlasQuestion]:
    """Read and validate one split.

    Args:
        split: ``dev`` or ``test``.
        limit: Keep only the first ``limit`` questions.

    Raises:
        ValueError: A line does not match the schema, belongs to another split, or an id repeats
            (the message names ``file:line``).
    """
    path = dataset_file(split)
    out: list[AtlasQuestion] = []
    seen: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            q = AtlasQuestion.model_validate(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: {exc}") from exc
        if q.split != split or q.id in seen:
            raise ValueError(f"{path}:{n}: wrong split or repeated id {q.id}")
        seen.add(q.id)
        out.append(q)
    return out[:limit] if limit is not None else out
