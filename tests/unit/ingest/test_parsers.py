from __future__ import annotations

from ingest.parsers import parse


def test_html_drops_scripts_and_styles_and_keeps_headings_and_tables() -> None:
    html = (b"<html><head><title>Price list</title><style>p{}</style></head><body><script>evil()</script>"
            b"<h1>Prices</h1><p>Atlas &amp; Lynx</p><table><tr><td>A</td><td>10</td></tr></table></body></html>")
    [doc] = parse("p.html", html)
    assert doc.title == "Price list"
    assert "evil" not in doc.text and "p{}" not in doc.text
    assert "# Prices" in doc.text and "Atlas & Lynx" in doc.text and "A" in doc.text and "10" in doc.text


def test_markdown_title_is_its_first_heading() -> None:
    [doc] = parse("a.md", b"intro\n# Real title\nbody")
    assert doc.title == "Real title" and doc.format == "markdown"


def test_jsonl_yields_one_document_per_record_with_metadata() -> None:
    docs = parse("t.jsonl", b'{"id": "T-1", "title": "One", "text": "first", "customer": "ACME"}\n\n'
                            b'{"id": "T-2", "text": "second"}\n')
    assert [(d.part, d.title, d.text) for d in docs] == [("T-1", "One", "first"), ("T-2", "T-2", "second")]
    assert docs[0].metadata == {"customer": "ACME"}
