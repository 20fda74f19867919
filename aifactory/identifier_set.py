"""A generated BEIR-format set of near-identical memos, each naming its own identifier.

Searching a code ("Codename-30960", an order number, a part number, a ticket id) must
find the one memo that holds it, although forty memos read almost the same. Half the
queries are the bare identifier, half a question around it; some write the identifier
with other separators or case than the memo ("inc-0012345" for "INC0012345"), as people
type them. Seeded, so a set of one size is the same set every time.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OPENINGS = ("Status update for", "Weekly note on", "Summary of the review of", "Update from the team behind")
MIDDLES = ("The team reviewed the milestone plan and the budget is on track.",
           "The milestone plan was reviewed; spending stays within the approved budget.",
           "Milestones were checked against the plan and the budget holds.")
ENDINGS = ("The next review is at the end of the quarter. Contact the project office for details.",
           "Next review: end of quarter. Questions go to the project office.",
           "The project office answers questions until the next quarterly review.")
QUESTIONS = ("What is the status of {}?", "Find the memo about {}", "{} budget and milestones",
             "Who do I contact about {}?")


def _identifier(rng: random.Random, n: int) -> tuple[str, str, str]:
    """(noun phrase, identifier as the memo writes it, identifier as a user types it)."""
    kind = n % 4
    if kind == 0:
        code = f"Codename-{rng.randrange(10_000, 99_999)}"
        return "project", code, code if rng.random() < 0.5 else code.replace("-", " ").lower()
    if kind == 1:
        code = f"{rng.randrange(1000, 9999)}-{rng.choice('ABCDEFGH')}{rng.choice('KLMNPRST')}/{rng.randrange(20, 27)}"
        return "purchase order", code, code if rng.random() < 0.5 else code.lower()
    if kind == 2:
        code = f"INC{rng.randrange(10**6, 10**7):07d}"
        return "incident", code, code if rng.random() < 0.5 else f"inc-{code[3:]}"
    code = f"PN {rng.randrange(10, 99)}-{rng.randrange(1000, 9999)}-{rng.choice('XYZ')}"
    return "part", code, code if rng.random() < 0.5 else code.replace(" ", "").lower()


def write(folder: Path, memos: int = 40, seed: int = 7) -> tuple[Path, Path, Path]:
    """Write corpus.jsonl, queries.jsonl and qrels.tsv of `memos` memos into `folder`."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for n in range(memos):
        noun, written, typed = _identifier(rng, n)
        doc = f"m{n:03d}"
        text = f"{rng.choice(OPENINGS)} {noun} {written}. {rng.choice(MIDDLES)} {rng.choice(ENDINGS)}"
        corpus.append({"_id": doc, "title": f"Memo on {noun} {written}", "text": text})
        question = typed if n % 2 == 0 else rng.choice(QUESTIONS).format(typed)
        queries.append({"_id": f"q{n:03d}", "text": question})
        qrels.append(f"q{n:03d}\t{doc}\t1")
    paths = folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels.tsv"
    paths[0].write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    paths[1].write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    paths[2].write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return paths
