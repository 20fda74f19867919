"""Detect and redact personal data (PII) in text: pure functions, standard library only.

`detect` finds emails, phone numbers, IBANs, payment cards, IP addresses and national ids
(US SSN, UK National Insurance number, German Steuer-IdNr). The detectors prefer precision
over recall: checksums decide where a format has one (IBAN mod-97, Luhn, ISO 7064), and
number shapes that are usually dates, versions, amounts or order ids are left alone. A
shape that is as often something else (an SSN without its dashes, an 11-digit tax id)
counts only after a word that names it.

Detection runs on a normalised view of the text: invisible characters (format
characters such as zero-width spaces, bidi controls, soft hyphens, and the other
default-ignorable code points) dropped and each character NFKC-normalised, so that a
full-width @ or digits, or a zero-width space inside a value, do not hide it. Each
finding is mapped back to its span in the original, which is what gets replaced; the
rest of the text stays as written (the injection screener reads hidden characters).

`redact` replaces what `detect` found, per kind: mask (`[EMAIL]`), hash (`[EMAIL:<hmac>]`,
stable for one tenant key), keep, or drop (raise `DropDocument`). It also returns the
subject keys of the identifiers it saw: keyed hashes (never the values) that let a
data subject's documents be found after redaction took the identifiers away.

Errors:

    DropDocument    a kind whose mode is "drop" was found; the document must not go on
    ValueError      `modes` names an unknown kind or mode, or hashing was asked without a key
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import hmac
import ipaddress
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from governance.errors import GovernanceError

PII_KINDS = ("email", "phone", "iban", "card", "ip", "national_id")
# Kinds that name one person; an IP address or a shared line does not reliably.
SUBJECT_KINDS = ("email", "phone", "iban", "card", "national_id")
Mode = Literal["mask", "hash", "keep", "drop"]
_MODES = ("mask", "hash", "keep", "drop")
_HASH_HEX_CHARS = 12

# When two findings overlap, the one from the more specific detector wins (then the longer).
_RANK = {"iban": 0, "card": 1, "email": 2, "ip": 3, "national_id": 4, "phone": 5}


@dataclass(frozen=True)
class Finding:
    kind: str  # one of PII_KINDS
    start: int  # character offsets into the text
    end: int


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: dict[str, int]  # kind -> how many values were masked or hashed (kinds with 0 omitted)
    subjects: frozenset[str] = frozenset()  # subject keys of the identifiers found (see subject_key)


class DropDocument(GovernanceError):
    """Raised by redact when a kind whose mode is 'drop' is found."""

    def __init__(self, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        found = ", ".join(f"{kind} x{n}" for kind, n in sorted(self.counts.items()))
        # Name kinds and counts only: the values are exactly what must not reach a log.
        super().__init__(f"document dropped: it contains {found}, and their mode is 'drop'")


# --- the normalised view ----------------------------------------------------------------------

# Every format character (Unicode category Cf: zero-width space, joiners, word joiner, soft
# hyphen, bidi controls, BOM, tags), then the other default-ignorable code points (combining
# grapheme joiner, Hangul fillers, Mongolian and other variation selectors).
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891),
    (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
    (0x034F, 0x034F), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180D), (0x180F, 0x180F), (0x3164, 0x3164),
    (0xFE00, 0xFE0F), (0xFFA0, 0xFFA0), (0xE0100, 0xE01EF),
)
IGNORABLE = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _IGNORABLE_RANGES) + "]")
# The same as a set: testing a text's characters against it is several times faster than the regex.
_IGNORABLE_CHARS = frozenset(chr(c) for lo, hi in _IGNORABLE_RANGES for c in range(lo, hi + 1))
_nfkc = functools.partial(unicodedata.normalize, "NFKC")
# A run of non-ASCII characters, with the ASCII character a combining mark may belong to.
_NON_ASCII = re.compile(r"[\x00-\x7f]?[^\x00-\x7f]+")


def visible(text: str) -> str:
    """`text` without invisible characters, NFKC-normalised: how a reader sees it."""
    return unicodedata.normalize("NFKC", IGNORABLE.sub("", text))


@dataclass(frozen=True)
class _View:
    """The normalised view of a text and the way back: `segments` are (view start,
    original start, original end, one-to-one), sorted; None when the view is the text.
    In a one-to-one segment each character became one character; in another, the view's
    characters all map back to the whole original span (a base and its marks, a ligature)."""

    text: str
    segments: list[tuple[int, int, int, bool]] | None = None

    def original(self, start: int, end: int) -> tuple[int, int]:
        if self.segments is None:
            return start, end
        first = self.segments[bisect.bisect_right(self.segments, (start, 1 << 62)) - 1]
        last = self.segments[bisect.bisect_right(self.segments, (end - 1, 1 << 62)) - 1]
        return (first[1] + start - first[0] if first[3] else first[1],
                last[1] + end - last[0] if last[3] else last[2])


def _view(text: str) -> _View:
    if text.isascii():
        return _View(text)
    if _IGNORABLE_CHARS.isdisjoint(text):
        if unicodedata.is_normalized("NFKC", text):
            return _View(text)
        if not any(map(unicodedata.combining, text)):  # full-width forms and the like, everywhere
            chars = list(map(_nfkc, text))
            if max(map(len, chars)) == 1:
                return _View("".join(chars), [(0, 0, len(text), True)])
    parts: list[str] = []
    segments: list[tuple[int, int, int, bool]] = []
    size = pos = 0

    def add(piece: str, start: int, end: int, same: bool) -> None:
        nonlocal size
        if piece:
            segments.append((size, start, end, same))
            parts.append(piece)
            size += len(piece)

    for m in _NON_ASCII.finditer(text):
        run = m.group()
        visible_only = _IGNORABLE_CHARS.isdisjoint(run)
        if visible_only and unicodedata.is_normalized("NFKC", run):
            continue  # stays in the one-to-one stretch
        add(text[pos : m.start()], pos, m.start(), True)
        pos = m.end()
        chars = list(map(_nfkc, run)) if visible_only and not any(map(unicodedata.combining, run)) else []
        if chars and max(map(len, chars)) == 1:  # full-width forms and the like: still one-to-one
            add("".join(chars), m.start(), m.end(), True)
            continue
        i = m.start()
        while i < m.end():
            if text[i] in _IGNORABLE_CHARS:
                i += 1
                continue
            j = i + 1
            while j < m.end() and unicodedata.combining(text[j]):  # a base and its marks compose
                j += 1
            norm = _nfkc(text[i:j])
            add(norm, i, j, len(norm) == j - i == 1)
            i = j
    add(text[pos:], pos, len(text), True)
    return _View("".join(parts), segments)


# --- email -------------------------------------------------------------------------------------

# Unicode letters in the local part and the domain (internationalised addresses, lookalikes
# of mixed scripts); a TLD of letters, or an IDN TLD in punycode.
_EMAIL_CHAR = r"[\w%+\-\u0300-\u036f]"
_EMAIL = re.compile(
    rf"(?<![\w.+%-]){_EMAIL_CHAR}+(?:\.{_EMAIL_CHAR}+)*"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+((?i:xn--[a-z0-9-]{1,59})|[^\W\d_]{2,24})(?![\w-])"
)
# "logo@2x.png" is a retina asset name, not an address.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf"})
# Scripts written without spaces between words: "请联系jane@example.com获取" is prose around an address.
_UNSPACED = ("\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff"
             "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f")
_LEADING_PROSE = re.compile(rf"[{_UNSPACED}]+(?=[^{_UNSPACED}.@])")
_TRAILING_PROSE = re.compile(rf"(?<=[^{_UNSPACED}.])[{_UNSPACED}]+$")

# Spelled out against harvesters: "jane(at)example.org", "jane [at] example [dot] org", or
# defanged: "jane[@]example[.]org". Only bracketed words count: a bare "at" or "dot" is prose.
_AT = r"(?: ?[(\[{] ?(?i:at|@) ?[)\]}] ?|@)"
_DOT = r"(?: ?[(\[{] ?(?i:dot|punkt|\.) ?[)\]}] ?|\.)"
_EMAIL_SPELLED = re.compile(
    rf"(?<![\w.+%-]){_EMAIL_CHAR}+(?:\.{_EMAIL_CHAR}+)*{_AT}(?:[^\W_](?:[\w-]{{0,61}}[^\W_])?{_DOT})+"
    r"((?i:xn--[a-z0-9-]{1,59})|[^\W\d_]{2,24})(?![\w-])"
)
_SPELLED_AT = re.compile(r"[(\[{] ?(?i:at|@) ?[)\]}]")
_SPELLED_DOT = re.compile(r"[(\[{] ?(?i:dot|punkt|\.) ?[)\]}]")


def _unspell_email(value: str) -> str:
    """The address an obfuscated spelling stands for, so both hash to one subject."""
    return _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", value)).replace(" ", "")


def _spelled_emails(text: str) -> Iterator[tuple[int, int]]:
    if not (_SPELLED_AT.search(text) or _SPELLED_DOT.search(text)):
        return  # (most texts: the long pattern need not run)
    for m in _EMAIL_SPELLED.finditer(text):
        spelled = _SPELLED_AT.search(m.group()) or _SPELLED_DOT.search(m.group())  # plain ones: _EMAIL's
        if spelled and m.group(1).lower() not in _FILE_SUFFIXES:
            yield m.span()


def _emails(text: str) -> Iterator[tuple[int, int]]:
    yield from _spelled_emails(text)
    for m in _EMAIL.finditer(text):
        start, end = m.span()
        lead = _LEADING_PROSE.match(text, start, end)
        tail = _TRAILING_PROSE.search(text, start, end)
        start, end = lead.end() if lead else start, tail.start() if tail else end
        # Alone, as the prose around it would fail the lookbehind.
        trimmed = m if not (lead or tail) else _EMAIL.fullmatch(text[start:end])
        if trimmed and trimmed.group(1).lower() not in _FILE_SUFFIXES:
            yield start, end


# --- phone -------------------------------------------------------------------------------------

# A one-digit extension after a dash is the switchboard: +49 40 428910-0.
_PHONE_INTL = re.compile(
    r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(0\))?(?:[ .-]?\(\d{1,5}\)|[ .-]?\d{1,5})(?:[ .-]?\d{2,8}){0,5}"
    r"(?:-\d)?(?![\w%]|[ .,-]?\d)"
)
_PHONE_US = re.compile(
    r"(?<![\w(+.-])(?:\([2-9]\d{2}\) ?[2-9]\d{2}[-. ]\d{4}|(?:1[-.])?[2-9]\d{2}([-.])[2-9]\d{2}\1\d{4})"
    r"(?![\w-]|[.,]\d)"
)
# German national: 0 + area code, a separator, a subscriber number that never starts with 0;
# the area code may stand in brackets, "(0 89)" in the old spacing, and an extension may
# follow a dash (DIN 5008: 040 42891-235).
_PHONE_DE = re.compile(
    r"(?<![\w/.+-])(?:0[1-9]\d{1,4}(?: ?/ ?| |-)|\(0 ?[1-9]\d{1,4}\) ?)[1-9]\d{1,7}(?: \d{2,4}){0,2}(-\d{1,5})?"
    r"(?![\w]|[ .,/-]?\d)"
)
# French, Dutch mobile and Spanish national numbers, in one pattern (one pass over the text).
_PHONE_FR_NL_ES = re.compile(
    r"(?<![\w/.+-])(?:"
    # French: ten digits in pairs, one separator throughout (01 45 71 38 22, 07.62.19.40.85).
    r"0[1-9](?P<sep>[ .-])\d{2}(?:(?P=sep)\d{2}){3}"
    # Dutch mobile: 06, a dash or space, eight digits or 4 + 4 (06-31947265, 06 3194 7265).
    r"|06[ -][1-9]\d{3} ?\d{4}"
    # Spanish: nine digits from 6-9 grouped as people write them (655 31 94 72, 93 416 28 57);
    # not 3-3-3, which is how amounts are grouped too.
    r"|(?:[6-9]\d{2} \d{2}|[89]\d \d{3}) \d{2} \d{2}"
    r")(?![\w]|[ .,/-]?\d)"
)
# A number right after another digit group ("S/N 2024 0815 3377") is part of that group.
_AFTER_DIGIT_GROUP = re.compile(r"\d[ ./-]$")
# A number right after "Order", "SKU", "Rechnung" ... is an id, whatever its shape.
_ID_WORD = re.compile(
    r"(?i)\b(?:order|bestellung|bestellnummer|invoice|rechnung|rechnungsnummer|auftrag|ticket|case|sku|serial|"
    r"s/n|sn|po|tracking|sendungsnummer|lot|charge|chargennummer|artikel|article|part|kundennummer|"
    r"vertragsnummer|meeting)(?:\s*(?:no|nr|number|nummer|id))?[\s.:#-]*$"
)


def _phones(text: str) -> Iterator[tuple[int, int]]:
    for pattern in (_PHONE_INTL, _PHONE_US, _PHONE_DE, _PHONE_FR_NL_ES):
        for m in pattern.finditer(text):
            value = m.group()
            before = text[max(0, m.start() - 30) : m.start()]
            if _AFTER_DIGIT_GROUP.search(before) or _ID_WORD.search(before):
                continue
            digits = re.sub(r"\D", "", value.replace("(0)", ""))
            if pattern is _PHONE_INTL:
                if value.startswith("00"):
                    if " " not in value and "-" not in value:
                        continue  # an unseparated 00... run is an id far more often than a number
                    digits = digits[2:]
                if not 9 <= len(digits) <= 15:  # E.164 allows 15 digits with the country code
                    continue
            elif pattern is _PHONE_DE and not 9 <= len(digits) <= (13 if m.group(1) else 12):
                continue  # (an extension may make it one longer)
            yield m.span()


# --- iban --------------------------------------------------------------------------------------

# ISO 13616 registry: country code and IBAN length.
_IBAN_REGISTRY = (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 "
    "ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 "
    "LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 "
    "RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20"
)
_IBAN_LENGTHS = {entry[:2]: int(entry[2:]) for entry in _IBAN_REGISTRY.split()}
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})\d{2}")
_ALNUM = re.compile(r"[A-Za-z0-9]+")


def _iban_valid(compact: str) -> bool:
    rotated = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rotated.upper())) % 97 == 1


def _alnum_at(text: str, start: int, length: int) -> bool:
    chunk = text[start : start + length]
    return len(chunk) == length and _ALNUM.fullmatch(chunk) is not None


def _iban_end(text: str, pos: int, n: int) -> int | None:
    """End of an IBAN body of `n` characters from `pos`, either compact or in groups of 4
    separated by spaces or by dashes (one of them throughout)."""
    if _alnum_at(text, pos, n):
        end = pos + n
    else:
        end, left, sep = pos, n, text[pos : pos + 1]
        if sep not in (" ", "-"):
            return None
        while left:
            group = min(4, left)
            if text[end : end + 1] != sep or not _alnum_at(text, end + 1, group):
                return None
            end, left = end + 1 + group, left - group
    return None if _ALNUM.match(text, end) else end


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    for m in _IBAN_START.finditer(text):
        length = _IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        end = _iban_end(text, m.end(), length - 4)
        if end is not None and _iban_valid(re.sub(r"[ -]", "", text[m.start() : end])):
            yield m.start(), end


# --- card --------------------------------------------------------------------------------------

_CARD = re.compile(
    r"(?<![\w.,+-])(?:\d{4}([ -])\d{6}\1\d{4,5}|\d{4}([ -])\d{4}\2\d{4}\2\d{1,4}(?:\2\d{1,3})?|\d{13,19})"
    r"(?!\d|[.,-]\d)"
)


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _card_brand_fits(digits: str) -> bool:
    """A known brand prefix with that brand's lengths (so a 15-digit IMEI starting with 4 is not a Visa)."""
    n, two, four = len(digits), int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return n == 16
    if two in (34, 37):
        return n == 15
    if four == 6011 or two == 65:
        return 16 <= n <= 19
    return False


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _AFTER_DIGIT_GROUP.search(text[max(0, m.start() - 2) : m.start()]):
            continue
        if 13 <= len(digits) <= 19 and _card_brand_fits(digits) and _luhn_valid(digits):
            yield m.span()


