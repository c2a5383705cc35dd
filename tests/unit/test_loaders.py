from __future__ import annotations

import os
import pickle
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from knowledge.loaders.base import Loader, LoaderError, UnsupportedFormatError
from knowledge.loaders.directory import (
    DEFAULT_INCLUDE,
    discover_files,
    load_directory,
    partition_results,
)
from knowledge.loaders.html import HtmlLoader
from knowledge.loaders.markdown import MarkdownLoader, markdown_document, parse_headings
from knowledge.loaders.pdf import PdfLoader
from knowledge.loaders.registry import load_path, loader_for, supported_extensions
from knowledge.loaders.text import TextLoader
from knowledge.types import Heading
from tests.conftest import REPO_ROOT
from tests.contracts.loader import LoaderContract

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "knowledge"


# --- the contract, once per loader -----------------------------------------------------------


class TestMarkdownLoaderContract(LoaderContract):
    @pytest.fixture
    def loader(self) -> Loader:
        return loader_for("x.md")

    @pytest.fixture
    def sample(self) -> Path:
        return FIXTURES / "guide.md"


class TestTextLoaderContract(LoaderContract):
    @pytest.fixture
    def loader(self) -> Loader:
        return loader_for("x.txt")

    @pytest.fixture
    def sample(self) -> Path:
        return FIXTURES / "notes.txt"


class TestHtmlLoaderContract(LoaderContract):
    @pytest.fixture
    def loader(self) -> Loader:
        return loader_for("x.html")

    @pytest.fixture
    def sample(self) -> Path:
        return FIXTURES / "page.html"


class TestPdfLoaderContract(LoaderContract):
    @pytest.fixture
    def loader(self) -> Loader:
        return loader_for("x.pdf")

    @pytest.fixture
    def sample(self) -> Path:
        return FIXTURES / "report.pdf"


# --- markdown --------------------------------------------------------------------------------


def test_markdown_fixture_headings_exact() -> None:
    doc = MarkdownLoader().load(FIXTURES / "guide.md", collection="visitors")
    assert (doc.title, doc.content_type, doc.collection) == (
        "Visitor Guide",
        "text/markdown",
        "visitors",
    )
    assert [(h.level, h.title) for h in doc.headings] == [
        (1, "Visitor Guide"),
        (2, "Gallery"),
        (3, "Tours"),
        (2, "Wellness Center"),
        (2, "The spa and sauna"),
    ]
    raw = (FIXTURES / "guide.md").read_text(encoding="utf-8")
    assert doc.text == raw  # kept as written
    for heading in doc.headings:
        line = doc.text[heading.start :].split("\n", 1)[0]
        assert line.startswith("#" * heading.level + " ")
    tours = doc.text.index("Tours last")
    assert doc.heading_path(tours) == ("Visitor Guide", "Gallery", "Tours")
    assert doc.heading_path(doc.text.index("# still code")) == ("Visitor Guide", "Wellness Center")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# A\n## B", [(1, "A", 0), (2, "B", 4)]),
        ("   ### Indented three\n    # four is code", [(3, "Indented three", 0)]),
        ("```\n# in code\n```\n# after", [(1, "after", 18)]),
        ("````\n```\n# still code\n````\n# out", [(1, "out", 27)]),
        ("~~~\n# code\n```\n# code\n~~~\n# out", [(1, "out", 26)]),
        ("```\n# unclosed fence runs to the end", []),
        ("``` not ``a fence``\n# heading", [(1, "heading", 20)]),
        ("#nospace\n#\n# #\n####### seven", []),
        ("# Title ##  \n## C# language", [(1, "Title", 0), (2, "C# language", 13)]),
        ("# **Bold** and `code` [link](http://x)", [(1, "Bold and code link", 0)]),
        ("# A\f# not a new line\n# B", [(1, "A\f# not a new line", 0), (1, "B", 21)]),
    ],
)
def test_parse_headings(text: str, expected: list[tuple[int, str, int]]) -> None:
    assert parse_headings(text) == tuple(Heading(*h) for h in expected)


