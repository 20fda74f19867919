"""PDF text layers, page by page. Pages are joined with form feeds so that chunks
can cite their page; pages without a text layer (scans) are reported."""

from __future__ import annotations

import io
import logging

from pypdf import PageObject, PdfReader
from pypdf.errors import DependencyError, PdfReadError, PyPdfError

from ingest.errors import SourceError
from ingest.limits import Limits

log = logging.getLogger(__name__)
PAGE_BREAK = "\f"


def pdf_pages(data: bytes, name: str, limits: Limits) -> tuple[str, list[str], list[int]]:
    """(title, text of each page, numbers of pages without text)."""
    if not data.startswith(b"%PDF-"):
        raise SourceError(f"{name}: named .pdf but is not a PDF (it starts with {data[:8]!r}); "
                          "give it the right extension")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SourceError(f"{name}: the PDF is encrypted with a password; add a decrypted copy instead")
        limits.check(name, "page count", len(reader.pages), "max_pdf_pages")
        pages = page_texts(reader, name, limits)
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except SourceError:
        raise
    except DependencyError as exc:  # AES needs `cryptography`; a broken install must not stop the run
        raise SourceError(f"{name}: the PDF is encrypted and cannot be opened here ({exc}); add a decrypted "
                          "copy instead") from exc
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise SourceError(f"{name}: truncated or corrupt PDF ({type(exc).__name__}: {exc}); "
                          "re-export or re-download the file") from exc
    empty = [n for n, text in enumerate(pages, start=1) if not text.strip()]
    if len(empty) == len(pages):
        raise SourceError(f"{name}: no page has a text layer ({len(pages)} page(s), probably scanned); "
                          "run OCR on it and ingest the result")
    if empty:
        log.warning("%s: pages without a text layer: %s", name, ", ".join(map(str, empty)))
    return title, pages, empty


def page_texts(reader: PdfReader, name: str, limits: Limits) -> list[str]:
    """Each page's text, refused as soon as the whole passes max_text_chars. Pages that
    share one content stream are extracted once: a 31 KB file whose 2,000 pages all draw
    the same stream otherwise took 50 s and gave 6 M characters."""
    pages: list[str] = []
    seen: dict[object, str] = {}
    total = 0
    for page in reader.pages:
        key = _contents_key(page)
        text = seen.get(key) if key is not None else None
        if text is None:
            text = page.extract_text() or ""
            if key is not None:
                seen[key] = text
        total += len(text)
        limits.check(name, "text length in characters (so far)", total, "max_text_chars")
        pages.append(text)
    return pages


def _contents_key(page: PageObject) -> object | None:
    """The identity of a page's content stream(s), when they are indirect objects."""
    ref = page.get("/Contents")
    refs = ref if isinstance(ref, list) else [ref]
    ids = [(getattr(r, "idnum", None), getattr(r, "generation", None)) for r in refs]
    return tuple(ids) if ids and all(i[0] is not None for i in ids) else None