# --- ip ----------------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
# The last 32 bits may be written as an IPv4 address (::ffff:198.51.100.7): one value, not an IPv4 inside.
_IPV6 = re.compile(
    rf"(?<![\w:.])(?:(?:[0-9A-Fa-f]{{0,4}}:){{2,6}}{_OCTET}(?:\.{_OCTET}){{3}}|(?:[0-9A-Fa-f]{{0,4}}:){{2,7}}[0-9A-Fa-f]{{0,4}})"
    r"(?![\w:]|\.\d)"
)
# "Firmware 3.10.2.1" is a four-part version number, not an address.
_VERSION_WORD = re.compile(
    r"(?i)\b(?:versions?|versionen|ver|firmware|fw|build|release|patch|revision|rev|oid|section|abschnitt|kapitel)"
    r"[\s.:#]*$"
)
# "versions 1.2.3.4 and 1.2.4.0": a dotted quad listed right after a version is a version too.
_LIST_JOIN = re.compile(r"(?i)\s*(?:,|/|and|or|und|oder|to|bis|->)?\s*")


def _ips(text: str) -> Iterator[tuple[int, int]]:
    version_end = -1
    for m in _IPV4.finditer(text):
        after_version = version_end >= 0 and _LIST_JOIN.fullmatch(text[version_end : m.start()])
        if after_version or _VERSION_WORD.search(text[max(0, m.start() - 20) : m.start()]):
            version_end = m.end()
            continue
        yield m.span()
    for m in _IPV6.finditer(text):
        if not re.search(r"\d", m.group()):
            continue  # a bare "::" in prose
        try:
            ipaddress.IPv6Address(m.group())
        except ValueError:
            continue  # times (09:30:15), MAC addresses
        yield m.span()


