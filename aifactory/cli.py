"""The `aifactory` command line: the parser and the way a command ends.

    aifactory run [PATH ...]      ingest, drive every stage until searchable, stop
    aifactory ingest PATH ...     publish document events and land them in the raw lake
    aifactory status              counts per stage and tenant
    aifactory search TEXT         --tenant T [--top-k K] [--mode hybrid|dense]
    aifactory replay              rebuild chunks and the index from the raw lake
    aifactory dlq list|replay     what failed and why; send it through again after a fix
    aifactory index               make the index equal to the chunks lake (idempotent, safe to kill)
    aifactory eval                retrieval evaluation: nDCG@10, recall@100, MRR, identifier hits, every mode
    aifactory usage [report]      metered usage per tenant; showback/chargeback report
    aifactory reindex --model M   build the collections of another model, then switch with no downtime
    aifactory delete --tenant T   --document ID | --subject EMAIL | --all-documents
    aifactory erase --tenant T    --subject EMAIL | --document ID: from every projection, with a receipt
    aifactory serve               the vector API (HTTP) for RAG applications
    aifactory keys create|update|revoke|list   API keys per tenant: role, regions, scopes, expiry
    aifactory audit verify        check the hash chain of the audit log
    aifactory lineage trace ID    a document or point, back to its source and forward (--format html)
    aifactory residency report    where each tenant's data is, per sink and region, and violations
    aifactory repair [--dry-run]  fold lake rows stored twice (a key in two part files, left by an older version)
    aifactory up                  the whole embedded factory as supervised services; commands become its clients
    aifactory worker KIND         one service alone: transform, land or index

This module imports only the standard library and light modules: `--help` and a
mistyped option answer at once. The commands (commands.py) are imported to run.
Exit codes: 0 done, 1 a check failed or an unexpected error, 2 a usage error
(what was wrong and what to do, never a traceback), 130 interrupted, 141 the reader of the
output went away (`| head`).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from aifactory.remote import CARRIED, carried_out
from governance.keys import OPERATIONS
from governance.names import NAME_PATTERN
from vectorstore.filters import ALL_KEYS, RANGE_KEYS
from vectorstore.modes import DEFAULT_MODE, MODES

log = logging.getLogger("aifactory")

# Commands that only read what earlier runs left: in a folder with no data directory
# they say so instead of creating an empty one.
NEEDS_DATA = {"status", "search", "replay", "dlq", "index", "reindex", "delete", "erase", "serve", "usage", "tenant",
              "audit", "lineage", "residency", "repair", "quarantine"}


class Help(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written; every option's default shown where it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, [], argparse.SUPPRESS) and "%(default)" not in text \
                and action.option_strings:
            text += " (default: %(default)s)"
        return text


def filter_item(text: str) -> tuple[str, str, str]:
    """`--filter KEY=VALUE` (also !=, >=, >, <=, <), refused at parse time like any other bad option."""
    m = re.fullmatch(r"([a-z_]+)(!=|>=|<=|=|>|<)(.*)", text, re.DOTALL)
    if not m or not m.group(3):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (or KEY!=VALUE, KEY>=VALUE, ...), got {text!r} "
                                         f"(e.g. document_id=helio-eu:hr/x.md or page>=3)")
    key, op, value = m.groups()
    if key not in ALL_KEYS:
        raise argparse.ArgumentTypeError(f"unknown filter key {key!r}; filter on one of {', '.join(ALL_KEYS)}")
    if op in (">=", ">", "<=", "<") and key not in RANGE_KEYS:
        raise argparse.ArgumentTypeError(f"{text!r}: ranges apply to {', '.join(RANGE_KEYS)} only")
    return key, op, value


def tenant_name(text: str) -> str:
    """A tenant names lake folders: refused at parse time unless it is a plain name."""
    if not re.fullmatch(NAME_PATTERN, text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a tenant name: use letters, digits, '.', '_' and '-', "
                                         "starting with a letter or digit (at most 64)")
    return text


def whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be {least} or more, got {value}")
    return value


def positive(text: str) -> int:
    return whole_number(text, 1)


def non_negative(text: str) -> int:
    return whole_number(text, 0)


def examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="aifactory", formatter_class=Help,
        description="The AI factory data plane: files -> Kafka -> Parquet lake -> vector index, with lineage, "
                    "residency and metering.\nAll state lives in one data directory: ./.aifactory under the "
                    "current folder, or AIFACTORY_HOME.",
        epilog=examples("aifactory run                      # the bundled sample corpus, then a sample question",
                        "aifactory run docs/ --tenant acme --jurisdiction EU",
                        "aifactory search 'parental leave' --tenant acme",
                        "aifactory COMMAND --help           # each command's options and examples"))
    p.add_argument("-v", "--verbose", action="store_true", help="log every stage, and print tracebacks of "
                                                                "unexpected errors")
    p.add_argument("--no-wait", action="store_true",
                   help="when another command is writing to the data directory, fail at once naming it "
                        "(default: wait for it to finish, then go on)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, *example: str, json: bool = True) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".",
                            formatter_class=Help, epilog=examples(*example) if example else None)
        if json:
            sp.add_argument("--json", action="store_true", help="print the result as JSON (no progress lines)")
        return sp

    def owner(sp: argparse.ArgumentParser, *, required: bool = False) -> None:
        sp.add_argument("--tenant", type=tenant_name, required=required, help="the tenant the documents belong to")
        sp.add_argument("--jurisdiction", required=required,
                        help="the jurisdiction of the documents (EU, US, or one your residency policy names; "
                             "any case): it decides the region they are stored and indexed in")

    sp = command("run", "ingest PATHs (default: the bundled sample corpus) and make them searchable",
                 "aifactory run", "aifactory run docs/ --tenant acme --jurisdiction EU",
                 "aifactory run report.pdf notes.md --tenant acme --jurisdiction EU --ask 'what changed?'",
                 "aifactory run docs/ --tenant acme --jurisdiction EU --follow")
    sp.add_argument("paths", nargs="*", metavar="PATH", help="folders or files to ingest; with PATHs, "
                    "--tenant and --jurisdiction are required")
    owner(sp)
    sp.add_argument("--ask", metavar="QUESTION", help="a question to search for when the run is done")
    sp.add_argument("--follow", action="store_true",
                    help="keep running: rescan the sources when a file in them changes (and every --interval "
                         "seconds) and make what changed searchable, until Ctrl-C or SIGTERM")
    sp.add_argument("--interval", type=float, default=1.0, metavar="S",
                    help="with --follow, seconds between rescans when no change is seen: the fallback for "
                         "changes the file-system watcher misses, e.g. on network filesystems")

    sp = command("ingest", "publish PATHs as document events and land them in the raw lake",
                 "aifactory ingest docs/ --tenant acme --jurisdiction EU")
    sp.add_argument("paths", nargs="+", metavar="PATH", help="folders or files to ingest")
    owner(sp, required=True)

    command("status", "counts per stage and tenant: events, documents, chunks, points, dead letters",
            "aifactory status", "aifactory status --json")

    sp = command("search", "search the index for one tenant",
                 "aifactory search 'How long is parental leave?' --tenant helio-eu",
                 "aifactory search 'E-305' --tenant helio-eu --mode dense --top-k 3",
                 "aifactory search 'remote work' --tenant helio-eu --filter document_id=helio-eu:hr/remote-work.md",
                 "aifactory search 'leave' --tenant helio-eu --filter section=Leave --filter section=Benefits "
                 "--filter 'event_time>=2026-01-01' --offset 5")
    sp.add_argument("text", help="the question or keywords")
    sp.add_argument("--tenant", type=tenant_name, required=True, help="whose documents to search")
    sp.add_argument("--top-k", type=positive, default=5, metavar="K", help="how many hits")
    sp.add_argument("--offset", type=non_negative, default=0, metavar="N",
                    help="skip the first N hits (the next page: --offset 5 after --top-k 5)")
    sp.add_argument("--score-threshold", type=float, default=None, metavar="S",
                    help="leave out hits scoring under S (in the mode's score: cosine, bm25 or rrf)")
    sp.add_argument("--mode", choices=MODES, default=DEFAULT_MODE,
                    help="hybrid: dense vectors plus BM25 keywords fused by reciprocal rank, exact identifiers "
                         "first (best on our evaluations); dense: vectors only; keyword: BM25 only")
    sp.add_argument("--filter", action="append", type=filter_item, default=[], metavar="KEY=VALUE",
                    help="repeatable: KEY=VALUE must match (a key given twice: any of the values), KEY!=VALUE "
                         f"must not; KEY>=V, >, <=, < for a range on {', '.join(RANGE_KEYS)} (dates as "
                         f"2026-01-31); keys: {', '.join(ALL_KEYS)}")
    sp.add_argument("--include-quarantined", action="store_true",
                    help="also return chunks quarantined for suspected prompt injection")

    sp = command("quarantine", "review what the screener quarantined as suspected prompt injection: list it, "
                               "release a chunk it got wrong (searchable again), or hold a released one again",
                 "aifactory quarantine list --tenant helio-eu",
                 "aifactory quarantine release CHUNK_ID --tenant helio-eu --reason 'a credit note, not an attack'",
                 "aifactory quarantine hold CHUNK_ID --tenant helio-eu --reason 'released by mistake'")
    sp.add_argument("action", choices=["list", "release", "hold"], help="what to do")
    sp.add_argument("chunk_ids", nargs="*", metavar="CHUNK_ID", help="release, hold: chunk ids, as `list` shows them")
    sp.add_argument("--tenant", type=tenant_name, required=True, help="whose chunks")
    sp.add_argument("--reason", help="release, hold: why (recorded with who decided, and audited)")

    sp = command("dlq", "the dead-letter store: list what failed and why, or replay it after a fix",
                 "aifactory dlq list", "aifactory dlq replay")
    sp.add_argument("action", choices=["list", "replay"], help="list the dead letters, or send them through again")
    sp.add_argument("--all", action="store_true", help="list resolved dead letters too")
    command("replay", "rebuild the chunks lake and the index from the raw lake", "aifactory replay")
    command("index", "make the index hold exactly what the chunks lake says (idempotent, safe to kill)",
            "aifactory index")
    sp = command("reindex", "build collections for another embedding model beside the old, then switch",
                 "aifactory reindex --model ./models/my-minilm --drop-old")
    sp.add_argument("--model", required=True, help="a local sentence-transformers model folder")
    sp.add_argument("--drop-old", action="store_true", help="remove the previous model's collections after the "
                                                            "switch")

    sp = command("delete", "delete documents on request: one, a data subject's, or a whole tenant's",
                 "aifactory delete --tenant helio-eu --document helio-eu:hr/remote-work.md",
                 "aifactory delete --tenant helio-eu --subject jane.doe@example.com")
    sp.add_argument("--tenant", type=tenant_name, required=True, help="whose documents")
    what = sp.add_mutually_exclusive_group(required=True)
    what.add_argument("--document", help="a document id, as search results and status show it")
    what.add_argument("--subject", help="an identifier of a data subject (e-mail, phone, IBAN, ...): every "
                                        "document naming it, found through the subject index")
    what.add_argument("--all-documents", action="store_true", help="every document of the tenant")

    sp = command("erase", "erase a data subject's or a document's data from every projection (lake, index, "
                          "dead letters, caches), with a receipt",
                 "aifactory erase --tenant helio-eu --subject jane.doe@example.com")
    sp.add_argument("--tenant", type=tenant_name, required=True, help="whose data")
    what = sp.add_mutually_exclusive_group(required=True)
    what.add_argument("--subject", help="an identifier of the data subject (e-mail, phone, IBAN, ...)")
    what.add_argument("--document", help="a document id, as search results and status show it")

    sp = command("serve", "the vector API (HTTP) for RAG applications", "aifactory serve",
                 "aifactory serve --host 0.0.0.0 --port 8080", "aifactory serve --openapi openapi.json",
                 json=False)
    sp.add_argument("--host", help="address to listen on (default 127.0.0.1, or AIFACTORY_API_HOST)")
    sp.add_argument("--port", type=positive, help="port (default 8000, or AIFACTORY_API_PORT)")
    sp.add_argument("--openapi", metavar="FILE", help="write the OpenAPI document to FILE and exit")
    sp.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (or AIFACTORY_API_TLS_CERT)")
    sp.add_argument("--tls-key", metavar="PEM", help="the certificate's private key (or AIFACTORY_API_TLS_KEY)")

    sp = command("keys", "API keys: create, update, revoke, list",
                 "aifactory keys create --tenant helio-eu --role reader --name chatbot",
                 "aifactory keys create --tenant helio-eu --role reader --scope search --expires 90d",
                 "aifactory keys create --tenant '*' --role admin   # the operator's usage key",
                 "aifactory keys update KEY_ID --role writer --expires 2027-06-30",
                 "aifactory keys list", "aifactory keys revoke KEY_ID")
    sp.add_argument("action", choices=["create", "update", "revoke", "list"], help="what to do")
    sp.add_argument("key_id", nargs="?", help="the key to update or revoke")
    sp.add_argument("--tenant", help="the tenant the key reads ('*' with --role admin: the operator's usage key)")
    sp.add_argument("--role", choices=["reader", "writer", "auditor", "admin"], help="what the key may do")
    sp.add_argument("--region", action="append", help="a region the key may read, repeatable (default: the "
                                                      "tenant's regions)")
    sp.add_argument("--name", help="a label, e.g. the application using the key")
    sp.add_argument("--scope", action="append", choices=list(OPERATIONS), metavar="OPERATION",
                    help=f"an operation the key may do, repeatable (default: all its role allows): "
                         f"{', '.join(OPERATIONS)}")
    sp.add_argument("--expires", metavar="WHEN", help="when the key stops working: a span (90d, 12h, 2w), a date "
                                                      "(2027-01-31) or `never` (the default)")

    sp = command("usage", "metered usage: embedding totals, a showback/chargeback report, or the ledger "
                 "reconciled with the lake, the index and the API's request log",
                 "aifactory usage", "aifactory usage report --period 2026-11 --format html --out usage.html",
                 "aifactory usage reconcile")
    sp.add_argument("action", nargs="?", choices=["totals", "report", "reconcile"], default="totals",
                    help="what to show")
    sp.add_argument("--period", default="all", help="YYYY-MM, YYYY-MM-DD, YYYY-Www or all")
    sp.add_argument("--tenant", help="one tenant only")
    sp.add_argument("--format", choices=["table", "csv", "json", "html"], default="table", help="report format")
    sp.add_argument("--price-book", help="price book YAML (default AIFACTORY_PRICE_BOOK, else the example "
                                         "prices); see the README's Metering section for its format")
    sp.add_argument("--out", help="write the report to this file")

    sp = command("audit", "verify the audit log; export it for an auditor, who verifies the export offline",
                 "aifactory audit verify", "aifactory audit export --out audit-2026-12.json",
                 "aifactory audit public-key   # give it to the auditor once",
                 "aifactory audit verify --export audit-2026-12.json --public-key HEX   # anywhere, no data needed")
    sp.add_argument("action", choices=["verify", "export", "public-key"], help="what to do")
    sp.add_argument("--out", help="export: the file to write")
    sp.add_argument("--export", metavar="FILE", help="verify: an export, checked offline (no data directory, "
                                                     "no audit key)")
    sp.add_argument("--public-key", metavar="HEX", help="verify --export: the operator's public key, from "
                                                        "`aifactory audit public-key`")
    sp = command("tenant", "a tenant's encryption keys (AIFACTORY_ENCRYPTION=on): rotate them, rewrap the old "
                 "data keys under the newest master key, reseal its data under the current data key, or shred "
                 "them all (offboarding)",
                 "aifactory tenant rotate-key --tenant helio-eu",
                 "aifactory tenant rewrap --tenant helio-eu",
                 "aifactory tenant reseal --tenant helio-eu   # after rotate-key: all data under the new key",
                 "aifactory tenant shred --tenant helio-eu --yes   # every copy of its text unreadable, for good")
    sp.add_argument("action", choices=["rotate-key", "rewrap", "reseal", "shred"], help="what to do")
    sp.add_argument("--tenant", type=tenant_name, required=True, help="whose keys")
    sp.add_argument("--yes", action="store_true", help="shred: yes, destroy the keys (it cannot be undone)")
    sp = command("lineage", "trace a document or point back to its source and forward, or draw the run-level "
                            "graph of datasets and jobs from the OpenLineage events",
                 "aifactory lineage trace helio-eu:hr/remote-work.md",
                 "aifactory lineage trace helio-eu:hr/remote-work.md --format html --out trace.html",
                 "aifactory lineage graph --format html --out lineage.html")
    sp.add_argument("action", choices=["trace", "graph"], help="what to do")
    sp.add_argument("id", nargs="?", help="trace: a document id or a point id")
    sp.add_argument("--tenant", help="only this tenant's data (default: any tenant)")
    sp.add_argument("--format", choices=["json", "html"], default="json", help="output format")
    sp.add_argument("--out", help="the HTML file to write")
    sp = command("residency", "where each tenant's data is, checked against the policy",
                 "aifactory residency report")
    sp.add_argument("action", choices=["report"], help="what to do")
    sp = command("repair", "fold lake rows whose key is stored twice (left by runs of an older version at once, "
                           "or a crash mid-compaction), when `aifactory status` warns of them",
                 "aifactory repair --dry-run", "aifactory repair", "aifactory repair --json")
    sp.add_argument("--dry-run", action="store_true", help="only report what a repair would fold; change nothing")
    sp = command("up", "start the whole embedded factory (broker, transform workers, landers, indexer, API) as "
                       "supervised services until Ctrl-C; commands run meanwhile are its clients",
                 "aifactory up", "aifactory up --workers 2 --landers 2 --port 8080", json=False)
    sp.add_argument("--workers", type=positive, default=1, metavar="N", help="transform workers (faust)")
    sp.add_argument("--landers", type=positive, default=1, metavar="N", help="land services")
    sp.add_argument("--no-api", action="store_true", help="do not start the vector API")
    sp.add_argument("--host", help="the API's address (default 127.0.0.1, or AIFACTORY_API_HOST)")
    sp.add_argument("--port", type=positive, help="the API's port (default 8000, or AIFACTORY_API_PORT)")
    sp = command("worker", "run one service of the factory alone, joining its broker (`aifactory up`'s, or "
                           "KAFKA_BOOTSTRAP_SERVERS): transform, land or index; start several to share the work",
                 "aifactory worker land", "KAFKA_BOOTSTRAP_SERVERS=kafka:9092 aifactory worker transform",
                 json=False)
    sp.add_argument("kind", choices=["transform", "land", "index"], help="which service")
    sp = command("eval", "retrieval evaluation through the real pipeline, every mode: a BEIR-format set and "
                         "a generated set of near-identical memos searched by their identifiers",
                 "aifactory eval --corpus scifact/corpus.jsonl --queries scifact/queries.jsonl "
                 "--qrels scifact/qrels/test.tsv", "aifactory eval --memos 40")
    sp.add_argument("--corpus", help="corpus.jsonl (_id, title, text)")
    sp.add_argument("--queries", help="queries.jsonl (_id, text)")
    sp.add_argument("--qrels", help="qrels TSV (query-id, corpus-id, score) with a header")
    sp.add_argument("--memos", type=non_negative, default=40, metavar="N",
                    help="near-identical memos in the generated identifier set (0: leave it out)")
    return p


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Mistakes that argparse cannot see alone, refused the same way (usage, exit 2)."""
    if args.command == "run":
        if args.paths and not (args.tenant and args.jurisdiction):
            p.error("run: with PATHs, pass --tenant and --jurisdiction (e.g. --tenant acme --jurisdiction EU)")
        if not args.paths and (args.tenant or args.jurisdiction):
            p.error("run: --tenant and --jurisdiction apply to PATHs; name the folders or files to ingest")
        if args.follow and args.ask:
            p.error("run: --ask answers after a one-shot run; leave it out with --follow")
    if args.command == "lineage" and args.action == "trace" and not args.id:
        p.error("lineage trace: name a document id or a point id (search results and `aifactory status` name them)")
    if args.command == "lineage" and args.action == "graph" and args.id:
        p.error(f"lineage graph: takes no id (got {args.id!r}); `lineage trace ID` follows one record")
    if args.command == "keys" and args.action in ("revoke", "update") and not args.key_id:
        p.error(f"keys {args.action}: name the key id (`aifactory keys list` shows them)")
    if args.command == "keys" and args.action == "update" and args.tenant:
        p.error("keys update: a key's tenant cannot change; make a key for the other tenant")
    missing = [path for path in getattr(args, "paths", []) if not Path(path).exists()]
    if missing:
        p.error(f"{args.command}: no such file or folder: {', '.join(missing)} (looked in {Path.cwd()})")
    if args.command == "quarantine":
        if args.action == "list" and (args.chunk_ids or args.reason):
            p.error("quarantine list: takes only --tenant (and --json); `release` and `hold` take chunk ids")
        if args.action != "list" and not args.chunk_ids:
            p.error(f"quarantine {args.action}: name the chunk ids (`aifactory quarantine list --tenant "
                    f"{args.tenant}` shows them)")
        if args.action != "list" and not (args.reason or "").strip():
            p.error(f"quarantine {args.action}: give --reason 'why': the review is recorded and audited")
    if args.command == "audit":
        if args.action == "export" and not args.out:
            p.error("audit export: name the file to write with --out FILE")
        if args.export and args.action != "verify":
            p.error("audit: --export FILE goes with `verify` (aifactory audit verify --export FILE)")
        if args.public_key and not args.export:
            p.error("audit: --public-key checks an export: pass --export FILE too")
        if args.export and not Path(args.export).is_file():
            p.error(f"audit verify: --export {args.export}: no such file")
    if args.command == "eval":
        given = [flag for flag in ("corpus", "queries", "qrels") if getattr(args, flag)]
        if given and len(given) < 3:
            p.error("eval: a BEIR set needs --corpus, --queries and --qrels together")
        if not given and not args.memos:
            p.error("eval: nothing to evaluate; give a BEIR set (--corpus, --queries, --qrels) or --memos N")
        for flag in given:
            if not Path(getattr(args, flag)).is_file():
                p.error(f"eval: --{flag} {getattr(args, flag)}: no such file")
    if args.command == "reindex" and not Path(args.model).is_dir():
        p.error(f"reindex: --model {args.model}: no such folder; pass a local sentence-transformers model folder")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`aifactory status | head -1`): stop quietly, as a shell tool
        # killed by SIGPIPE does, and keep Python from failing again on the final flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # SIGPIPE


