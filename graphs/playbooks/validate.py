"""The four validation levels of a playbook, each including the ones below it.

* ``basic`` — schema, unique ids, known and acyclic dependencies (the pydantic model);
* ``standard`` — every workflow, event, state, persona and package exists; parameter defaults
  have their declared types and every template placeholder is a parameter; steps on one workflow
  instance are ordered by their dependencies and each event is possible from the state the
  previous step leaves;
* ``strict`` — the step's persona owns its transition in the workflow data *as loaded now*
  (owners are never copied into playbooks); human-owned transitions sit behind an approval gate;
  every step the workflow data can reverse declares that compensation, fired by its owner; no
  secrets in parameters;
* ``paranoid`` — strict plus a dry run of the whole playbook through the engine on a scratch
  database (:func:`graphs.playbooks.dryrun.dry_run`), reporting the final states.

Only ``paranoid`` needs a database; the other levels are pure functions of the catalog.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from graphs.playbooks.model import Playbook, Step
from graphs.playbooks.packages import PACKAGES
from graphs.workflows.catalog import WorkflowCatalog, default_catalog
from graphs.workflows.errors import UnknownWorkflowError
from graphs.workflows.model import GRACE, HUMAN, OWNERS, Workflow

Level = Literal["basic", "standard", "strict", "paranoid"]
LEVELS: tuple[Level, ...] = ("basic", "standard", "strict", "paranoid")
#: Who may receive a handoff: the eight personas and Grace (the supervisor).
RECIPIENTS = frozenset({*OWNERS, GRACE})
#: Parameter names that suggest a credential (a default for one is refused at strict).
_SECRET_NAME = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|credential|private[_-]?key)", re.I
)
#: Values that look like credentials: provider key prefixes, PEM blocks, long opaque tokens.
_SECRET_VALUE = re.compile(
    r"(sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]+KEY-----"
    r"|xox[abpr]-[A-Za-z0-9-]{10,}|[A-Za-z0-9+/_-]{40,})"
)


@dataclass(frozen=True)
class Issue:
    """One finding: the level that found it, the step (if any) and a sentence."""

    level: Level
    message: str
    step: str | None = None

    def __str__(self) -> str:
        where = f"step {self.step}: " if self.step else ""
        return f"[{self.level}] {where}{self.message}"


@dataclass
class Report:
    """The outcome of validating one playbook.

    Attributes:
        playbook: Its id (or ``?`` when the schema did not load).
        level: The level asked for.
        issues: Every finding; empty means valid.
        final_states: ``paranoid`` only: workflow id → state the dry run ended in.
    """

    playbook: str
    level: Level
    issues: list[Issue] = field(default_factory=list)
    final_states: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.issues

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "playbook": self.playbook,
            "level": self.level,
            "ok": self.ok,
            "issues": [
                {"level": i.level, "step": i.step, "message": i.message} for i in self.issues
            ],
            "final_states": self.final_states,
        }


def load_basic(data: dict[str, Any] | Playbook) -> tuple[Playbook | None, Report]:
    """Basic level on raw data: parse it, collecting schema errors as issues."""
    if isinstance(data, Playbook):
        return data, Report(data.id, "basic")
    try:
        pb = Playbook.model_validate(data)
    except ValidationError as exc:
        rep = Report(str(data.get("id", "?")) if isinstance(data, dict) else "?", "basic")
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            rep.issues.append(Issue("basic", f"{loc}: {err['msg']}" if loc else err["msg"]))
        return None, rep
    return pb, Report(pb.id, "basic")


def validate(
    data: dict[str, Any] | Playbook,
    level: Level = "standard",
    *,
    catalog: WorkflowCatalog | None = None,
) -> Report:
    """Validate up to ``level`` (``paranoid`` here runs ``strict``; see the module docstring).

    Args:
        data: A playbook, or its raw (YAML-loaded) data.
        level: How far to check.
        catalog: Workflow definitions; the shipped ones by default.

    Returns:
        The report; ``report.ok`` is False when any issue was found.
    """
    pb, rep = load_basic(data)
    rep.level = level
    if pb is None or level == "basic":
        return rep
    catalog = catalog or default_catalog()
    rep.issues.extend(standard_issues(pb, catalog))
    if level in ("strict", "paranoid") and rep.ok:
        rep.issues.extend(strict_issues(pb, catalog))
    return rep


def _workflow(catalog: WorkflowCatalog, wf_id: str) -> Workflow | None:
    try:
        return catalog.get(wf_id)
    except UnknownWorkflowError:
        return None


def _placeholders(template: str) -> set[str]:
    names = set()
    for _, name, _, _ in string.Formatter().parse(template):
        if name:
            names.add(name.split(".")[0].split("[")[0])
    return names


def standard_issues(pb: Playbook, catalog: WorkflowCatalog) -> list[Issue]:
    """Existence, types, templates and the static state walk per workflow."""
    out: list[Issue] = []
    declared = {p.name for p in pb.parameters}
    for p in pb.parameters:
        if p.default is not None and not p.accepts(p.default):
            out.append(Issue("standard", f"parameter {p.name!r}: default is not {p.type}"))
    if pb.sample_params:
        try:
            pb.resolve_params(pb.sample_params)
        except ValueError as exc:
            out.append(Issue("standard", f"sample_params: {exc}"))
    for s in pb.steps:
        # Grace may send handoffs, lookups and notifications; only owners fire transitions.
        actor_ok = s.persona in (OWNERS if s.changes_state else RECIPIENTS)
        if not actor_ok:
            out.append(Issue("standard", f"unknown persona {s.persona!r}", s.id))
        if s.kind == "handoff" and s.to not in RECIPIENTS:
            out.append(Issue("standard", f"unknown handoff recipient {s.to!r}", s.id))
        if s.package is not None and s.package not in PACKAGES:
            out.append(Issue("standard", f"unknown package {s.package!r}", s.id))
        for text in (s.subject, s.query):
            for name in _placeholders(text or ""):
                if name not in declared:
                    out.append(
                        Issue("standard", f"template names undeclared parameter {name!r}", s.id)
                    )
        if s.workflow is not None:
            wf = _workflow(catalog, s.workflow)
            if wf is None:
                out.append(Issue("standard", f"unknown workflow {s.workflow}", s.id))
            elif s.event not in wf.events:
                out.append(Issue("standard", f"{wf.id} has no event {s.event!r}", s.id))
            elif s.compensation is not None and s.compensation.event not in wf.events:
                out.append(
                    Issue("standard", f"{wf.id} has no event {s.compensation.event!r}", s.id)
                )
            if s.compensation is not None and s.compensation.persona not in OWNERS:
                out.append(Issue("standard", f"unknown persona {s.compensation.persona!r}", s.id))
    if not out:
        out.extend(_state_walk(pb, catalog))
    return out


def _state_walk(pb: Playbook, catalog: WorkflowCatalog) -> list[Issue]:
    """Each workflow's steps must form a dependency chain whose events follow the state machine."""
    out: list[Issue] = []
    order = pb.order()
    by_id = {s.id: s for s in pb.steps}
    per_wf: dict[str, list[Step]] = {}
    for sid in order:
        s = by_id[sid]
        if s.workflow is not None:
            per_wf.setdefault(s.workflow, []).append(s)
    for wf_id, steps in per_wf.items():
        wf = catalog.get(wf_id)
        state = wf.initial_state
        for prev, cur in zip([None, *steps], steps, strict=False):
            if prev is not None and prev.id not in pb.ancestors(cur.id):
                out.append(
                    Issue("standard", f"must depend on {prev.id!r}: both change {wf_id}", cur.id)
                )
            t = wf.transition(state, cur.event or "")
            if t is None:
                allowed = ", ".join(x.event for x in wf.outgoing(state)) or "none"
                out.append(
                    Issue(
                        "standard",
                        f"{wf_id}: {cur.event!r} impossible from {state!r} (allowed: {allowed})",
                        cur.id,
                    )
                )
                break
            state = t.to_state
    return out


