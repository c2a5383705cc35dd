from pathlib import Path

from graphs.workflows.catalog import default_catalog
from knowledge.workflow_articles import OUT_DIR, article_path, render_article, write_articles


def test_committed_articles_match_the_workflow_data() -> None:
    for wf in default_catalog():
        path = article_path(wf)
        assert path.exists(), f"run `grace knowledge workflow-articles` ({path} missing)"
        assert path.read_text(encoding="utf-8") == render_article(wf), path.name
    assert len(list(OUT_DIR.glob("*.md"))) == 14


def test_article_names_owners_and_human_decisions(tmp_path: Path) -> None:
    text = render_article(default_catalog().get("WF-WELL-BOOK"))
    assert "Taken by Nyra (lead capture)" in text
    assert "- client accepted quote (from quote provided to payment pending)" in text
    assert "completed (final)" in text
    assert len(write_articles(tmp_path)) == 14
