"""Knowledge schemas: ingestion jobs and search with citations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    model_validator,
)

from api.schemas.chat import CITATION_EXAMPLE, CitationOut
from api.schemas.common import ApiModel, Collection, Integer, NoNul
from knowledge.chunking.defaults import (
    DEFAULT_CHUNK_OVERLAP,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CHUNKER,
    ChunkerName,
)

#: Longest uploaded document text, in characters (the request body limit applies too).
MAX_UPLOAD_CHARS = 1_000_000

_JOB: dict[str, Any] = {
    "id": "2b7c9e1a-3f4d-4e5b-8a6c-7d8e9f0a1b2c",
    "status": "done",
    "collection": "handbook",
    "chunker": DEFAULT_CHUNKER,
    "operator": "maria",
    "paths": ["/srv/grace/uploads/handbook/opening-hours.md"],
    "params": {"chunk_size": DEFAULT_CHUNK_SIZE, "chunk_overlap": DEFAULT_CHUNK_OVERLAP},
    "files_total": 1,
    "files_done": 1,
    "files_skipped": 0,
    "files_failed": 0,
    "chunks_written": 3,
    "errors": [],
    "error": None,
    "created_at": "2026-11-23T18:00:00+00:00",
    "started_at": "2026-11-23T18:00:00+00:00",
    "finished_at": "2026-11-23T18:00:01+00:00",
}


class UploadedDocument(ApiModel):
    """A document sent in the request body.

    It is stored under the server's data directory as ``uploads/<collection>/<name>`` and
    ingested from there; uploading the same name again replaces the document (unchanged text
    writes nothing). The extension picks the loader: ``.md``, ``.txt`` or ``.html``.
    """

    name: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.(md|txt|html)$")
    ]
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_UPLOAD_CHARS), NoNul]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "opening-hours.md", "text": "# Opening hours\n\nTuesday to Sunday."}
            ]
        }
    )


class IngestRequest(ApiModel):
    """Start an ingestion job from uploaded documents and/or server-side paths.

    Server-side ``paths`` must lie under one of the roots in ``settings.api_ingest_roots``
    (none by default: only uploads are accepted). ``sources`` takes the same local paths and
    ``supabase://BUCKET/PREFIX`` URIs (Supabase Storage; needs ``SUPABASE_URL`` and
    ``SUPABASE_KEY``, else 503 ``supabase-not-configured``).
    """

    documents: Annotated[list[UploadedDocument], Field(max_length=100)] = Field(
        default_factory=list
    )
    paths: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=1024), NoNul]],
        Field(max_length=100),
    ] = Field(default_factory=list)
    sources: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=1024), NoNul]],
        Field(
            max_length=100,
            description="Local paths (as in ``paths``) or ``supabase://BUCKET/PREFIX`` URIs:"
            " every supported object under the prefix, or the one object it names.",
        ),
    ] = Field(default_factory=list)
    collection: Collection = "default"
    chunker: ChunkerName = DEFAULT_CHUNKER
    chunk_size: Integer = Field(default=DEFAULT_CHUNK_SIZE, ge=100, le=8000)
    chunk_overlap: Integer = Field(default=DEFAULT_CHUNK_OVERLAP, ge=0, le=2000)
    reactivate: StrictBool = Field(
        default=False,
        description="Bring archived documents back with a new lifecycle (a staff decision);"
        " without it an archived document stays archived and its file is reported as refused.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "documents": [
                        {"name": "opening-hours.md", "text": "# Opening hours\n\nTue-Sun 10-18."}
                    ],
                    "collection": "handbook",
                }
            ]
        }
    )

    @model_validator(mode="after")
    def _something(self) -> IngestRequest:
        if not self.documents and not self.paths and not self.sources:
            raise ValueError("give at least one of documents, paths or sources")
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class Job(BaseModel):
    """An ingestion run.

    ``queued`` → ``running`` → ``done`` (even with per-file errors) or ``failed`` (the run
    itself broke; ``error`` says why).
    """

    id: str
    status: Literal["queued", "running", "done", "failed"]
    collection: str
    chunker: str
    operator: str
    paths: list[str]
    params: dict[str, Any]
    files_total: int
    files_done: int
    files_skipped: int
    files_failed: int
    chunks_written: int
    errors: list[dict[str, str]]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    model_config = ConfigDict(json_schema_extra={"examples": [_JOB]})


class JobAccepted(BaseModel):
    """The job was queued; poll ``location`` until its status is ``done`` or ``failed``."""

    job_id: str
    status: Literal["queued", "running", "done", "failed"]
    location: str

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": _JOB["id"],
                    "status": "queued",
                    "location": f"/v1/knowledge/jobs/{_JOB['id']}",
                }
            ]
        }
    )


class JobList(BaseModel):
    """Most recent jobs first."""

    items: list[Job]

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_JOB]}]})


class SearchRequest(ApiModel):
    """A knowledge search.

    Without ``threshold`` the calibrated answerability decision (``knowledge.answerability``)
    returns nothing for a question the knowledge base does not answer; with one, passages below
    that cosine similarity are dropped instead.
    """

    query: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"\S"), NoNul]
    k: Integer = Field(default=5, ge=1, le=50)
    collections: Annotated[list[Collection], Field(max_length=20)] = Field(default_factory=list)
    threshold: StrictFloat | None = Field(default=None, ge=-1.0, le=1.0)
    hybrid: StrictBool = True
    mmr: StrictBool = False

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"query": "When is the gallery open?", "k": 3, "collections": ["handbook"]}
            ]
        }
    )


class PassageOut(BaseModel):
    """A retrieved passage with its citation."""

    text: str
    similarity: float
    fused_score: float
    collection: str
    heading_path: list[str]
    citation: CitationOut

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "text": "Tuesday to Sunday, 10:00-18:00.",
                    "similarity": 0.71,
                    "fused_score": 0.0213,
                    "collection": "handbook",
                    "heading_path": ["Opening hours"],
                    "citation": CITATION_EXAMPLE,
                }
            ]
        }
    )


class SearchResponse(BaseModel):
    """Passages best first; empty when nothing is similar enough."""

    items: list[PassageOut]

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": []}]})