def _main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    check_args(p, args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every connection and a cancelled fetch at shutdown as an error.
    logging.getLogger("kafka").setLevel(logging.WARNING if args.verbose else logging.CRITICAL)
    name = f"aifactory {args.command}"
    # FactorySettings' home, without importing it (it pulls in the lake): the same rule.
    home = Path(os.environ.get("AIFACTORY_HOME") or ".aifactory").expanduser().absolute()
    if args.command == "audit" and args.export:  # offline: no data directory, no audit key
        from aifactory.audit_offline import verify_offline

        return verify_offline(args)
    if args.command in NEEDS_DATA and not home.is_dir() and not getattr(args, "openapi", None):
        say(f"{name}: no data directory at {home}: nothing was ingested here. Run `aifactory run` in this folder "
            "first, run this command where you ran it, or set AIFACTORY_HOME to that data directory.")
        return 2
    if args.command == "status":
        from aifactory.ask import answer_status

        if answer_status(args, home):
            return 0
    if args.command == "search":
        from aifactory.ask import answer
        from vectorstore.owner_card import AskError

        try:
            if answer(args, home):
                return 0
        except AskError as exc:
            say(f"{name}: {exc}")
            return 2
    if args.command in CARRIED:
        from vectorstore.owner_card import OwnerUnreachable

        try:
            code = carried_out(args, home)
        except KeyboardInterrupt:
            say(f"\n{name}: interrupted; the running factory carries on with what it was sent")
            return 130
        except OwnerUnreachable as exc:
            say(f"{name}: {exc}; what it did is kept: run the command again")
            return 1
        if code is not None:
            return code
    interactive = not getattr(args, "json", False) and args.command not in ("serve",)
    started = time.perf_counter()
    long_work = interactive and (args.command in ("run", "ingest", "replay", "index", "reindex", "eval")
                                 or (args.command == "dlq" and args.action == "replay"))
    if long_work:
        # Before the imports, which take seconds on a cold start: the person sees it began.
        say(f"{name}: starting (data directory {home}); loading the pipeline (torch, DuckDB, Qdrant Edge)")
    factory: Any = None
    ctrl_c = CtrlC().__enter__()  # left in main's `finally`
    try:
        from aifactory import commands  # the heavy part: torch, DuckDB, the index (see the docstring)
        from aifactory.malloc import limit_arenas
        from ingest.errors import BrokerError
        from pipeline.factory import Factory
        from pipeline.progress import Progress
        from pipeline.settings import FactorySettings

        limit_arenas()  # before the threads start: see aifactory/malloc.py
        progress = Progress(interactive)
        progress.started = started
        if long_work:
            progress.stage("start", f"pipeline loaded in {time.perf_counter() - started:.1f} s")
        factory = Factory(FactorySettings(writer_wait=False) if args.no_wait else FactorySettings())
        try:
            commands.COMMANDS[args.command](args, factory, progress)
        except commands.USER_ERRORS as exc:
            if ctrl_c.seen:  # an error our code made of the interruption
                return interrupted(name)
            say(f"{name}: {exc}")
            if isinstance(exc, BrokerError) and argv is None:
                # A client call abandoned on the dead broker would print kafka-python's flush
                # timeout from its finaliser at interpreter exit: leave without finalisers.
                factory.close()
                sys.stderr.flush()
                sys.stdout.flush()
                os._exit(2)
            return 2
        finally:
            factory.close()
    except KeyboardInterrupt:
        return interrupted(name)
    except SystemExit:
        raise
    except ValueError as exc:
        if type(exc).__name__ != "ValidationError":  # pydantic's: a setting the person got wrong
            return unexpected(name, exc, home, verbose=args.verbose)
        say(f"{name}: {bad_setting(exc)}")
        return 2
    except BrokenPipeError:
        raise  # not a bug: main() ends quietly
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the person, the traceback kept in a file
        if ctrl_c.seen:  # a library's error made of the KeyboardInterrupt (DuckDB's, inside a query)
            return interrupted(name)
        return unexpected(name, exc, home, verbose=args.verbose)
    finally:
        ctrl_c.__exit__()
    return 0


# Where each settings class reads its variables (the others: AIFACTORY_<FIELD>).
SETTINGS_PREFIX = {"ApiSettings": "AIFACTORY_API_", "Limits": "AIFACTORY_LIMIT_", "KafkaSettings": ""}


def bad_setting(exc: Any) -> str:
    """pydantic's ValidationError as one line per wrong setting, named by its variable."""
    prefix = SETTINGS_PREFIX.get(getattr(exc, "title", ""), "AIFACTORY_")
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        var = field if field.isupper() else f"{prefix}{field.upper()}"
        message = str(error["msg"]).removeprefix("Value error, ").removeprefix(f"{var}: ")
        given = error.get("input")
        parts.append(f"{var}={given!r}: {message}" if field and isinstance(given, str) else message)
    return "; ".join(parts) + " (fix or unset the environment variable)"


def interrupted(name: str) -> int:
    say(f"\n{name}: interrupted; nothing acknowledged is lost, run it again to resume")
    return 130


class CtrlC:
    """Remembers a Ctrl-C during the command, then raises KeyboardInterrupt as Python does.
    DuckDB turns that into an error of its own when it lands inside a query (`RuntimeError:
    Query interrupted`, or `InvalidInputException` from a scan of a Python object), and
    our code may wrap either: whatever error follows a Ctrl-C is read as the interruption."""

    def __init__(self) -> None:
        self.seen = False
        self._installed = False

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._on_signal)
            self._installed = True
        return self

    def _on_signal(self, signum: int, frame: object) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False


def unexpected(name: str, exc: BaseException, home: Path, *, verbose: bool) -> int:
    text = "".join(traceback.format_exception(exc))
    folder = home / "logs" if home.is_dir() else Path(tempfile.gettempdir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "errors.log"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {name}\n{text}")
        where = f"the traceback is in {path}"
    except OSError:
        where = "rerun with -v for the traceback"
    if verbose:
        say(text)
    say(f"{name}: unexpected error: {type(exc).__name__}: {exc}\n{where}; please report it with that file")
    return 1


if __name__ == "__main__":
    sys.exit(main())
