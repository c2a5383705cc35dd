"""Build ``dev.jsonl`` (and, once, ``test.jsonl``) of the Atlas eval set from ``src/``.

Source format (one question per line; ``#`` lines set defaults for the lines below them):

    # corpus=seeds doc=operational-workflows.md style=plain
    E | Wellness Service Booking Workflow > Transitions | question? | fact ;; fact
    M/typo | A > B ;; other-doc.md::C > D | question? | fact ;; fact
    U | question?

Type codes: ``E`` exact, ``P`` paraphrase, ``M`` multi-hop, ``U`` unanswerable; ``/style``
overrides the style. A section is ``[doc::]H2 > H3 …`` (the document title is added); ``doc``
may name the other corpus as ``seeds/…`` or ``starter/…``. A heading title may be given by its
ending (the seeds' emoji headings). Every reference must resolve to exactly one heading path.

Usage:
    python evals/datasets/atlas/build.py dev        # rebuilds dev.jsonl
    python evals/datasets/atlas/build.py test       # only when writing the test pass (frozen)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from evals.atlas_data import (
    AtlasQuestion,
    SectionRef,
    check_question,
    corpus_root,
    dataset_file,
    sections_of,
)

HERE = Path(__file__).resolve().parent
TYPES = {"E": "exact", "P": "paraphrase", "M": "multi_hop", "U": "unanswerable"}


def resolve(ref: str, corpus: str, doc: str) -> SectionRef:
    """Turn ``[doc::]A > B`` into a :class:`SectionRef` with the exact heading path."""
    if "::" in ref:
        doc, ref = (s.strip() for s in ref.split("::", 1))
        head, _, rest = doc.partition("/")
        if head in ("seeds", "starter") and rest:
            corpus, doc = head, rest
    text = (corpus_root(corpus) / doc).read_text(encoding="utf-8")  # type: ignore[arg-type]
    parts = [p.strip() for p in ref.split(" > ")] if ref.strip() else []
    hits = [
        key
        for key in sections_of(text)
        if len(key) == len(parts) + 1
        and all(t == p or t.endswith(" " + p) for t, p in zip(key[1:], parts, strict=True))
    ]
    if len(hits) != 1:
        raise ValueError(f"{corpus}/{doc}: {ref!r} matches {len(hits)} sections")
    return SectionRef(corpus=corpus, document=doc, path=hits[0])  # type: ignore[arg-type]


def parse(split: str) -> list[AtlasQuestion]:
    """Questions of the ``src/<split>-*.txt`` files, numbered in file order."""
    out: list[AtlasQuestion] = []
    for src in sorted(HERE.glob(f"src/{split}-*.txt")):
        defaults: dict[str, str] = {}
        for n, raw in enumerate(src.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                defaults = dict(kv.split("=", 1) for kv in line[1:].split())
                continue
            fields = [f.strip() for f in line.split(" | ")]
            code, _, style = fields[0].partition("/")
            qtype = TYPES[code]
            corpus, doc = defaults["corpus"], defaults.get("doc", "")
            try:
                if qtype == "unanswerable":
                    (question,) = fields[1:]
                    sections: list[SectionRef] = []
                    facts: list[str] = []
                else:
                    refs, question, fact_field = fields[1:]
                    sections = [resolve(r, corpus, doc) for r in refs.split(" ;; ")]
                    facts = [f.strip() for f in fact_field.split(" ;; ")]
                q = AtlasQuestion(
                    id=f"atlas-{split}-{len(out) + 1:03d}",
                    split=split,  # type: ignore[arg-type]
                    authoring_pass=src.stem,  # the file is the pass: dev-a, dev-b, test-a
                    corpus=corpus,  # type: ignore[arg-type]
                    document=sections[0].document if sections else None,
                    type=qtype,  # type: ignore[arg-type]
                    question=question,
                    facts=tuple(facts),
                    sections=tuple(sections),
                    style=style or defaults.get("style", "plain"),
                )
            except (ValueError, KeyError) as exc:
                raise SystemExit(f"{src.name}:{n}: {exc}") from exc
            out.append(q)
    return out


def main(split: str) -> None:
    """Build one split, refusing to write when a label is wrong."""
    questions = parse(split)
    problems = [p for q in questions for p in check_question(q)]
    if problems:
        raise SystemExit("\n".join(problems))
    lines = [json.dumps(q.model_dump(mode="json"), ensure_ascii=False) for q in questions]
    dataset_file(split).write_text("\n".join(lines) + "\n", encoding="utf-8")  # type: ignore[arg-type]
    print(f"{split}: {len(questions)} questions")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dev")
