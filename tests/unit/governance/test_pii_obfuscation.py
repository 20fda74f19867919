"""Personal data hidden by Unicode tricks is still found and redacted: detection runs on
a normalised view of the text (invisible characters dropped, NFKC per character) and
each finding replaces its original span, hidden characters included. Every field of
an event that travels (text, title, metadata, document id, source URI) is redacted."""

from __future__ import annotations

import sys
import unicodedata

import pytest

from governance.contracts import DocumentEvent
from governance.pii import detect, identify, redact, subjects_in
from governance.privacy import PrivacyPolicy, apply_privacy, tenant_key

KEY = b"tenant-a-secret"
ZW = "\u200b"  # zero-width space


@pytest.mark.parametrize(
    ("text", "kind", "gone"),
    [
        (f"Mail jane{ZW}.doe@example.com today.", "email", "doe@example.com"),
        ("Mail jane.doe\uff20example.com today.", "email", "example.com"),  # full-width @
        ("Mail jane.doe@exa\u00admple.com today.", "email", "jane.doe"),  # soft hyphen
        ("Mail \u202ejane.doe@example.com\u202c today.", "email", "jane.doe"),  # bidi override around it
        (f"Card 4111{ZW}1111{ZW}1111{ZW}1111 on file.", "card", "1111"),
        (f"Card 4111 1111{ZW} 1111 1111 on file.", "card", "1111"),
        ("Card \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11.",
         "card", "\uff11\uff11\uff11\uff11"),  # full-width digits
        ("SSN \uff15\uff13\uff16-\uff12\uff12-\uff18\uff17\uff14\uff11 on the form.", "national_id", "\uff18"),
        (f"SSN 536-22{ZW}-8741 on the form.", "national_id", "8741"),
        (f"Call +49 89{ZW} 1234 5678 tomorrow.", "phone", "5678"),
        (f"IBAN DE89 3704 00{ZW}44 0532 0130 00.", "iban", "0532"),
        ("Call +49\u00a089\u00a01234\u00a05678 tomorrow.", "phone", "5678"),  # no-break spaces
    ],
)
def test_obfuscated_values_are_redacted(text: str, kind: str, gone: str) -> None:
    result = redact(text, {}, key=KEY)
    assert gone not in result.text, result.text
    assert result.counts == {kind: 1}, result.text
    assert f"[{kind.upper()}]" in result.text


def test_the_whole_original_span_is_replaced_and_the_rest_is_left_as_written() -> None:
    # The injection screener reads hidden characters as a signal: only the value's own go.
    text = f"Hid{ZW}den note: jane{ZW}.doe@example.com{ZW} ends."
    assert redact(text, {}, key=KEY).text == f"Hid{ZW}den note: [EMAIL]{ZW} ends."
    [finding] = detect(text)
    assert text[finding.start : finding.end] == f"jane{ZW}.doe@example.com"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # An expansion (… is three dots in NFKC) before the value shifts the view, not the span.
        ("Note\u2026 write to jane.doe\uff20example.com \u2026 ok", "Note\u2026 write to [EMAIL] \u2026 ok"),
        ("\ufb01le: jane{ZW}.doe@example.com, \u00e9t\u00e9 \u2460", "\ufb01le: [EMAIL], \u00e9t\u00e9 \u2460"),
        ("Stra\u00dfe 5, Karte \uff14\uff11\uff11\uff11 1111 1111 1111.", "Stra\u00dfe 5, Karte [CARD]."),
        ("e\u0301cole: j\u0301ane@example.com; {ZW}{ZW}fin", "e\u0301cole: [EMAIL]; {ZW}{ZW}fin"),
    ],
)
def test_only_the_value_changes(text: str, expected: str) -> None:
    text, expected = text.replace("{ZW}", ZW), expected.replace("{ZW}", ZW)
    assert redact(text, {}, key=KEY).text == expected


@pytest.mark.parametrize(
    "address",
    [
        "jürgen.müller@bücher.de",  # Unicode local part and IDN domain
        "jurgen.muller@xn--bcher-kva.de",  # the same domain in punycode
        "用户@例子.广告",  # CJK address (EAI)
        "почта@пример.рф",  # Cyrillic address and TLD
        "j\u0430ne.doe@ex\u0430mple.com",  # Cyrillic a in a Latin address (a lookalike)
        "jane.doe@example.c\u043em",  # Cyrillic o in the TLD
        "jo\u0308rg@example.com",  # decomposed umlaut (o + combining diaeresis)
    ],
)
def test_unicode_addresses_are_found(address: str) -> None:
    text = f"Contact {address} for details."
    assert [(f.kind, text[f.start : f.end]) for f in detect(text)] == [("email", address)]


def test_cjk_prose_before_an_address_is_not_part_of_it() -> None:
    text = "请联系jane@example.com获取详情"
    assert redact(text, {}, key=KEY).text == "请联系[EMAIL]获取详情"


