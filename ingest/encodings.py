"""Bytes to text: byte-order marks first, then strict UTF-8, then detection.
Binary input is refused rather than decoded into noise."""

from __future__ import annotations

import codecs

import charset_normalizer

from ingest.errors import SourceError

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Above this share of unprintable characters a "text" is binary data.
MAX_CONTROL_RATIO = 0.05
MAX_CHAOS = 0.2


# Detection cannot tell Western single-byte code pages apart on short texts; the
# Western ones are far more common in enterprise files, so they win a near tie.
WESTERN = ("cp1252", "latin_1", "iso8859_15")
TIE = 0.05


def detect(data: bytes, name: str) -> str:
    # UTF-8 already failed, so the data is not ASCII either, whatever a detector says.
    matches = [m for m in charset_normalizer.from_bytes(data[:1_000_000]) if m.encoding not in ("ascii", "utf_8")]
    if not matches or matches[0].chaos > MAX_CHAOS:
        raise SourceError(f"{name}: neither UTF-8 nor any text encoding that could be detected; "
                          "convert the file to UTF-8")
    best = matches[0]
    for m in matches:
        if m.encoding in WESTERN and m.chaos <= best.chaos + TIE:
            return str(m.encoding)
    for encoding in WESTERN:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if best.encoding not in WESTERN and best.chaos > 0:
            return encoding
    return str(best.encoding)


def decode(data: bytes, name: str) -> str:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SourceError(f"{name}: starts with a {encoding} byte-order mark but does not decode "
                                  f"as {encoding} (byte {exc.start}); re-save the file as UTF-8") from exc
    if b"\x00" in data:  # anywhere: a text with NUL bytes past its start is still binary
        raise SourceError(f"{name}: binary data (NUL bytes), not text; remove it from the source folder "
                          "or give it the right extension")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode(detect(data, name), errors="replace")
    sample = text[:65536]
    controls = sum(1 for c in sample if (ord(c) < 32 and c not in "\t\n\r\f\x1b") or c == "\ufffd")
    if sample and controls / len(sample) > MAX_CONTROL_RATIO:
        raise SourceError(f"{name}: {controls} control characters in the first {len(sample)}; this is binary "
                          "data, not text")
    return text