def test_markdown_title_falls_back_to_stem_and_normalises_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "no-title.md"
    path.write_bytes(b"\xef\xbb\xbfIntro\r\n\r\n## Section\r\nBody\r\n")
    doc = load_path(path)
    assert doc.title == "no-title"
    assert doc.text == "Intro\n\n## Section\nBody\n"
    assert doc.headings == (Heading(2, "Section", 7),)


def test_markdown_document_from_memory() -> None:
    doc = markdown_document("## Only level two\n", source="https://example.invalid/page.md")
    assert (doc.title, doc.content_type, doc.modified_at) == ("page", "text/markdown", None)


def test_invalid_utf8_is_a_loader_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(b"# ok\n\xff\xfe broken")
    with pytest.raises(LoaderError, match="not valid UTF-8"):
        load_path(path)


# --- text, html, pdf -------------------------------------------------------------------------


def test_text_loader() -> None:
    path = FIXTURES / "notes.txt"
    doc = TextLoader().load(path)
    assert (doc.title, doc.content_type, doc.headings) == ("notes", "text/plain", ())
    assert doc.text == path.read_text(encoding="utf-8")
    assert doc.modified_at == datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    assert doc.metadata == {"extension": ".txt", "size_bytes": path.stat().st_size}


def test_html_loader_extracts_main_content_as_markdown() -> None:
    doc = HtmlLoader().load(FIXTURES / "page.html")
    assert (doc.title, doc.content_type) == ("Visiting the Gallery", "text/html")
    assert [(h.level, h.title) for h in doc.headings] == [
        (1, "Visiting the Gallery"),
        (2, "Accessibility"),
        (2, "Tickets"),
    ]
    for heading in doc.headings:
        assert doc.text[heading.start :].startswith("#" * heading.level + " " + heading.title)
    assert "Wheelchairs can be borrowed" in doc.text
    assert "- Step-free entrance on Mill Street" in doc.text
    assert "Footer links" not in doc.text and "Shop" not in doc.text  # boilerplate dropped
    assert doc.metadata["author"] == "Operations Team"


def test_html_without_main_content_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "tiny.htm"
    path.write_text("<html><body><p>Just one line.</p></body></html>", encoding="utf-8")
    doc = load_path(path)
    assert "Just one line." in doc.text
    assert doc.title == "tiny"


def test_pdf_loader_one_heading_per_page() -> None:
    path = FIXTURES / "report.pdf"
    doc = PdfLoader().load(path)
    assert (doc.title, doc.content_type) == ("Quarterly Report", "application/pdf")
    assert doc.metadata["pages"] == 2 and doc.metadata["author"] == "Finance Office"
    page2 = doc.text.index("Wellness bookings")
    assert doc.headings == (Heading(1, "Page 1", 0), Heading(1, "Page 2", page2))
    assert doc.text.startswith("Gallery sales rose in the first quarter.")
    assert doc.heading_path(page2 + 5) == ("Page 2",)
    assert doc.heading_path(page2 - 3) == ("Page 1",)


def test_pdf_without_metadata_title_uses_stem(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(FIXTURES / "report.pdf").pages:
        writer.add_page(page)
    target = tmp_path / "untitled-report.pdf"
    with target.open("wb") as fh:
        writer.write(fh)
    doc = load_path(target)
    assert doc.title == "untitled-report"
    assert doc.metadata["pages"] == 2


@pytest.mark.parametrize("content", [b"", b"%PDF-1.7\nnot really a pdf", b"\x00\x01garbage"])
def test_corrupt_pdf_is_a_loader_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(content)
    with pytest.raises(LoaderError) as info:
        load_path(path)
    assert info.value.path == str(path)


# --- registry --------------------------------------------------------------------------------


def test_supported_extensions_and_case_insensitive_choice(tmp_path: Path) -> None:
    assert set(supported_extensions()) == {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}
    path = tmp_path / "UPPER.MD"
    path.write_text("# Up\n", encoding="utf-8")
    assert load_path(path).title == "Up"


def test_unsupported_type_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match=r"'\.docx'.*supported: \.md"):
        load_path(tmp_path / "memo.docx")
    with pytest.raises(LoaderError, match="no such file"):
        load_path(tmp_path / "missing.md")
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(LoaderError, match="not a regular file"):
        load_path(tmp_path / "folder.md")


