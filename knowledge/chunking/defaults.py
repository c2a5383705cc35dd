"""The chunker names and the shipped chunking defaults: the one place they are written.

Every entry point (``IngestOptions``, the API's ``IngestRequest``, ``grace ingest``, webhook
ingest jobs, :func:`knowledge.chunking.factory.make_chunker`), the chunker constructors, the
fallback of a job recorded without sizes (:func:`knowledge.ingest.options_of`) and the bench
corpus read them from here. Evals that compare other settings spell theirs out
(``evals/atlas_chunkers.py``).

Source of the defaults: the chunker comparison on the dev split of the Atlas eval set
(``python -m evals.atlas_chunkers``, 2026-12-03, four seed documents plus the starter corpus,
table in ``evals/README.md``): ``structured`` at 500 characters with 80 of overlap had the best
hit@5 (0.810, against 0.579 for the previous default ``sentence:600:100``), section@5 (0.863)
and paraphrase hit@5 (0.892) of the eight settings measured.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

#: A chunker's name, as ``--chunker``, the API's ``chunker`` field and job records spell it.
ChunkerName = Literal["simple", "sentence", "paragraph", "semantic", "structured"]

#: Every chunker :func:`knowledge.chunking.factory.make_chunker` builds.
CHUNKER_NAMES: Final[tuple[ChunkerName, ...]] = get_args(ChunkerName)

#: Chunker used when none is named.
DEFAULT_CHUNKER: Final[ChunkerName] = "structured"

#: Maximum chunk length in characters when none is given.
DEFAULT_CHUNK_SIZE: Final[int] = 500

#: Characters shared by neighbouring chunks (chunkers that overlap) when none is given.
DEFAULT_CHUNK_OVERLAP: Final[int] = 80