# --- national id -------------------------------------------------------------------------------

_SSN = re.compile(r"(?<![\w-])(\d{3})-(\d{2})-(\d{4})(?![\w-])")
# Spaced or without separators, nine digits are as often an order or routing number: these
# count only right after a word that names an SSN.
_SSN_UNDASHED = re.compile(r"(?<![\w-])(\d{3})( ?)(\d{2})\2(\d{4})(?![\w-]| ?\d)")
_SSN_CONTEXT = re.compile(r"(?i)\bssn|social[ -]security|s[ée]curit[ée] sociale|seguro social|sozialversicherung")
_SSN_CONTEXT_CHARS = 40
# UK NINO: first letter not D F I Q U V, second not D F I O Q U V, suffix A-D; typed in
# lowercase too, checked as uppercase.
_NINO = re.compile(
    r"(?i)(?<![A-Z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Z0-9])"
)
_NINO_NOT_ISSUED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
# Compact, or grouped as the tax office prints it: 86 095 742 719.
_STEUER_ID = re.compile(r"(?<!\w)(?:[1-9]\d{10}|[1-9]\d(?: \d{3}){3})(?![\w]| \d)")
# An 11-digit number is a tax id only when the text says so just before it.
_STEUER_CONTEXT = re.compile(r"(?i:steuer|tax[ -]?id|idnr)|\bTIN\b")
_STEUER_CONTEXT_CHARS = 40