def test_loader_error_is_typed_and_picklable() -> None:
    error = UnsupportedFormatError("/x/y.doc", "unsupported")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, UnsupportedFormatError) and isinstance(copy, LoaderError)
    assert (copy.path, copy.reason, str(copy)) == (
        "/x/y.doc",
        "unsupported",
        "/x/y.doc: unsupported",
    )


# --- directories -----------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("guide.md", "notes.txt", "page.html", "report.pdf"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(FIXTURES / "guide.md", tmp_path / "sub" / "deeper" / "guide-copy.markdown")
    (tmp_path / "sub" / "a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "drafts").mkdir()
    (tmp_path / "drafts" / "draft.md").write_text("# Draft\n", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "secret.md").write_text("# Secret\n", encoding="utf-8")
    (tmp_path / "scratch.tmp.md").write_text("# Scratch\n", encoding="utf-8")
    (tmp_path / "keep.tmp.md").write_text("# Keep\n", encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\ntruncated")
    (tmp_path / "binary.md").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / ".graceignore").write_text(
        "# drafts are not published\ndrafts/\n*.tmp.md\n!keep.tmp.md\n", encoding="utf-8"
    )
    return tmp_path


def _names(root: Path, paths: list[Path]) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_discover_files_default_rules(tree: Path) -> None:
    assert _names(tree, discover_files(tree)) == [
        "binary.md",
        "broken.pdf",
        "guide.md",
        "keep.tmp.md",
        "notes.txt",
        "page.html",
        "report.pdf",
        "sub/a.md",
        "sub/deeper/guide-copy.markdown",
    ]


def test_discover_files_include_exclude_and_no_ignore_file(tree: Path) -> None:
    assert _names(tree, discover_files(tree, include=["sub/*.md", "*.txt"])) == [
        "notes.txt",
        "sub/a.md",
    ]
    assert "sub/a.md" not in _names(tree, discover_files(tree, exclude=["sub/", ".*"]))
    unignored = _names(tree, discover_files(tree, ignore_file=None))
    assert {"drafts/draft.md", "scratch.tmp.md"} <= set(unignored)
    assert ".hidden/secret.md" in _names(tree, discover_files(tree, exclude=()))
    assert len(DEFAULT_INCLUDE) == len(supported_extensions())


def test_load_directory_collects_errors_and_loads_the_rest(tree: Path) -> None:
    results = list(load_directory(tree, collection="site"))
    docs, errors = partition_results(results)
    assert sorted(Path(e.path).name for e in errors) == ["binary.md", "broken.pdf"]
    assert [Path(d.source).name for d in docs] == [
        "guide.md",
        "keep.tmp.md",
        "notes.txt",
        "page.html",
        "report.pdf",
        "a.md",
        "guide-copy.markdown",
    ]
    assert {d.collection for d in docs} == {"site"}
    assert {d.content_type for d in docs} == {
        "text/markdown",
        "text/plain",
        "text/html",
        "application/pdf",
    }
    # results keep the sorted path order, errors in place
    order = [Path(r.path if isinstance(r, LoaderError) else r.source).name for r in results]
    assert order[:3] == ["binary.md", "broken.pdf", "guide.md"]


def test_load_directory_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="not a directory"):
        list(load_directory(tmp_path / "nowhere"))


def test_load_directory_does_not_follow_ignored_folders(tree: Path) -> None:
    big = tree / "node_modules" / "pkg"
    big.mkdir(parents=True)
    (big / "readme.md").write_text("# pkg\n", encoding="utf-8")
    (tree / ".graceignore").write_text("node_modules/\n", encoding="utf-8")
    assert not any("node_modules" in p.parts for p in discover_files(tree))
    os.remove(tree / ".graceignore")
    assert any("node_modules" in p.parts for p in discover_files(tree))
