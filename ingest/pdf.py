"""PDF text layers, page by page. Pages are joined with form feeds so that chunks
can cite their page; pages without a text layer (scans) are reported."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError

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
        pages = [(page.extract_text() or "") for page in reader.pages]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except SourceError:
        raise
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
