"""Knowledge-base articles generated from the workflow definitions.

Atlas can then answer "who approves a refund?" or "what happens after the quote?" from the same
data the engine enforces. The generated Markdown is committed under
``knowledge/corpus/workflows/`` (``grace knowledge workflow-articles`` rewrites it) and a test
keeps it identical to what the data produces.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from graphs.workflows.catalog import WorkflowCatalog, default_catalog
from graphs.workflows.model import Workflow

#: Who each owner is, in words (roles as mapped in DESIGN.md).
OWNER_ROLES: dict[str, str] = {
    "nyra": "Nyra (lead capture)",
    "solari": "Solari (bookings and sales)",
    "ruvo": "Ruvo (tasks and scheduling)",
    "liora": "Liora (marketing campaigns)",
    "sage": "Sage (community and client relationships)",
    "elan": "Elan (content and design)",
    "zevi": "Zevi (audience insights)",
    "atlas": "Atlas (knowledge)",
    "system": "the Grace Fields system (automatic)",
    "human": "a person on staff, or the client (approval)",
}

OUT_DIR = Path(__file__).parent / "corpus" / "workflows"


def _words(name: str) -> str:
    return name.replace("_", " ")


def render_article(wf: Workflow) -> str:
    """Markdown article explaining one workflow: stages, steps with owners, approvals."""
    lines = [f"# {wf.name} process", "", wf.description, ""]
    lines += [
        f"This article describes the {wf.name.lower()} process ({wf.id}). Every change of stage "
        "is recorded with who made it and when.",
        "",
        "## Stages",
        "",
    ]
    for state in wf.states:
        tag = ""
        if state == wf.initial_state:
            tag = " (where it starts)"
        elif state in wf.terminal_states:
            tag = " (final)"
        lines.append(f"- {_words(state)}{tag}")
    lines += ["", "## Steps and who takes them", ""]
    for state in wf.states:
        outgoing = wf.outgoing(state)
        if not outgoing:
            continue
        lines += [f"### From {_words(state)}", ""]
        for t in outgoing:
            lines.append(
                f"- {_words(t.event).capitalize()}: moves it to {_words(t.to_state)}. "
                f"Taken by {OWNER_ROLES[t.owner]}."
            )
        lines.append("")
    approvals = [t for t in wf.transitions if t.needs_human]
    lines += ["## Decisions that need a person", ""]
    if approvals:
        lines.append(
            "The assistants never take these steps themselves; they hand the conversation to a "
            "staff member, who decides:"
        )
        lines.append("")
        lines += [
            f"- {_words(t.event)} (from {_words(t.from_state)} to {_words(t.to_state)})"
            for t in approvals
        ]
    else:
        lines.append("None: every step is taken by an assistant or by the system.")
    counts = Counter(t.owner for t in wf.transitions if t.owner not in ("human", "system"))
    lines += ["", "## Who to ask", ""]
    if counts:
        for owner, n in counts.most_common():
            lines.append(f"- {OWNER_ROLES[owner]}: {n} step{'s' if n > 1 else ''}")
    else:
        lines.append("This process runs automatically; ask Grace Fields about its status.")
    return "\n".join(lines).rstrip() + "\n"


def article_path(wf: Workflow, out_dir: Path = OUT_DIR) -> Path:
    """File name of a workflow's article, e.g. ``wf-well-book.md``."""
    return out_dir / f"{wf.id.lower()}.md"


def write_articles(out_dir: Path = OUT_DIR, catalog: WorkflowCatalog | None = None) -> list[Path]:
    """(Re)write one article per workflow into ``out_dir``; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for wf in catalog or default_catalog():
        path = article_path(wf, out_dir)
        path.write_text(render_article(wf), encoding="utf-8")
        paths.append(path)
    return paths