def _ssn_valid(area: str, group: str, serial: str) -> bool:
    return area != "000" and area != "666" and not area.startswith("9") and group != "00" and serial != "0000"


def _steuer_id_valid(digits: str) -> bool:
    """ISO 7064 MOD 11,10 check digit, as the Bundeszentralamt für Steuern computes it."""
    product = 10
    for c in digits[:10]:
        total = (int(c) + product) % 10 or 10
        product = (total * 2) % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(digits[10])


def _ssn_named_before(text: str, start: int) -> bool:
    before = text[max(0, start - _SSN_CONTEXT_CHARS) : start]
    return _SSN_CONTEXT.search(before) is not None and not _ID_WORD.search(before)


def _national_ids(text: str) -> Iterator[tuple[int, int]]:
    for m in _SSN.finditer(text):
        if _ssn_valid(*m.groups()):
            yield m.span()
    for m in _SSN_UNDASHED.finditer(text):
        if _ssn_valid(m.group(1), m.group(3), m.group(4)) and _ssn_named_before(text, m.start()):
            yield m.span()
    for m in _NINO.finditer(text):
        if m.group(1).upper() not in _NINO_NOT_ISSUED:
            yield m.span()
    for m in _STEUER_ID.finditer(text):
        before = text[max(0, m.start() - _STEUER_CONTEXT_CHARS) : m.start()]
        if _STEUER_CONTEXT.search(before) and _steuer_id_valid(m.group().replace(" ", "")):
            yield m.span()


