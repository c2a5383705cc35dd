"""``grace ingest``, ``grace search`` and ``grace knowledge``: Atlas's knowledge base."""

from __future__ import annotations

import getpass
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli.console import (
    console,
    err_console,
    handle_errors,
    print_json,
    progress_bar,
    run_async,
)
from graphs.core.database import Database
from graphs.core.settings import get_settings
from knowledge.chunking.defaults import (
    CHUNKER_NAMES,
    DEFAULT_CHUNK_OVERLAP,
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CHUNKER,
)

app = typer.Typer(
    help="The knowledge base: ingestion jobs, documents and archiving.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "operator"


@handle_errors
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files or folders (md, txt, html, pdf), or supabase://BUCKET/PREFIX (Supabase"
            " Storage; needs SUPABASE_URL and SUPABASE_KEY)."
        ),
    ],
    collection: Annotated[str, typer.Option(help="Collection the documents join.")] = "default",
    chunker: Annotated[
        str, typer.Option(help=f"Chunking strategy: {', '.join(CHUNKER_NAMES)}.")
    ] = DEFAULT_CHUNKER,
    chunk_size: Annotated[
        int, typer.Option(min=100, help="Max characters per chunk.")
    ] = DEFAULT_CHUNK_SIZE,
    chunk_overlap: Annotated[
        int, typer.Option(min=0, help="Characters of overlap.")
    ] = DEFAULT_CHUNK_OVERLAP,
    operator: Annotated[
        str | None, typer.Option(help="Who approves this ingest (default: your user name).")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="With REDIS_URL: follow the queued job to its end.")
    ] = False,
    reactivate: Annotated[
        bool,
        typer.Option(
            "--reactivate",
            help="Bring archived documents back (a new lifecycle approved by the operator);"
            " without it archived documents stay archived and are reported as refused.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ingest documents into the knowledge base (re-ingesting unchanged files writes nothing).

    With REDIS_URL set the job goes to the queue and a `grace worker` runs it (`--wait`
    follows it); without, it runs here. Exits with 1 when any file failed (the others are
    still ingested; see the job's errors).
    """
    from knowledge.ingest import IngestOptions

    if chunker not in CHUNKER_NAMES:
        raise typer.BadParameter(
            f"choose one of {', '.join(CHUNKER_NAMES)}", param_hint="--chunker"
        )
    _check_sources(paths)
    options = IngestOptions(
        collection=collection,
        chunker=chunker,
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        operator=operator or _operator(),
        reactivate=reactivate,
    )
    job = run_async(lambda: _run(paths, options, wait=wait, quiet=as_json))
    if job is None:  # queued for a worker, not followed
        return
    if as_json:
        print_json(job.to_dict())
        raise typer.Exit(1 if job.files_failed or job.status == "failed" else 0)
    console.print(
        f"Job [bold]{job.id}[/] {job.status}: {job.files_done} written, "
        f"{job.files_skipped} unchanged, {job.files_failed} failed, "
        f"{job.chunks_written} chunks (collection [bold]{job.collection}[/], "
        f"chunker {job.chunker})."
    )
    if job.error:
        err_console.print(f"[red]✗[/] {job.error}")
    if job.files_failed or job.status == "failed":
        raise typer.Exit(1)


def _check_sources(paths: list[str]) -> None:
    """Refuse, before any job is recorded, ``supabase://`` sources that cannot be read.

    Raises:
        typer.BadParameter: A malformed ``supabase://`` URI (exit 2).
        typer.Exit: 2 when Supabase is not configured (the message names the settings).
    """
    from knowledge.loaders.supabase import SupabaseNotConfiguredError
    from knowledge.sources import normalise_spec, require_supabase

    for p in paths:
        try:
            normalise_spec(p)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="PATHS") from None
    try:
        require_supabase(get_settings(), paths)
    except SupabaseNotConfiguredError as exc:
        err_console.print(f"[bold red]Cannot ingest:[/] {exc}")
        raise typer.Exit(2) from None


async def _run(paths: list[str], options: Any, *, wait: bool, quiet: bool) -> Any:
    """Record the job and run it the way the API and webhooks do (``knowledge.queue``).

    With REDIS_URL the job is queued for `grace worker` (``wait``: followed to its end);
    without it (or with Redis down) it runs here, with the same side effects as a worker's run.

    Returns:
        The finished job, or None when it was queued and not followed.
    """
    from knowledge.ingest import FileResult
    from knowledge.queue import create_ingest_job, enqueue_ingest, wait_for_job

    settings = get_settings()
    async with await Database.connect(settings) as db:
        embedder = None
        if settings.redis_url is None:  # the job runs here: load the model before recording it
            from knowledge.embedding.factory import get_default_embedder

            with err_console.status("Loading the embedding model…") if not quiet else nullcontext():
                embedder = get_default_embedder(settings)
                getattr(embedder, "warmup", lambda: None)()
        job_id = await create_ingest_job(db, paths, options)
        # no bar for a queued job (a run here only when Redis is down)
        with progress_bar("Ingesting", quiet=quiet or embedder is None) as bar:
            task = bar.add_task("", total=None)

            def progress(result: FileResult, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, description=Path(result.source).name)
                if result.outcome == "failed" and not quiet:
                    bar.console.print(f"[red]✗[/] {result.source}: {result.error}")

            enqueued = await enqueue_ingest(
                settings, job_id, db=db, embedder=embedder, progress=progress
            )
        if enqueued.record is not None:
            return enqueued.record
        if not wait:
            if quiet:
                print_json({"id": str(job_id), "status": "queued", "queue": settings.queue_name})
            else:
                console.print(
                    f"Job [bold]{job_id}[/] queued on [bold]{settings.queue_name}[/]; a "
                    f"`grace worker` runs it. Follow it with `grace knowledge jobs --job {job_id}`."
                )
            return None
        with progress_bar("Queued job", quiet=quiet) as bar:
            task = bar.add_task("waiting for a worker", total=None)

            def update(r: Any) -> None:
                done = r.files_done + r.files_skipped + r.files_failed
                bar.update(task, completed=done, total=r.files_total or None, description=r.status)

            return await wait_for_job(settings, db, job_id, on_update=update)


@handle_errors
def search(
    question: Annotated[str, typer.Argument(help="What to look up.")],
    k: Annotated[int, typer.Option(min=1, max=50, help="Passages to show.")] = 5,
    collection: Annotated[list[str] | None, typer.Option(help="Only these collections.")] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Minimum cosine similarity (default: the calibrated answerability decision)."
        ),
    ] = None,
    hybrid: Annotated[bool, typer.Option(help="Fuse dense and full-text search.")] = True,
    mmr: Annotated[bool, typer.Option(help="Diversify results (MMR).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Search the knowledge base and show passages with citations."""
    from knowledge.embedding.factory import get_default_embedder
    from knowledge.serving import build_retriever
    from knowledge.store.base import SearchFilters

    async def go() -> Any:
        settings = get_settings()
        async with await Database.connect(settings) as db:
            retriever = build_retriever(settings, db, get_default_embedder(settings))
            filters = SearchFilters(collections=tuple(collection or ()))
            return await retriever.retrieve(
                question, k=k, filters=filters, threshold=threshold, hybrid=hybrid, mmr=mmr
            )

    with err_console.status("Searching…", spinner="dots") if not as_json else nullcontext():
        passages = run_async(go)
    if as_json:
        print_json([p.to_dict() for p in passages])
        return
    if not passages:
        console.print("Nothing in the knowledge base answers that closely enough.")
        return
    for i, p in enumerate(passages, 1):
        c = p.citation
        console.print(
            f"[bold cyan][{i}][/] [bold]{c.label()}[/]  [dim]{c.source} · chunk {c.chunk_id} · "
            f"similarity {p.similarity:.2f}[/]"
        )
        console.print(_excerpt(p.text), highlight=False)
        console.print()


def _excerpt(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@app.command()
@handle_errors
def jobs(
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
    job: Annotated[str | None, typer.Option(help="Show one job in full.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List recent ingestion jobs (or one job with its per-file errors)."""
    from knowledge.jobs import JobRepository

    async def go() -> Any:
        async with await Database.connect() as db:
            repo = JobRepository(db)
            return [await repo.get(job)] if job else await repo.list(limit=limit)

    rows = run_async(go)
    queue = _queue_statuses([r.id for r in rows])
    if as_json:
        print_json([{**r.to_dict(), "queue": queue.get(r.id)} for r in rows])
        return
    table = Table(title=f"{len(rows)} ingestion job(s)", title_justify="left")
    for col in ("id", "status", "collection", "chunker", "files", "written", "same", "failed",
                "chunks", "started (UTC)"):  # fmt: skip
        table.add_column(col, no_wrap=col == "id")
    if get_settings().redis_url is not None:
        table.add_column("queue")
    for r in rows:
        colour = {"done": "green", "failed": "red", "running": "yellow"}.get(r.status, "white")
        extra = [queue.get(r.id, "—")] if get_settings().redis_url is not None else []
        table.add_row(
            str(r.id), f"[{colour}]{r.status}[/]", r.collection, r.chunker, str(r.files_total),
            str(r.files_done), str(r.files_skipped), str(r.files_failed), str(r.chunks_written),
            r.started_at.strftime("%Y-%m-%d %H:%M:%S") if r.started_at else "—", *extra,
        )  # fmt: skip
    console.print(table)
    for r in rows:
        for e in r.errors if job else []:
            console.print(f"[red]✗[/] {e.get('source')}: {e.get('error')}")


def _queue_statuses(ids: list[Any]) -> dict[Any, str]:
    """The queue's status per job id (queued/running/done/failed/dead); {} without Redis."""
    from redis.exceptions import RedisError

    from knowledge.queue import queue_statuses

    try:
        return dict(run_async(lambda: queue_statuses(get_settings(), ids)))
    except (RedisError, OSError) as exc:
        err_console.print(f"[yellow]Queue status unavailable (Redis):[/] {exc}")
        return {}


@app.command()
@handle_errors
def docs(
    collection: Annotated[str | None, typer.Option(help="Only this collection.")] = None,
    state: Annotated[str | None, typer.Option(help="Only this WF-KB-DEV state.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List knowledge documents with their workflow state and chunk count."""
    from graphs.workflows.engine import WorkflowEngine
    from knowledge.documents import DocumentRepository
    from knowledge.lifecycle import SERVABLE_STATES

    async def go() -> Any:
        async with await Database.connect() as db:
            return await DocumentRepository(db, WorkflowEngine(db)).list(
                collection=collection, state=state
            )

    rows = run_async(go)
    if as_json:
        print_json([r.to_dict() for r in rows])
        return
    table = Table(title=f"{len(rows)} document(s)", title_justify="left")
    for col in ("id", "title", "collection", "state", "chunks", "source"):
        table.add_column(col, no_wrap=col in ("id", "state"))
    for r in rows:
        served = "green" if r.state in SERVABLE_STATES else "yellow"
        table.add_row(str(r.id), r.title, r.collection, f"[{served}]{r.state}[/]",
                      str(r.chunks), r.source)  # fmt: skip
    console.print(table)


@app.command()
@handle_errors
def archive(
    document: Annotated[str, typer.Argument(help="Document id (see `grace knowledge docs`).")],
    reason: Annotated[
        str | None, typer.Option(help="Why it is retired (kept in the audit).")
    ] = None,
    operator: Annotated[str | None, typer.Option(help="Who decides (default: you).")] = None,
) -> None:
    """Archive a document: it is never served again (a human step in WF-KB-DEV)."""
    from graphs.workflows.engine import WorkflowEngine
    from knowledge.documents import DocumentNotFoundError, DocumentRepository

    async def go() -> Any:
        async with await Database.connect() as db:
            doc = await DocumentRepository(db, WorkflowEngine(db)).archive(
                document, operator=operator or _operator(), reason=reason
            )
            from knowledge.retrieval_cache import invalidate_collection

            await invalidate_collection(get_settings(), db, doc.collection)
            return doc

    try:
        doc = run_async(go)
    except DocumentNotFoundError as exc:
        err_console.print(f"[bold red]Not found:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"Archived [bold]{doc.title}[/] ({doc.id}): state {doc.state}, no longer served.")


@app.command("workflow-articles")
def workflow_articles(
    out: Annotated[Path | None, typer.Option(help="Folder (default: the shipped corpus).")] = None,
) -> None:
    """Regenerate the knowledge articles that explain each workflow (from the workflow data)."""
    from knowledge.workflow_articles import OUT_DIR, write_articles

    paths = write_articles(out or OUT_DIR)
    console.print(f"Wrote {len(paths)} articles to {(out or OUT_DIR)}. Ingest them with:")
    console.print(f"  grace ingest {(out or OUT_DIR)} --collection handbook")
