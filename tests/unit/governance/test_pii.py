from __future__ import annotations

import itertools
import re

import pytest

from benchmarks.pii_eval import evaluate, load
from governance.pii import PII_KINDS, DropDocument, Finding, detect, identify, redact

KEY = b"tenant-a-secret"


def found(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in detect(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Please send the contract to anna.schmidt@example.de by Friday.", "email", "anna.schmidt@example.de"),
        ("Rufen Sie uns an unter +49 89 1234 5678.", "phone", "+49 89 1234 5678"),
        ("Our Austin office: +1 (512) 555-0147, Mon–Fri.", "phone", "+1 (512) 555-0147"),
        ("Call (512) 555-0147 to reschedule.", "phone", "(512) 555-0147"),
        ("Mobile 512-555-0147", "phone", "512-555-0147"),
        ("512.555.0147 is the after-hours line.", "phone", "512.555.0147"),
        ("Aus dem Ausland: 0049 89 1234 5678", "phone", "0049 89 1234 5678"),
        ("Handy: 0151 23456789, bitte nur abends.", "phone", "0151 23456789"),
        ("Telefon: 089 1234567", "phone", "089 1234567"),
        ("Bitte überweisen Sie auf DE89 3704 0044 0532 0130 00.", "iban", "DE89 3704 0044 0532 0130 00"),
        ("IBAN: DE89370400440532013000", "iban", "DE89370400440532013000"),
        ("Payee GB29 NWBK 6016 1331 9268 19, ref INV-88231.", "iban", "GB29 NWBK 6016 1331 9268 19"),
        ("Card on file: 4111 1111 1111 1111, exp 12/28.", "card", "4111 1111 1111 1111"),
        ("Amex 3782 822463 10005", "card", "3782 822463 10005"),
        ("Charged 4012-8888-8888-1881 for €1,250.00.", "card", "4012-8888-8888-1881"),
        ("Login from 203.0.113.47 was blocked.", "ip", "203.0.113.47"),
        ("IPv6 client 2001:db8::1 connected.", "ip", "2001:db8::1"),
        ("SSN 536-22-8741 on the W-4 form.", "national_id", "536-22-8741"),
        ("NI no. AB 12 34 56 C", "national_id", "AB 12 34 56 C"),
        ("National Insurance number: JG103759A", "national_id", "JG103759A"),
        ("Steuer-IdNr.: 86095742719", "national_id", "86095742719"),
        ("German tax id: 17483378874", "national_id", "17483378874"),
    ],
)
def test_each_kind_is_found_in_a_sentence(text: str, kind: str, value: str) -> None:
    assert found(text) == [(kind, value)]


@pytest.mark.parametrize(
    "text",
    [
        # dates and times
        "The release shipped on 2026-03-14 after a two-day delay.",
        "Lieferung am 14.03.2026 zwischen 08:00 und 12:00 Uhr.",
        "Invoice dated 03/14/2026 is overdue.",
        "Timestamp 2026-03-14T09:30:15Z, window ends 2026-03-14T17:30:00+01:00.",
        # ids with letter prefixes
        "Order ORD-2026-004512 was split; see INV-88231, TICKET-1042 and RMA-2026-0042.",
        "Order 0049 1234 5678 9012 was cancelled.",
        # versions
        "Upgrade to v2.14.3, then 2.14.3 hotfix; Windows build 10.0.19045.2006.",
        "Firmware 3.10.2.1 fixes the charging bug.",
        # amounts, plain numbers, postal codes
        "Total due: €1,250.00 including VAT; budget 12,500 USD.",
        "Stock level 48213 units at DC Leipzig, 80331 München, CA 94105-1234.",
        # serials and SKUs
        "Serial number SN 4821-7730-1192 failed; device S/N 2024 0815 3377 was returned.",
        "SKU 100-2345-67 and ISBN 978-3-16-148410-0 are back in stock.",
        # number shapes that fail a checksum or a format rule
        "Order 4111 1111 1111 1112 shipped yesterday.",
        "IMEI 490154203237518 registered to the scanner.",
        "The fixture DE00 3704 0044 0532 0130 00 must be rejected.",
        "SSN 000-12-3456, 666-12-3456 and 912-34-5678 are not valid.",
        "Example NINO QQ 12 34 56 C from the HMRC guide.",
        "Kundennummer 86095742719 bitte angeben.",
        "Upload logo@2x.png; MAC 00:1A:2B:3C:4D:5E; 12:30:45 UTC.",
    ],
)
def test_hard_negatives_are_not_detected(text: str) -> None:
    assert found(text) == []


def test_iban_checksum_decides() -> None:
    assert found("DE89370400440532013000") == [("iban", "DE89370400440532013000")]
    assert found("DE00370400440532013000") == []
    assert found("DE89370400440532013001") == []
    assert found("cut short: DE89 3704 0044 0532 0130") == []


def test_an_iban_wins_over_the_phone_and_card_shapes_inside_it() -> None:
    # "0044 0532 0130 00" inside it looks like an international number on its own.
    assert found("Konto DE89 3704 0044 0532 0130 00") == [("iban", "DE89 3704 0044 0532 0130 00")]
    assert found("Konto DE00 3704 0044 0532 0130 00") == []