# --- detect and redact -------------------------------------------------------------------------

_DETECTORS: dict[str, Callable[[str], Iterator[tuple[int, int]]]] = {
    "email": _emails,
    "phone": _phones,
    "iban": _ibans,
    "card": _cards,
    "ip": _ips,
    "national_id": _national_ids,
}


# Every kind needs an @ (or a spelled one, _SPELLED_AT) or a digit: most short values
# (titles, paths, metadata) have neither.
_CANDIDATE = re.compile(r"[@\d]")


def _detect(text: str) -> list[Finding]:
    candidates = [Finding(kind, start, end) for kind, find in _DETECTORS.items() for start, end in find(text)]
    candidates.sort(key=lambda f: (_RANK[f.kind], f.start - f.end, f.start))
    kept: list[Finding] = []  # sorted by start and non-overlapping, so a bisect finds the neighbours
    starts: list[int] = []
    for f in candidates:
        i = bisect.bisect_left(starts, f.start)
        if (i == 0 or kept[i - 1].end <= f.start) and (i == len(kept) or f.end <= kept[i].start):
            kept.insert(i, f)
            starts.insert(i, f.start)
    return kept


def _found(text: str) -> list[tuple[Finding, str]]:
    """Each finding, at its span in `text`, with its value as the normalised view reads it."""
    view = _view(text)
    if not (_CANDIDATE.search(view.text) or _SPELLED_AT.search(view.text)):
        return []
    found = []
    for f in _detect(view.text):
        start, end = view.original(f.start, f.end)
        found.append((Finding(f.kind, start, end), view.text[f.start : f.end]))
    return found