def strict_issues(pb: Playbook, catalog: WorkflowCatalog) -> list[Issue]:
    """Ownership, approval gates, compensations and secrets (needs a clean standard pass)."""
    out: list[Issue] = []
    states: dict[str, str] = {}
    for sid in pb.order():
        s = pb.step(sid)
        if s.workflow is None or s.event is None:
            continue
        wf = catalog.get(s.workflow)
        t = wf.transition(states.get(wf.id, wf.initial_state), s.event)
        assert t is not None  # the standard walk passed
        states[wf.id] = t.to_state
        if t.owner == HUMAN and s.kind != "approval":
            out.append(Issue("strict", f"{wf.id} {t.event} is owned by human: it must be an "
                                       "approval step (a person decides)", s.id))  # fmt: skip
        elif s.kind == "approval" and t.owner != HUMAN:
            out.append(Issue("strict", f"{wf.id} {t.event} is owned by {t.owner}, not a person: "
                                       "make it a transition step", s.id))  # fmt: skip
        elif s.kind == "transition" and t.owner != s.persona:
            out.append(Issue("strict", f"{s.persona} does not own {wf.id} {t.event} "
                                       f"(owner: {t.owner})", s.id))  # fmt: skip
        reverse = [r for r in wf.outgoing(t.to_state) if r.to_state == t.from_state]
        if reverse and s.compensation is None:
            names = ", ".join(f"{r.event} ({r.owner})" for r in reverse)
            out.append(
                Issue("strict", f"reversible through {names}: declare the compensation", s.id)
            )
        if s.compensation is not None:
            match = [r for r in reverse if r.event == s.compensation.event]
            if not match:
                out.append(Issue("strict", f"compensation {s.compensation.event!r} does not lead "
                                           f"{wf.id} back from {t.to_state} to {t.from_state}",
                                 s.id))  # fmt: skip
            elif match[0].owner != s.compensation.persona:
                out.append(Issue("strict", f"{s.compensation.persona} does not own compensation "
                                           f"{s.compensation.event} (owner: {match[0].owner})",
                                 s.id))  # fmt: skip
    for p in pb.parameters:
        if p.default is None:
            continue
        if p.secret or _SECRET_NAME.search(p.name):
            out.append(Issue("strict", f"parameter {p.name!r} looks like a secret: no default"))
        elif _looks_secret(p.default):
            out.append(Issue("strict", f"parameter {p.name!r}: default looks like a credential"))
    return out


def _looks_secret(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_SECRET_VALUE.search(value))
    if isinstance(value, dict):
        return any(_looks_secret(k) or _looks_secret(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_looks_secret(v) for v in value)
    return False
