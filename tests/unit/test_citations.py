"""Citation labels, logical sources and the audience rule (knowledge.citations)."""

from __future__ import annotations

from pathlib import Path

from knowledge.citations import (
    LABEL_SEPARATOR,
    citation_label,
    logical_source,
    present_citation,
    roots_of,
)
from knowledge.retriever import Citation
from knowledge.starter import starter_corpus_dir

SEP = LABEL_SEPARATOR


def test_label_follows_the_heading_path_without_repeating_the_title() -> None:
    path = ("Booking Policy", "Deposits and Payment", "Deposit Amounts")
    assert citation_label("Booking Policy", path) == (
        f"Booking Policy{SEP}Deposits and Payment{SEP}Deposit Amounts"
    )
    assert citation_label("Booking Policy", ("Deposits", "Deposits", " ")) == (
        f"Booking Policy{SEP}Deposits"
    )
    assert citation_label("Booking Policy", (), "Refunds") == f"Booking Policy{SEP}Refunds"
    assert citation_label("Booking Policy", (), None) == "Booking Policy"
    assert SEP == " \u203a "


def test_logical_source_is_relative_to_the_longest_root_never_absolute() -> None:
    roots = [Path("/srv/grace"), Path("/srv/grace/knowledge/corpus")]
    src = "/srv/grace/knowledge/corpus/handbook/policies.md"
    assert logical_source(src, "handbook", "Policies", roots) == "handbook:handbook/policies.md"
    assert logical_source("/srv/grace/notes/a.md", "kb", "A", roots) == "kb:notes/a.md"
    # under no known root: the file name only
    assert logical_source("/home/ana/secret/plan.pdf", "kb", "Plan", roots) == "kb:plan.pdf"
    assert logical_source("/srv/grace", "kb", "x", roots) == "kb:grace"
    assert logical_source("C:\\data\\kb\\faq.md", "kb", "FAQ", [Path("C:/data")]) == "kb:kb/faq.md"
    assert logical_source("file:///srv/grace/x.md", "kb", "X", roots) == "kb:x.md"


def test_webhook_documents_show_collection_and_title_urls_stay() -> None:
    inbox = "/var/lib/grace/webhook-inbox/cms/gallery/0f3a9c.md"
    assert logical_source(inbox, "gallery", "Gallery hours", ()) == "gallery:Gallery hours"
    url = "https://cms.example.com/pages/hours"
    assert logical_source(url, "gallery", "Gallery hours", ()) == url
    assert logical_source("handbook/d1.md", "handbook", "D1", ()) == "handbook/d1.md"


def _citation(source: str) -> Citation:
    return Citation(
        document_id="d1", title="Booking Policy", section="Deposit Amounts", source=source,
        chunk_id=7, score=0.61, collection="handbook",
        heading_path=("Booking Policy", "Deposits and Payment", "Deposit Amounts"),
    )  # fmt: skip


def test_clients_get_label_and_logical_source_staff_also_the_path() -> None:
    src = str(starter_corpus_dir() / "handbook" / "booking.md")
    roots = roots_of()
    client = present_citation(_citation(src), "client", roots)
    assert client == {
        "document_id": "d1", "title": "Booking Policy", "section": "Deposit Amounts",
        "label": f"Booking Policy{SEP}Deposits and Payment{SEP}Deposit Amounts",
        "collection": "handbook", "source": "handbook:handbook/booking.md", "chunk_id": 7,
        "score": 0.61,
    }  # fmt: skip
    assert src not in str(client)
    staff = present_citation(_citation(src).__dict__, "staff", roots)
    assert staff == {**client, "path": src}
    # unknown keys of a stored citation never pass through
    extra = present_citation({**_citation(src).__dict__, "internal": src}, "client", roots)
    assert "internal" not in extra


def test_citations_from_json_keep_working() -> None:
    old = {"document_id": "d1", "title": "T", "section": None, "source": "/a/b.md",
           "chunk_id": 1, "score": 0.5}  # fmt: skip
    assert Citation(**old).heading_path == ()
    assert Citation(**{**old, "heading_path": ["T", "S"]}).heading_path == ("T", "S")
    assert present_citation(old, "client")["source"] == "b.md"
