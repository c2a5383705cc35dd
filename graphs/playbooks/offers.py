"""Grace offers a fitting playbook in chat to staff, and starts it on a yes.

The chat's playbooks collaborator (``GraphDeps.playbooks``). After a staff turn, the runtime
asks :meth:`PlaybookOffers.offer` whether the message fits a playbook: the top suggestion of
:class:`~graphs.playbooks.suggest.PlaybookSuggester` (no run history, so the similarity the
threshold was chosen on) must reach :data:`~graphs.playbooks.suggest.OFFER_THRESHOLD`. Its
parameters come from the message:

* a string parameter named ``subject`` or ``topic`` gets the message itself (first 120
  characters);
* each required string parameter, in order, gets the next instance reference the message names
  (``INC-12``, ``B-1042``, ``KB-31``: letters, a dash, digits).

When every required parameter has a value, the offer ("I can run the playbook X (reason).
Shall I start it?") is left in the thread as a pending item of kind ``playbook``; the next
turn's yes starts it (:meth:`start`) through :class:`~graphs.playbooks.runner.PlaybookRunner`,
the runner of ``grace playbooks run``, and a no clears it. Otherwise the reply names the
missing parameters and the command that runs it, and nothing is pending.

A run is created (checked and recorded) inside the turn and driven in the background, so the
reply can name the run id at once; :meth:`close` gives the drives a bounded time at shutdown
(an unfinished one continues with ``grace playbooks resume``). The run is requested by
``chat:<thread>:<turn>``; a turn that re-runs after a crash finds that run instead of
starting a second one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import structlog

from graphs.core.database import Database
from graphs.playbooks.model import Playbook, PlaybookCatalog, PlaybookError, default_playbooks
from graphs.playbooks.runner import PlaybookRunner
from graphs.playbooks.store import RunRecord
from graphs.playbooks.suggest import OFFER_THRESHOLD, Encoder, PlaybookSuggester
from graphs.workflows.model import GRACE

log = structlog.get_logger("grace.playbooks.offers")

#: A workflow-instance reference typed in a message: ``INC-12``, ``B-1042``, ``KB-31``.
REFERENCE = re.compile(r"\b[A-Za-z]{1,6}-\d{1,9}\b")
#: String parameters filled with the message itself.
TEXT_PARAMS = frozenset({"subject", "topic"})
#: Characters of the message kept for a text parameter.
TEXT_CHARS = 120
#: Acts of a message that answers rather than asks: no offer on such a turn.
ANSWER_ACTS = frozenset({"confirmation", "refusal", "closing"})


@dataclass(frozen=True)
class Offer:
    """What Grace adds to a staff reply.

    Attributes:
        text: The sentence appended to the reply.
        pending: The thread's pending item (``kind`` ``playbook``, ``persona`` ``grace``,
            ``playbook``, ``params``, ``turn``, ``summary``), or None when a required
            parameter is missing (``text`` then gives the command that runs it).
    """

    text: str
    pending: dict[str, Any] | None


def params_from_message(pb: Playbook, message: str) -> tuple[dict[str, Any], list[str]]:
    """The run parameters a message gives ``pb``, and the required ones it leaves missing.

    Returns:
        ``(params, missing)``: values for text parameters and required string parameters
        (instance references in order of appearance); names of required parameters without a
        value or default.
    """
    refs = REFERENCE.findall(message)
    params: dict[str, Any] = {}
    missing: list[str] = []
    for p in pb.parameters:
        if p.type == "string" and p.name in TEXT_PARAMS:
            params[p.name] = " ".join(message.split())[:TEXT_CHARS]
        elif p.required and p.default is None:
            if p.type == "string" and refs:
                params[p.name] = refs.pop(0)
            else:
                missing.append(p.name)
    return params, missing


class PlaybookOffers:
    """Offers playbooks in staff chat turns and starts them on a yes.

    Args:
        encoder: Unit-norm sentence embedder for the suggester (all-MiniLM-L6-v2, the model
            the threshold was chosen with), or a no-argument callable returning one (called
            on the first staff turn, so a process without staff chat never loads it).
        runner: Starts the runs; :class:`~graphs.runtime.GraceRuntime` sets one on its
            database and checkpointer when None.
        playbooks: Candidates; the built-ins by default.
        threshold: Minimum similarity of the top suggestion (cosine, in [-1, 1]).
    """

    def __init__(
        self,
        encoder: Encoder | Callable[[], Encoder],
        *,
        runner: PlaybookRunner | None = None,
        playbooks: PlaybookCatalog | None = None,
        threshold: float = OFFER_THRESHOLD,
    ) -> None:
        self._encoder = encoder
        self.runner = runner
        self.playbooks = playbooks or default_playbooks()
        self.threshold = threshold
        self._suggester: PlaybookSuggester | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def suggester(self) -> PlaybookSuggester:
        """The suggester (built once, off the event loop: it embeds every playbook)."""
        if self._suggester is None:

            def build() -> PlaybookSuggester:
                enc = self._encoder
                if not hasattr(enc, "embed_query"):
                    enc = enc()
                return PlaybookSuggester(cast(Encoder, enc), self.playbooks)

            self._suggester = await asyncio.to_thread(build)
        return self._suggester

    @staticmethod
    def wanted(audience: str, values: Mapping[str, Any]) -> bool:
        """Whether a turn with output ``values`` may get an offer.

        Only staff turns (clients never), not paused for a person, not answering an offer or
        closing, and not ones whose persona proposed workflow steps (they keep their yes). A
        persona's other closing question (a hand-over, "anything else?") gives way: the reply
        then ends on Grace's offer, which the next yes or no answers.
        """
        mine = values.get("pending") or {}
        own_action = mine.get("kind") == "action" and mine.get("turn") == values.get("turn")
        return not (
            audience != "staff"
            or values.get("__interrupt__")
            or (values.get("route") or {}).get("act") in ANSWER_ACTS
            or values.get("confirmed")
            or own_action
        )

    async def safe_offer(self, message: str, values: Mapping[str, Any]) -> Offer | None:
        """:meth:`offer` for the turn of ``values``; a failure is logged and gives None."""
        try:
            return await self.offer(message, turn=int(values.get("turn", 0)))
        except Exception as exc:  # an offer is a courtesy: the turn stands without it
            log.warning("playbook.offer_failed", error=f"{type(exc).__name__}: {exc}")
            return None

    async def offer(self, message: str, *, turn: int) -> Offer | None:
        """What Grace adds to a staff reply for ``message``, if a playbook fits.

        Args:
            message: The staff member's message.
            turn: The thread's current turn (the pending offer is live for the next one).

        Returns:
            None when no playbook reaches the threshold, else the :class:`Offer`.
        """
        suggester = await self.suggester()
        best = (await asyncio.to_thread(suggester.rank, message, k=1))[0]
        if best.similarity < self.threshold:
            return None
        pb = self.playbooks.get(best.playbook)
        params, missing = params_from_message(pb, message)
        shown = ", ".join(f"{k}={v}" for k, v in params.items() if k not in TEXT_PARAMS)
        what = f"the playbook {pb.name} ({pb.id}){' for ' + shown if shown else ''}"
        if missing:
            args = " ".join(f"--param {m}=…" for m in missing)
            needs = f"it needs {', '.join(missing)}: grace playbooks run {pb.id} {args}"
            return Offer(f"I can run {what} ({best.reasons[0]}); {needs}", None)
        text = f"I can run {what} ({best.reasons[0]}). Shall I start it?"
        pending = {"kind": "playbook", "persona": GRACE, "turn": turn, "summary": text,
                   "playbook": pb.id, "params": params}  # fmt: skip
        return Offer(text, pending)

    async def start(self, offer: Mapping[str, Any], *, thread_id: str, turn: int) -> str:
        """Start the accepted ``offer``; the reply naming the run and how to watch it.

        Args:
            offer: The pending offer :meth:`offer` made.
            thread_id: The conversation (recorded in the run's ``requested_by``).
            turn: The accepting turn (same).

        Returns:
            Grace's reply: the run id and the commands to follow and undo it, or why it could
            not start (an unknown or invalid playbook, bad parameters).
        """
        if self.runner is None:
            return "I can't start playbooks here: this process has no playbook runner."
        pid, by = str(offer.get("playbook")), f"chat:{thread_id}:{turn}"
        run = await self._existing(pid, by)
        if run is None:
            try:
                run = await self.runner.create(pid, dict(offer.get("params") or {}),
                                               requested_by=by)  # fmt: skip
            except (PlaybookError, LookupError) as exc:
                return f"I could not start the playbook {pid}: {exc}"
            self._drive(run)
        return (f"Started the playbook {pid}: run {run.id}. Watch it with "
                f"`grace playbooks status {run.id}` (or GET /v1/playbook-runs/{run.id}/events);"
                f" undo it with `grace playbooks rollback {run.id}`.")  # fmt: skip

    async def _existing(self, playbook_id: str, by: str) -> RunRecord | None:
        """The run this turn already started (the turn re-ran after a crash), if any."""
        assert self.runner is not None
        async with self.runner.db.connection() as c:
            row = await (
                await c.execute(
                    "SELECT id FROM playbook_runs WHERE playbook_id = %s AND requested_by = %s",
                    (playbook_id, by),
                )
            ).fetchone()
        return await self.runner.store.get(row[0], steps=False) if row else None

    def _drive(self, run: RunRecord) -> None:
        assert self.runner is not None
        task = asyncio.create_task(self.runner.drive_new(run), name=f"playbook-run-{run.id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("playbook.chat_run_failed", task=task.get_name(),
                        error=repr(task.exception()))  # fmt: skip

    async def drain(self) -> None:
        """Wait until every run started from chat finished or waits for a person."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def close(self, timeout_s: float = 10.0) -> int:
        """Give the background drives ``timeout_s`` seconds, then cancel the rest.

        Returns:
            How many were cancelled (their runs stay ``running``; ``grace playbooks resume``
            continues each from its checkpoint).
        """
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        left = [t for t in self._tasks if not t.done()]
        for t in left:
            t.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
        return len(left)


def bind_offers(
    offers: PlaybookOffers | bool,
    deps: Any,
    db: Database,
    checkpointer: Any,
    embedder: Any,
    *,
    knowledge: bool = True,
) -> PlaybookOffers:
    """The runtime's offers, with a runner (``GraceRuntime.open(offers=…)``).

    Args:
        offers: An instance, or True for one on the router's local encoder (loaded on the
            first staff turn; the process's own ONNX encoder when it has one).
        deps: The runtime's ``GraphDeps`` (settings, engine, model).
        db: The application database.
        checkpointer: The runtime's Postgres checkpointer (runs are threads there too).
        embedder: The process embedder (lookups; the encoder's fallback).
        knowledge: Give ``lookup`` steps the knowledge base.

    Returns:
        ``offers`` (or the new instance) with a :class:`PlaybookRunner` on ``db``,
        ``checkpointer``, the engine and the model when it had none.
    """
    from graphs.playbooks.lookup import knowledge_lookup

    if not isinstance(offers, PlaybookOffers):
        from agents.encoder import router_embedder

        models_dir = deps.settings.models_dir
        offers = PlaybookOffers(lambda: router_embedder(models_dir, embedder))
    if offers.runner is None:
        lookup = knowledge_lookup(db, embedder=embedder) if knowledge else None
        offers.runner = PlaybookRunner(db, checkpointer, engine=deps.engine, lookup=lookup,
                                       writer=deps.model)  # fmt: skip
    return offers
