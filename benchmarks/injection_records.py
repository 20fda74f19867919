"""Short ordinary records for the screener's learned model (`benchmarks/injection_train.py`).

    python -m benchmarks.injection_records      # write benchmarks/data/injection/records_*.jsonl

The ordinary negatives were passages of 60-110 words. Short records (a ticket, a log line, a
note under a heading, a CRM entry) were missing, so a heading with a number and one sentence
looked more like the short attack lines than like anything ordinary: 220 of 300 inventory notes
("# Note 122 / Inventory note 122 about bins ...") were quarantined. Two sets, from templates
and words that do not overlap: `records_train` is trained on; `records_check` only helps choose
the threshold (as ordinary texts never trained on). The records that found the problem
(`PROBES`, by hand on the README's defaults) are in neither: they only measure.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "injection"
PER_TEMPLATE = 25

TRAIN = (
    "# Request {n}\nThe user reports that the {thing} in {place} stopped working after the update on {day}.",
    "## Case {n}\nCaller wants to know if shipment {n2} can ship to the {place} office before {day}.",
    "Job {n}: printer on floor {k} jams on duplex jobs; replaced the roller and closed.",
    "# Stock count {n}\nCounted {n2} units of {thing} in aisle {k}; the system shows {n3}, variance logged.",
    "## Stock move {n}\n{n2} cartons of {thing} moved from the {place} warehouse to bay {k}.",
    "Shift {k} log: reach truck {n} charged, dock {k} cleared, {n2} pallets wrapped before {day}.",
    "# Meeting {n}\nAttendees agreed to move the {thing} review to {day}; {person} owns the follow-up.",
    "## Minutes {day}\n{person} presented the Q{k} numbers; the team asked for the {thing} forecast by {day}.",
    "Action item {n}: {person} to send the revised {thing} quote to the {place} account by {day}.",
    "# Invoice {n}\nSupplier {n2} billed {n3} EUR for {thing}; matched to purchase order {n4}.",
    "Payment {n} of {n2} USD to vendor {n3} was approved by {person} on {day}.",
    "## Expense {n}\nTaxi from the {place} office to the airport, {n2} EUR, receipt attached.",
    "# Incident {n}\nThe {thing} service returned errors for {n2} minutes; root cause was a full disk on node {k}.",
    "Alert {n}: CPU on host {k} above {n2}% for ten minutes; scaled out and the alert cleared.",
    "## Change {n}\nUpgrade the {thing} cluster to version {k}.{n2} during the {day} maintenance window.",
    "Commit {n}: fix rounding in the {thing} report; add a test for totals over {n2}.",
    "# Release {k}.{n2}\nAdds export to CSV for the {thing} page and fixes the date filter.",
    "Build {n} passed in {n2} seconds; {n3} tests ran, none skipped.",
    "# Employee {n}\n{person} joins the {place} team on {day}; laptop and badge requested.",
    "## Leave request {n}\n{person} asks for {k} days of annual leave starting {day}; manager approved.",
    "Training {n}: {person} completed the {thing} safety course with a score of {n2}.",
    "# Shipment {n}\nTracking {n2}: {k} parcels of {thing} left the {place} hub on {day}.",
    "Delivery {n} to customer {n2} was signed for by {person} at {k} pm.",
    "## Return {n}\nCustomer returned {k} units of {thing}; refund {n2} EUR issued to the original card.",
    "# Lead {n}\n{person} from the {place} branch wants a demo of {thing} in week {k}.",
    "Opportunity {n}: renewal worth {n2} EUR, decision expected on {day}; next call with {person}.",
    "## Contact log {n}\nSpoke with {person}; they prefer e-mail and will confirm the {thing} order by {day}.",
    "# Maintenance {n}\nReplaced the filter on {thing} {k}; next service due after {n2} operating hours.",
    "Work order {n}: inspect the conveyor in {place}, belt tension {n2} N, within tolerance.",
    "## Calibration {n}\nScale {k} in the {place} lab calibrated on {day}; deviation {n2} grams.",
    "# Booking {n}\nRoom {k} is reserved for the {thing} workshop on {day} from 9 to 12.",
    "Reminder {n}: the {thing} audit starts on {day}; bring the binder from cabinet {k}.",
    "## FAQ {n}\nHow do I reset the {thing} password? Use the self-service portal and your badge number.",
    "# Policy {n}\nVisitors to the {place} site sign in at reception and wear a badge at all times.",
    "Survey {n}: {n2} of {n3} staff rated the {thing} rollout good or very good.",
    "# Sample {n}\nBatch {n2} of {thing} tested on {day}: moisture {k}%, within specification.",
)

CHECK = (
    "# Order {n}\nPatron {n2} picked up the reserved {item} at the {shop} counter on {day}.",
    "## Lab result {n}\nSpecimen {n2} from ward {k}: values within the reference range, filed by {staff}.",
    "Appointment {n}: {staff} moved the {item} fitting to {day} at {k} o'clock.",
    "# Docket {n}\nMatter {n2}: the hearing on the {item} lease is set for {day} in courtroom {k}.",
    "Reading {n}: meter {n2} at the {shop} store shows {n3} kWh for the month.",
    "## Route {n}\nBus {k} skipped stop {n2} on {day} because of roadworks near the {shop}.",
    "# Harvest {n}\nField {k} gave {n2} kg of {item}; the crates went to cold room {k}.",
    "Loan {n}: {item} returned to the {shop} branch {k} days late; fee waived by {staff}.",
    "## Repair {n}\nThe {item} at desk {k} had a loose cable; {staff} fixed it in {n2} minutes.",
    "# Course {n}\n{n2} students enrolled in the {item} module; exam on {day} in hall {k}.",
    "Donation {n}: {n2} EUR received from donor {n3} for the {item} appeal.",
    "## Menu {day}\nSoup {k}, the {item} special, and fruit; {n2} portions ordered.",
    "# Permit {n}\nApplication {n2} for the {item} stall at the {shop} market was granted on {day}.",
    "Sensor {n} in greenhouse {k} logged {n2} percent humidity at dawn.",
    "## Claim {n}\nPolicy {n2}: damage to the {item} reported on {day}; adjuster {staff} assigned.",
    "# Recipe {n}\nMix {n2} g of flour with the {item} and bake at {n3} degrees for {k}0 minutes.",
    "Vote {n}: the board approved the {item} budget of {n2} EUR, {k} members in favour.",
    "## Parcel {n}\nCollected by {staff} from locker {k} at the {shop} station on {day}.",
)

# Found by hand (the first two were quarantined 220 and 204 times in 300 by ngram-lr-1).
PROBES = (
    "# Note {n}\nInventory note {n} about bins and forklifts in zone {k}.",
    "## Ticket {n}\nCustomer {n} asked about the delivery window for order {k} next week.",
    "# Shift log {n}\nDriver {k} moved pallet {n} from dock {k} to rack {n} before noon.",
    "# Meeting {n}\nNotes from meeting {n}: budget line {k} was approved by the finance team.",
    "Note: invoice {n} for supplier {k} is due on the 14th; please file it under accounts payable.",
)

WORDS = {
    "thing": ("scanner", "payroll export", "VPN client", "label printer", "pallet jack", "badge reader", "CRM sync",
              "barcode gun", "HVAC unit", "price list", "dashboard", "router"),
    "place": ("Lyon", "north", "Rotterdam", "main", "Graz", "east", "Leeds", "harbour", "Turin", "south"),
    "person": ("Anna Weber", "Tom Okafor", "Priya Nair", "Luis Gomez", "Mei Chen", "Jonas Berg", "Sara Rossi"),
    "day": ("Monday", "Tuesday", "3 March", "Friday", "the 14th", "next Wednesday", "12 June", "Thursday"),
    "item": ("bicycle", "atlas", "coat", "tablet", "violin", "microscope", "tent", "projector", "kettle"),
    "shop": ("corner", "central", "riverside", "old town", "airport", "campus", "market square"),
    "staff": ("Dr Ines Mora", "K. Larsen", "nurse Ade", "clerk Yusuf", "R. Novak", "Ms Tanaka", "B. Olsen"),
}


def records(templates: tuple[str, ...], seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for template in templates:
        for _ in range(PER_TEMPLATE):
            out.append(template.format(
                n=rng.randint(1, 99_999), n2=rng.randint(1, 9_999), n3=rng.randint(1, 9_999),
                n4=rng.randint(100_000, 999_999), k=rng.randint(1, 9),
                **{key: rng.choice(words) for key, words in WORDS.items()}))
    return out


def probes(per: int = 300, seed: int = 1) -> dict[str, list[str]]:
    """Each probe template, filled `per` times with numbers."""
    rng = random.Random(seed)
    return {t: [t.format(n=rng.randint(1, 999), k=rng.randint(1, 9)) for _ in range(per)] for t in PROBES}


def main() -> None:
    for name, templates, seed in (("records_train.jsonl", TRAIN, 1), ("records_check.jsonl", CHECK, 2)):
        path = OUT / name
        path.write_text("".join(json.dumps({"text": t}) + "\n" for t in records(templates, seed)), encoding="utf-8")
        print(f"wrote {path} ({len(templates) * PER_TEMPLATE} records)")


if __name__ == "__main__":
    main()