def test_subject_keys_come_from_the_normalised_value() -> None:
    clean = identify("jane.doe@example.com", KEY)
    for written in (f"jane{ZW}.doe@example.com", "jane.doe\uff20example.com", "JANE.DOE@EXAMPLE.COM",
                    "\uff4a\uff41\uff4e\uff45.doe@example.com"):
        assert identify(written, KEY) == clean, written
        assert subjects_in(f"write to {written} now", KEY) == {clean}, written
        assert redact(f"write to {written} now", {}, key=KEY).subjects == {clean}, written
    card = identify("4111 1111 1111 1111", KEY)
    assert subjects_in(f"card 4111{ZW}1111{ZW}1111{ZW}1111", KEY) == {card}
    assert identify("jane@bücher.de", KEY) == identify("JANE@xn--bcher-kva.de", KEY)


def test_hash_tokens_ignore_the_obfuscation() -> None:
    plain = redact("jane.doe@example.com", {"email": "hash"}, key=KEY).text
    assert redact(f"jane{ZW}.doe\uff20example.com", {"email": "hash"}, key=KEY).text == plain


def test_redaction_stays_idempotent_on_obfuscated_text() -> None:
    text = f"jane{ZW}.doe@example.com, card 4111{ZW}1111{ZW}1111{ZW}1111, SSN 536-22-8741"
    once = redact(text, {"email": "hash"}, key=KEY)
    assert redact(once.text, {"email": "hash"}, key=KEY).text == once.text
    assert detect(once.text) == []


def event(**fields: object) -> DocumentEvent:
    base: dict[str, object] = {
        "op": "upsert", "tenant": "acme", "document_id": "acme:crm/notes.md", "version": 1,
        "text": "Nothing personal here.", "jurisdiction": "EU", "region": "eu-central",
        "source_uri": "file:///data/crm/notes.md", "source_root": "file:///data/crm"}
    return DocumentEvent.new(**(base | fields))  # type: ignore[arg-type]


def test_metadata_keys_and_values_are_redacted() -> None:
    ev = event(metadata={"owner": "jane.doe@example.com", "ssn": "536-22-8741", "jane@example.com": "x",
                         "city": "Berlin"})
    out = apply_privacy(ev, PrivacyPolicy(), b"secret")
    flat = repr(out.metadata)
    assert "jane" not in flat and "8741" not in flat, flat
    assert out.metadata["city"] == "Berlin" and out.metadata["owner"] == "[EMAIL]"
    assert out.pii == {"email": 2, "national_id": 1}
    key = tenant_key(b"secret", "acme")
    assert {identify("jane.doe@example.com", key), identify("536-22-8741", key)} <= set(out.subjects)
    assert apply_privacy(out, PrivacyPolicy(), b"secret") == out  # idempotent


@pytest.mark.parametrize("mode", ["mask", "hash", "keep", "drop"])
def test_document_ids_and_source_uris_are_hashed_whatever_the_policy(mode: str) -> None:
    ev = event(document_id="acme:crm/jane.doe@example.com.md#536-22-8741",
               source_uri="file:///data/crm/jane.doe%40example.com.md#536-22-8741")
    policy = PrivacyPolicy(default={"email": mode, "national_id": mode})
    out = apply_privacy(ev, policy, b"secret")
    for value in (out.document_id, out.source_uri):
        assert "jane" not in value and "8741" not in value, value
        assert "[EMAIL:" in value or "%5BEMAIL" in value, value
    # Deterministic: the same id under the same tenant key, so reruns find their documents.
    assert apply_privacy(ev, policy, b"secret").document_id == out.document_id
    assert apply_privacy(ev, policy, b"other").document_id != out.document_id
    key = tenant_key(b"secret", "acme")
    assert identify("jane.doe@example.com", key) in out.subjects
    assert apply_privacy(out, policy, b"secret") == out


def test_a_delete_event_keeps_the_id_it_names() -> None:
    # Deletes name documents by the ids the lake holds; one written before ids were
    # redacted is deleted under its own id, not turned into a delete of its successor.
    delete = DocumentEvent.new(op="delete", tenant="acme", document_id="acme:crm/jane.doe@example.com.md",
                               version=2, jurisdiction="EU", region="eu-central",
                               source_uri="file:///data/crm/jane.doe%40example.com.md", source_root="file:///data/crm")
    assert apply_privacy(delete, PrivacyPolicy(), b"secret") == delete


def test_the_invisible_class_is_every_format_character() -> None:
    from governance.pii import IGNORABLE

    missing = [f"U+{c:04X}" for c in range(sys.maxunicode + 1)
               if unicodedata.category(chr(c)) == "Cf" and not IGNORABLE.fullmatch(chr(c))]
    assert missing == []
