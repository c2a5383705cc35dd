"""``/v1/knowledge``: ingestion jobs (admin) and search with citations (staff).

``POST /v1/knowledge/ingest`` records a job and answers 202 at once: with ``REDIS_URL`` a
``grace worker`` runs it from the queue, otherwise the server runs it in the background. Poll
``GET /v1/knowledge/jobs/{job_id}``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from api.auth.deps import require_role
from api.auth.principal import Principal, Role
from api.deps import DbDep, MetricsDep, RetrieverDep, SettingsDep
from api.problems import ProblemError
from api.schemas.common import problem_responses
from api.schemas.knowledge import (
    IngestRequest,
    Job,
    JobAccepted,
    JobList,
    PassageOut,
    SearchRequest,
    SearchResponse,
    UploadedDocument,
)
from graphs.core.settings import Settings
from knowledge.citations import present_citation, roots_of
from knowledge.ingest import IngestOptions
from knowledge.jobs import JobRepository
from knowledge.loaders.directory import under_roots
from knowledge.loaders.supabase import SupabaseNotConfiguredError, is_supabase_uri
from knowledge.queue import create_ingest_job
from knowledge.sources import normalise_spec, require_supabase
from knowledge.store.base import SearchFilters

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])
Admin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
Staff = Annotated[Principal, Depends(require_role(Role.STAFF))]


def uploads_dir(settings: Settings, collection: str) -> FsPath:
    """Where uploaded documents of ``collection`` are kept (``<data_dir>/uploads/<coll>``)."""
    return settings.data_dir / "uploads" / collection


def _allowed_path(raw: str, roots: list[FsPath]) -> str:
    """``raw`` resolved, when it exists under one of ``roots``.

    Raises:
        ProblemError: 403 ``path-not-allowed`` (outside every root, symlinks followed) or 422
            ``path-not-found`` (under a root, but no such file or folder).
    """
    resolved = under_roots(raw, roots)
    if resolved is None:
        where = ", ".join(str(r) for r in roots) or "none configured (GRACE_API_INGEST_ROOTS)"
        raise ProblemError(
            403, "path-not-allowed", "Path not allowed",
            f"{raw!r} is not under an allowed ingestion root: {where}", path=raw,
        )  # fmt: skip
    if not (resolved.is_file() or resolved.is_dir()):
        raise ProblemError(
            422, "path-not-found", "Path not found",
            f"{raw!r} is under an allowed root but is not a file or folder", path=raw,
        )  # fmt: skip
    return str(resolved)


def _supabase_sources(sources: list[str], settings: Settings) -> list[str]:
    """The ``supabase://`` entries of ``sources``, canonicalised.

    Raises:
        ProblemError: 422 ``invalid-source`` (malformed URI) or 503
            ``supabase-not-configured`` (``SUPABASE_URL`` / ``SUPABASE_KEY`` unset).
    """
    remote: list[str] = []
    for raw in (s for s in sources if is_supabase_uri(s)):
        try:
            remote.append(normalise_spec(raw))
        except ValueError as exc:
            raise ProblemError(
                422, "invalid-source", "Invalid source", str(exc), source=raw
            ) from None
    try:
        require_supabase(settings, remote)
    except SupabaseNotConfiguredError as exc:
        raise ProblemError(
            503, "supabase-not-configured", "Supabase Storage not configured", str(exc)
        ) from None
    return remote


def job_roots(settings: Settings, collection: str) -> tuple[str, ...]:
    """Folders every file of an API job must resolve under when the job runs.

    The configured ``GRACE_API_INGEST_ROOTS`` and the collection's upload folder: a symlink
    inside a root that points outside them is refused file by file and reported on the job.
    """
    folders = [*settings.api_ingest_roots, uploads_dir(settings, collection)]
    return tuple(str(f.expanduser().resolve()) for f in folders)


def _save_upload(settings: Settings, collection: str, doc: UploadedDocument) -> str:
    folder = uploads_dir(settings, collection)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / doc.name
    tmp = target.with_suffix(target.suffix + ".part")
    tmp.write_text(doc.text, encoding="utf-8")
    tmp.replace(target)  # atomic: a running job never reads half a file
    return str(target)


@router.post(
    "/ingest", response_model=JobAccepted, status_code=202, summary="Start an ingestion job",
    responses=problem_responses(401, 403, 413, 422, 429, 503),
)  # fmt: skip
async def ingest(
    body: IngestRequest,
    principal: Admin,
    request: Request,
    response: Response,
    settings: SettingsDep,
    db: DbDep,
) -> JobAccepted:
    """Record a job for uploaded documents and/or allowed server-side paths; 202 at once.

    The job runs through the knowledge-base workflow with ``human:<key name>`` as the approving
    operator. Admin only. A path outside ``GRACE_API_INGEST_ROOTS`` answers 403, one that does
    not exist 422; a file found in a folder whose real path (symlinks followed) lies outside the
    roots is not read and is listed in the job's ``errors``. Archived documents stay archived
    unless ``reactivate`` is true. ``sources`` may also name ``supabase://BUCKET/PREFIX``
    (Supabase Storage): 503 ``supabase-not-configured`` without ``SUPABASE_URL`` /
    ``SUPABASE_KEY`` (nothing is recorded); a missing bucket or object is reported in the
    job's ``errors``.
    """
    remote = _supabase_sources(body.sources, settings)
    local = [s for s in body.sources if not is_supabase_uri(s)]
    paths = [_allowed_path(p, settings.api_ingest_roots) for p in [*body.paths, *local]]
    paths.extend(remote)
    for doc in body.documents:
        paths.append(await asyncio.to_thread(_save_upload, settings, body.collection, doc))
    options = IngestOptions(
        collection=body.collection, chunker=body.chunker, chunk_size=body.chunk_size,
        chunk_overlap=body.chunk_overlap, operator=principal.name,
        roots=job_roots(settings, body.collection), reactivate=body.reactivate,
    )  # fmt: skip
    job_id = await create_ingest_job(db, paths, options)
    await request.app.state.schedule_ingest(job_id)
    location = f"/v1/knowledge/jobs/{job_id}"
    response.headers["Location"] = location
    return JobAccepted(job_id=str(job_id), status="queued", location=location)


@router.get(
    "/jobs", response_model=JobList, summary="List ingestion jobs",
    responses=problem_responses(401, 403, 422, 429),
)  # fmt: skip
async def list_jobs(
    _: Staff, db: DbDep, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> JobList:
    """Most recent jobs first."""
    rows = await JobRepository(db).list(limit=limit)
    return JobList(items=[Job.model_validate(r.to_dict()) for r in rows])


@router.get(
    "/jobs/{job_id}", response_model=Job, summary="One ingestion job",
    responses=problem_responses(401, 403, 404, 422, 429),
)  # fmt: skip
async def get_job(
    job_id: Annotated[str, Path(max_length=64, description="The job id.")], _: Staff, db: DbDep
) -> Job:
    """A job with its counters and per-file errors."""
    return Job.model_validate((await JobRepository(db).get(job_id)).to_dict())


@router.post(
    "/search", response_model=SearchResponse, summary="Search the knowledge base",
    responses=problem_responses(401, 403, 422, 429, 503),
)  # fmt: skip
async def search(
    body: SearchRequest,
    _: Staff,
    retriever: RetrieverDep,
    metrics: MetricsDep,
    settings: SettingsDep,
) -> SearchResponse:
    """Passages best first with citations (document, section, chunk id, similarity).

    Only documents in the ``active`` or ``review_scheduled`` state are served; nothing comes
    back when no passage reaches the similarity threshold.
    """
    t0 = time.perf_counter()
    passages = await retriever.retrieve(
        body.query, k=body.k, filters=SearchFilters(collections=tuple(body.collections)),
        threshold=body.threshold, hybrid=body.hybrid, mmr=body.mmr,
    )  # fmt: skip
    metrics.retrieval.observe(time.perf_counter() - t0)
    roots = roots_of(settings)
    return SearchResponse(
        items=[
            PassageOut.model_validate(
                {**p.to_dict(), "citation": present_citation(p.citation, "staff", roots)}
            )
            for p in passages
        ]
    )