def detect(text: str) -> list[Finding]:
    """All PII in `text`, sorted by start, without overlaps; spans include the invisible
    characters inside a value."""
    return [f for f, _ in _found(text)]


def _normalise(kind: str, value: str) -> str:
    """The form that is hashed, so that spacing, case and spelling do not change the token."""
    value = visible(value)
    if kind == "email":
        local, _, domain = _unspell_email(value).lower().rpartition("@")
        return f"{local}@{'.'.join(_unicode_label(label) for label in domain.split('.'))}"
    if kind == "ip":
        # Canonical form: stripping the dots would make 20.30.113.47 and 203.0.113.47 collide.
        return str(ipaddress.ip_address(value))
    if kind == "phone":
        digits = re.sub(r"\D", "", value.replace("(0)", ""))
        return digits[2:] if value.startswith("00") else digits
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def _unicode_label(label: str) -> str:
    """An IDN label in Unicode, so that bücher.de and xn--bcher-kva.de name one domain."""
    if label.startswith("xn--"):
        try:
            return label.encode("ascii").decode("idna").lower()
        except UnicodeError:
            return label
    return label


def _token(kind: str, value: str, key: bytes) -> str:
    digest = hmac.new(key, _normalise(kind, value).encode(), hashlib.sha256).hexdigest()
    return f"[{kind.upper()}:{digest[:_HASH_HEX_CHARS]}]"