def test_luhn_decides_for_cards() -> None:
    assert found("paid with 4111 1111 1111 1111") == [("card", "4111 1111 1111 1111")]
    assert found("paid with 4111 1111 1111 1112") == []
    assert found("reference 8800 1234 5678 9012") == []


def test_steuer_id_needs_context_and_check_digit() -> None:
    assert found("Steuer-IdNr.: 86095742719") == [("national_id", "86095742719")]
    assert found("Artikel 86095742719 im Lager") == []
    assert found("Steuer-IdNr.: 86095742718") == []


def test_findings_are_sorted_and_do_not_overlap() -> None:
    text = "IBAN DE89 3704 0044 0532 0130 00, mail eva@example.de, tel +49 30 2345 6789, ip 192.0.2.10"
    findings = detect(text)
    assert [f.kind for f in findings] == ["iban", "email", "phone", "ip"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(findings))
    assert findings[0] == Finding("iban", 5, 32)


TEXT = "Mail anna@example.de or ANNA@EXAMPLE.DE, call +49 89 1234 5678, pay to DE89 3704 0044 0532 0130 00."


def test_mask_is_the_default_for_kinds_not_in_modes() -> None:
    result = redact(TEXT, {}, key=KEY)
    assert result.text == "Mail [EMAIL] or [EMAIL], call [PHONE], pay to [IBAN]."
    assert result.counts == {"email": 2, "phone": 1, "iban": 1}


def test_hash_gives_one_token_per_value_and_key() -> None:
    result = redact(TEXT, {"email": "hash"}, key=KEY)
    tokens = re.findall(r"\[EMAIL:[0-9a-f]{12}\]", result.text)
    assert len(tokens) == 2
    assert tokens[0] == tokens[1]  # the email is normalised to lower case before hashing
    assert redact(TEXT, {"email": "hash"}, key=KEY).text == result.text
    other = redact(TEXT, {"email": "hash"}, key=b"tenant-b-secret")
    assert re.findall(r"\[EMAIL:[0-9a-f]{12}\]", other.text)[0] != tokens[0]


def test_hash_ignores_spacing_of_an_iban() -> None:
    spaced = redact("DE89 3704 0044 0532 0130 00", {"iban": "hash"}, key=KEY).text
    compact = redact("DE89370400440532013000", {"iban": "hash"}, key=KEY).text
    assert spaced == compact
    assert spaced.startswith("[IBAN:")


def test_keep_leaves_the_value_and_does_not_count_it() -> None:
    result = redact(TEXT, {"email": "keep", "phone": "hash"}, key=KEY)
    assert "anna@example.de" in result.text
    assert "[PHONE:" in result.text
    assert result.counts == {"phone": 1, "iban": 1}


def test_drop_raises_and_names_kinds_and_counts_but_not_values() -> None:
    with pytest.raises(DropDocument) as info:
        redact(TEXT, {"iban": "drop", "email": "drop"}, key=KEY)
    message = str(info.value)
    assert "iban x1" in message
    assert "email x2" in message
    assert "DE89" not in message
    assert "anna" not in message
    assert info.value.counts == {"iban": 1, "email": 2}


def test_drop_does_nothing_when_the_kind_is_absent() -> None:
    assert redact("no card here", {"card": "drop"}, key=KEY).text == "no card here"


def test_redacted_text_contains_no_detected_value() -> None:
    for row in load():
        text = row["text"]
        values = [text[f.start : f.end] for f in detect(text)]
        for mode in ("mask", "hash"):
            redacted = redact(text, dict.fromkeys(PII_KINDS, mode), key=KEY)
            assert all(v not in redacted.text for v in values), text
            assert detect(redacted.text) == []
            assert sum(redacted.counts.values()) == len(values)


@pytest.mark.parametrize(
    ("modes", "key"),
    [({"emails": "mask"}, KEY), ({"email": "remove"}, KEY), ({"email": "hash"}, b"")],
)
def test_bad_modes_are_rejected(modes: dict[str, str], key: bytes) -> None:
    with pytest.raises(ValueError):
        redact(TEXT, modes, key=key)


def test_labelled_set_meets_precision_and_recall() -> None:
    rows = load()
    assert len(rows) >= 150
    precision, recall, _, _ = evaluate(rows).figures()
    assert precision >= 0.95
    assert recall >= 0.90


def test_subject_keys_name_people_not_values_and_match_the_identifier_given_alone() -> None:
    text = "Contact Ana.Ruiz@Example.com or call +49 89 1234567; server 10.0.0.7."
    red = redact(text, {}, key=b"k1")
    assert len(red.subjects) == 2  # the address and the phone; an IP names no one
    assert identify("ana.ruiz@example.com", b"k1") in red.subjects
    assert identify(" +49 89 1234567 ", b"k1") in red.subjects
    assert all("ana" not in s and "1234567" not in s for s in red.subjects)
    assert identify("ana.ruiz@example.com", b"k2") not in red.subjects  # keys differ per tenant
    assert not redact(text, {}, key=b"").subjects  # no key, no index


@pytest.mark.parametrize("given", ["Ana Ruiz", "ana.ruiz@example.com and bo@example.com", ""])
def test_identify_refuses_anything_but_one_identifier(given: str) -> None:
    with pytest.raises(ValueError, match="not one identifier"):
        identify(given, b"k")