def subject_key(kind: str, value: str, key: bytes) -> str:
    """The keyed hash that names a data subject in the subject index, the audit log and
    receipts. Separate from the redaction token, so a hashed placeholder in a chunk
    cannot be joined to the index."""
    return hmac.new(key, f"subject|{kind}|{_normalise(kind, value)}".encode(), hashlib.sha256).hexdigest()[:32]


def identify(identifier: str, key: bytes) -> str:
    """The subject key of an identifier given on its own (an e-mail address, a phone
    number, ...). Raises ValueError when the detectors do not see exactly one."""
    value = IGNORABLE.sub("", identifier).strip()
    found = [(f, v) for f, v in _found(value) if f.kind in SUBJECT_KINDS]
    if len(found) != 1 or (found[0][0].start, found[0][0].end) != (0, len(value)):
        raise ValueError(f"{identifier!r} is not one identifier the detectors recognise; give an e-mail "
                         f"address, phone number, IBAN, card number or national id on its own")
    return subject_key(found[0][0].kind, found[0][1], key)


def _check_modes(modes: Mapping[str, str], key: bytes) -> None:
    for kind, mode in modes.items():
        if kind not in PII_KINDS:
            raise ValueError(f"unknown PII kind {kind!r} in modes; use one of {', '.join(PII_KINDS)}")
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r} for {kind!r}; use one of {', '.join(_MODES)}")
    if not key and "hash" in modes.values():
        raise ValueError("hash mode needs a non-empty key (the tenant's secret), so tokens differ across tenants")


def redact(text: str, modes: Mapping[str, str], *, key: bytes) -> Redaction:
    """Replace the PII in `text` according to `modes` (kind -> mask | hash | keep | drop; missing kinds are masked).

    Raises DropDocument, before any work is done, when a kind whose mode is "drop" is found.
    """
    _check_modes(modes, key)
    found = _found(text)
    dropped = Counter(f.kind for f, _ in found if modes.get(f.kind) == "drop")
    if dropped:
        raise DropDocument(dropped)
    parts: list[str] = []
    counts: Counter[str] = Counter()
    pos = 0
    for f, value in found:
        mode = modes.get(f.kind, "mask")
        if mode == "keep" or f.start < pos:  # (two values inside one normalised character: the first wins)
            continue
        parts += [text[pos : f.start], _token(f.kind, value, key) if mode == "hash" else f"[{f.kind.upper()}]"]
        counts[f.kind] += 1
        pos = f.end
    parts.append(text[pos:])
    return Redaction(text="".join(parts), counts=dict(counts), subjects=_subjects(found, key))


def subjects_in(text: str, key: bytes) -> frozenset[str]:
    """The subject keys of every identifier in `text` (for bytes that failed to
    parse: whether they name an erased subject)."""
    return _subjects(_found(text), key)


def _subjects(found: list[tuple[Finding, str]], key: bytes) -> frozenset[str]:
    return frozenset(subject_key(f.kind, value, key) for f, value in found
                     if f.kind in SUBJECT_KINDS) if key else frozenset()


_KINDS_ALT = "|".join(k.upper() for k in PII_KINDS)
_PLACEHOLDER = re.compile(rf"\[({_KINDS_ALT})(?::[0-9a-f]{{{_HASH_HEX_CHARS}}})?\]")


def count_placeholders(text: str) -> dict[str, int]:
    """How many values of each kind were redacted in `text` (it holds their placeholders)."""
    return dict(Counter(m.group(1).lower() for m in _PLACEHOLDER.finditer(text)))
