"""The `aifactory` command line.

    aifactory run [PATH ...]      ingest, drive every stage until searchable, stop
    aifactory ingest PATH ...     publish document events and land them in the raw lake
    aifactory status              counts per stage and tenant
    aifactory search TEXT         --tenant T [--top-k K]
    aifactory replay              rebuild chunks and the index from the raw lake
    aifactory dlq list|replay     what failed and why; send it through again after a fix
    aifactory index               make the index equal to the chunks lake (idempotent, safe to kill)
    aifactory eval                BEIR evaluation: nDCG@10, recall@100, MRR for dense and hybrid
    aifactory usage               embedding metered per tenant (the usage ledger)
    aifactory reindex --model M   build the collections of another model, then switch with no downtime
    aifactory delete --tenant T   --document ID | --subject EMAIL | --all-documents
    aifactory erase --tenant T    --subject EMAIL | --document ID: from every projection, with a receipt
    aifactory serve               the vector API (HTTP) for RAG applications
    aifactory keys create|revoke|list   API keys per tenant, with a role and the regions they read
    aifactory usage report        showback/chargeback: --period, --tenant, --format table|csv|json|html
    aifactory audit verify        check the hash chain of the audit log
    aifactory lineage trace ID    a document or point, back to its source and forward (--format html)
    aifactory residency report    where each tenant's data is, per sink and region, and violations
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from aifactory import pipeline
from aifactory.deadletters import list_dead_letters, replay_dead_letters
from aifactory.deletes import DeleteRequest, delete
from aifactory.erasure import erase
from aifactory.evaluate import evaluate
from aifactory.factory import Factory
from aifactory.lineage import trace
from aifactory.lineage_html import render as lineage_page
from aifactory.malloc import limit_arenas
from aifactory.reindex import reindex
from aifactory.residency_report import report as residency_report
from aifactory.serve import ApiSettings, build, key_store, serve
from aifactory.settings import SAMPLE_SOURCES, FactorySettings, load_sources
from aifactory.status import status
from aifactory.usage_html import render as usage_html
from aifactory.usage_report import as_csv, as_table, usage
from aifactory.usage_report import as_json as usage_json
from governance.errors import GovernanceError
from governance.keys import ApiKeyError
from governance.pricing import load_price_book
from ingest.errors import BrokerError, IngestError
from ingest.sources import Source
from ingest.tables import RAW
from vectorstore.edge import IndexBusyError
from vectorstore.embedder import EmbedderError
from vectorstore.search import SearchError, search

log = logging.getLogger("aifactory")

SAMPLE_QUESTION = ("helio-eu", "How long is parental leave for employees in Germany?")
USER_ERRORS = (GovernanceError, IngestError, EmbedderError, SearchError, IndexBusyError, FileNotFoundError)


def sources_from_args(args: argparse.Namespace) -> list[Source]:
    if not args.paths:
        return load_sources(SAMPLE_SOURCES)
    if not args.tenant or not args.jurisdiction:
        raise SystemExit("aifactory: with PATHs, pass --tenant and --jurisdiction (e.g. --tenant acme "
                         "--jurisdiction EU)")
    return [Source(Path(p), args.tenant, args.jurisdiction) for p in args.paths]


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def format_results(question: str, results: list[Any]) -> str:
    if not results:
        return f"Q: {question}\nNo results: nothing indexed for this tenant matches."
    best = results[0]
    lines = [f"Q: {question}", "", f"A: {best.text.strip()[:700]}", "", "Sources:"]
    for r in results:
        lines.append(f"  [{r.rank}] {r.title} ({r.score:.3f})\n      {r.source_uri}")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace, factory: Factory) -> None:
    def counts(s: dict[str, Any]) -> str:
        return (f"{s['published']} events published ({s['unchanged']} unchanged, {s['deleted']} deletes, "
                f"{s['recovered']} recovered), {s['chunks_landed']} chunks, {s['dead_letters_landed']} dead letters, "
                f"{s['points_upserted']} points upserted, {s['points_deleted']} deleted")

    if args.follow:
        # Imported here: only `run --follow` needs the resident mode (no cycle: follow imports pipeline only).
        from aifactory.follow import did_something, follow_until_signalled

        if args.ask:
            raise SystemExit("aifactory run: --ask answers after a one-shot run; leave it out with --follow")
        sources = sources_from_args(args)
        cycles = 0

        def on_cycle(report: pipeline.RunReport) -> None:
            nonlocal cycles
            cycles += 1
            if cycles == 1 or did_something(report):  # the first cycle catches up: always say how it went
                s = report.summary()
                print(json.dumps({"cycle": cycles, "run": s}, default=str) if args.json else
                      f"cycle {cycles} in {s['seconds']['total']:.1f} s: {counts(s)}", flush=True)

        print(f"aifactory run --follow: {len(sources)} source(s), rescanned on change and every {args.interval:g} s; "
              "Ctrl-C or SIGTERM stops", file=sys.stderr, flush=True)
        follow_until_signalled(factory, sources, interval_s=args.interval, on_cycle=on_cycle,
                               on_error=lambda exc: print(f"aifactory run: cycle failed ({exc}); restarting the "
                                                          "worker and landers", file=sys.stderr, flush=True),
                               progress=not args.json)
        print(f"aifactory run: stopped after {cycles} cycle(s)", file=sys.stderr, flush=True)
        return
    report = pipeline.run(factory, sources_from_args(args), progress=not args.json)
    summary = report.summary()
    question = args.ask or (SAMPLE_QUESTION[1] if not args.paths else None)
    tenant = args.tenant or SAMPLE_QUESTION[0]
    results = search(factory.index, factory.embedder, question, tenant=tenant, top_k=3) if question else []
    text = [f"run done in {summary['seconds']['total']:.1f} s: {counts(summary)}"]
    if question:
        text += ["", format_results(question, results)]
    emit(args, {"run": summary, "question": question,
                "results": [r.__dict__ for r in results]}, "\n".join(text))


def cmd_ingest(args: argparse.Namespace, factory: Factory) -> None:
    report = pipeline.ingest_only(factory, sources_from_args(args)).summary()
    data = {k: report[k] for k in ("files", "published", "unchanged", "deleted", "raw_landed",
                                   "dead_letters_landed")}
    emit(args, data, ", ".join(f"{k}: {v}" for k, v in data.items())
         + "\nlanded in the raw lake; `aifactory run` chunks and indexes them")


def cmd_status(args: argparse.Namespace, factory: Factory) -> None:
    data = status(factory)
    rows = [f"{'tenant':<16}{'events':>8}{'docs':>7}{'chunks':>8}{'points':>8}{'dead':>6}"]
    for tenant, c in data["tenants"].items():
        rows.append(f"{tenant or '(none)':<16}{c['events']:>8}{c['documents']:>7}{c['current_chunks']:>8}"
                    f"{c['points']:>8}{c['dead_letters']:>6}")
    emit(args, data, f"home: {data['home']}\nmodel: {data['model']}\n" + "\n".join(rows))


def cmd_search(args: argparse.Namespace, factory: Factory) -> None:
    filters = dict(f.split("=", 1) for f in args.filter)
    results = search(factory.index, factory.embedder, args.text, tenant=args.tenant, top_k=args.top_k,
                     mode=args.mode, include_quarantined=args.include_quarantined, filters=filters)
    emit(args, [r.__dict__ for r in results], format_results(args.text, results))


def cmd_dlq(args: argparse.Namespace, factory: Factory) -> None:
    if args.action == "replay":
        report = replay_dead_letters(factory, progress=not args.json)
        still = list_dead_letters(factory)
        data = {"run": report.summary(), "still_open": len(still)}
        emit(args, data, f"replayed: {report.published} events published, {report.recovered} events retried, "
             f"{report.dead_letters_landed} new dead letters; {len(still)} still open")
        return
    rows = list_dead_letters(factory, include_resolved=args.all)
    lines = [f"{len(rows)} dead letter(s)" + ("" if args.all else " still open (--all for resolved ones too)")]
    for r in rows:
        state = "resolved" if r["resolved"] else "open"
        copy = f"\n    copy:   {r['original_uri']}" if r["original_uri"] else ""
        lines.append(f"- [{state}] {r['stage']} {r['tenant'] or '-'} {r['error_class']}: {r['reason']}\n"
                     f"    source: {r['source_uri']}{copy}")
    emit(args, rows, "\n".join(lines))


def cmd_reindex(args: argparse.Namespace, factory: Factory) -> None:
    report = reindex(factory, args.model, drop_old=args.drop_old, progress=not args.json)
    data = {"old_model": report.old_model, "new_model": report.new_model, "upserted": report.sync.upserted,
            "unchanged": report.sync.unchanged, "dropped": report.dropped}
    emit(args, data, f"searches now use {report.new_model} (was {report.old_model}); {report.sync.upserted} "
         f"points embedded" + (f"; dropped {', '.join(report.dropped)}" if report.dropped else ""))


def cmd_usage(args: argparse.Namespace, factory: Factory) -> None:
    if args.action == "report":
        book = load_price_book(Path(args.price_book) if args.price_book else factory.settings.price_book)
        data = usage(factory.ledger, book, args.period, tenant=args.tenant)
        render = {"table": as_table, "csv": as_csv, "json": usage_json, "html": usage_html}[args.format]
        text = render(data)
        if args.out:
            Path(args.out).write_text(text)
            print(f"wrote {args.out}")
        else:
            print(text)
        return
    totals = factory.ledger.totals()
    rows = [f"{'tenant':<16}{'texts':>8}{'tokens':>10}{'seconds':>9}  devices"]
    rows += [f"{t:<16}{v['texts']:>8}{v['tokens']:>10}{v['compute_seconds']:>9.1f}  {', '.join(v['devices'])}"
             for t, v in totals.items()]
    emit(args, totals, "embedding metered per tenant\n" + "\n".join(rows))


def cmd_audit(args: argparse.Namespace, factory: Factory) -> None:
    result = factory.audit.verify()
    emit(args, result.__dict__, f"audit log {factory.audit.path}: {result.entries} entries, "
         + ("chain intact" if result.ok else f"BROKEN: {result.problem}"))
    if not result.ok:
        raise SystemExit(1)


def cmd_lineage(args: argparse.Namespace, factory: Factory) -> None:
    found = trace(factory, args.tenant, args.id)
    if found is None:
        raise SearchError(f"no document or point {args.id!r}" + (f" for tenant {args.tenant}" if args.tenant else "")
                          + "; search results and `aifactory status` name ids")
    if args.format == "html":
        out = Path(args.out or f"lineage-{args.id.replace('/', '_').replace(':', '_')}.html")
        out.write_text(lineage_page(found))
        print(f"wrote {out}")
        return
    emit(args, found, json.dumps(found, indent=2, default=str))


def cmd_residency(args: argparse.Namespace, factory: Factory) -> None:
    data = residency_report(factory)
    rows = [f"{'tenant':<14}{'jurisdiction':<13}{'sink':<40}{'region':<12}{'count':>7}  ok"]
    for tenant, places in data["tenants"].items():
        rows += [f"{tenant:<14}{p['jurisdiction'] or '-':<13}{p['sink']:<40}{p['region']:<12}{p['count']:>7}  "
                 f"{'yes' if p['compliant'] else ('-' if p['compliant'] is None else 'NO')}" for p in places]
    rows.append(f"violations found: {len(data['violations_found'])}; refused at write: "
                f"{len(data['violations_refused'])}")
    emit(args, data, "\n".join(rows))


def cmd_eval(args: argparse.Namespace, factory: Factory) -> None:
    report = evaluate(factory.settings, Path(args.corpus), Path(args.queries), Path(args.qrels))
    lines = [f"{'mode':<8}{'nDCG@10':>9}{'recall@100':>12}{'MRR':>8}"]
    for mode in ("dense", "hybrid"):
        m = report[mode]
        lines.append(f"{mode:<8}{m['ndcg@10']:>9.3f}{m['recall@100']:>12.3f}{m['mrr']:>8.3f}")
    emit(args, report, "\n".join(lines) + f"\n{report['dense']['queries']} judged queries; index in {report['home']}")


def cmd_index(args: argparse.Namespace, factory: Factory) -> None:
    report = factory.sync_index(run_id=f"index-{uuid.uuid4().hex[:16]}", progress=not args.json)
    emit(args, report.__dict__, f"index: {report.upserted} upserted, {report.deleted} deleted, {report.repointed} "
         f"repointed, {report.unchanged} unchanged, {report.duplicates} duplicates folded")


def cmd_delete(args: argparse.Namespace, factory: Factory) -> None:
    request = DeleteRequest(args.tenant, document=args.document, subject=args.subject,
                            all_documents=args.all_documents)
    report = delete(factory, request)
    what = "no live document matched; nothing to delete" if not report.documents else \
        f"{len(report.documents)} document(s) deleted, {report.points_deleted} point(s) removed from the index"
    emit(args, report.__dict__, f"delete request {report.request_id}: {what}")


def cmd_erase(args: argparse.Namespace, factory: Factory) -> None:
    receipt = erase(factory, args.tenant, subject=args.subject, document=args.document)
    removed = receipt.removed
    emit(args, json.loads(receipt.to_json()) | {"receipt": receipt.path},
         f"erasure {receipt.request_id}: {len(receipt.documents)} document(s); "
         f"raw rows {sum(removed['raw lake rows'].values())}, chunk rows {sum(removed['chunk lake rows'].values())}, "
         f"dead letters {sum(removed['dead-letter rows'].values())} (+{len(removed['dead-letter bytes'])} kept "
         f"inputs), index points {removed['index points deleted by the pipeline']} "
         f"(+{sum(removed['index collections'].values())}), {len(removed['index collections'])} collection(s) "
         f"rebuilt\nreceipt: {receipt.path}")


def tenant_regions(factory: Factory, tenant: str) -> list[str]:
    con = factory.lake.connect(RAW)
    regions = [r[0] for r in con.execute("SELECT DISTINCT region FROM raw WHERE tenant = ?", [tenant]).fetchall()]
    con.close()
    return sorted(regions)


def cmd_keys(args: argparse.Namespace, factory: Factory) -> None:
    store = key_store(factory)
    if args.action == "create":
        if not args.tenant or not args.role:
            raise ApiKeyError("keys create needs --tenant T and --role reader|writer|auditor|admin")
        if args.tenant == "*" and args.role != "admin":
            raise ApiKeyError("tenant '*' is the operator's: only an admin key may have it")
        regions = args.region or (["*"] if args.tenant == "*" else tenant_regions(factory, args.tenant))
        key, token = store.create(args.tenant, args.role, regions, name=args.name or "")
        emit(args, {**key.public(), "token": token},
             f"key {key.key_id} for tenant {key.tenant}, role {key.role}, regions {', '.join(key.regions)}\n"
             f"{token}\nkeep it now: it is stored hashed and cannot be shown again")
    elif args.action == "revoke":
        if not args.key_id:
            raise ApiKeyError("keys revoke needs the key id (`aifactory keys list` shows them)")
        key = store.revoke(args.key_id)
        emit(args, key.public(), f"key {key.key_id} revoked at {key.revoked_at}")
    else:
        keys = store.list()
        rows = [f"{k.key_id}  {k.tenant:<14}{k.role:<8}{','.join(k.regions):<24}"
                f"{'revoked ' + k.revoked_at if k.revoked else 'active'}" for k in keys]
        emit(args, [k.public() for k in keys], "\n".join(rows) or "no keys yet; `aifactory keys create`")


def cmd_serve(args: argparse.Namespace, factory: Factory) -> None:
    settings = ApiSettings()
    if args.openapi:
        app, backend = build(factory, settings)
        backend.close()
        Path(args.openapi).write_text(json.dumps(app.openapi(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.openapi}")
        return
    settings = settings.model_copy(update={k: v for k, v in (("host", args.host), ("port", args.port)) if v})
    print(f"serving the vector API on http://{settings.host}:{settings.port} (docs at /docs); Ctrl-C stops it",
          flush=True)
    serve(factory, settings)


def cmd_replay(args: argparse.Namespace, factory: Factory) -> None:
    report = pipeline.replay(factory, progress=not args.json)
    emit(args, report.summary(), f"replayed {report.recovered} events from the raw lake: "
         f"{report.chunks_landed} chunks, {report.index.upserted if report.index else 0} points")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aifactory", description="The AI factory data plane.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress of every stage")
    sub = p.add_subparsers(dest="command", required=True)

    def with_json(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--json", action="store_true", help="print JSON")
        return sp

    for name, help_ in (("run", "ingest PATHs (default: the bundled sample corpus) and make them searchable"),
                        ("ingest", "publish PATHs as document events and land them in the raw lake")):
        sp = with_json(sub.add_parser(name, help=help_))
        sp.add_argument("paths", nargs="*" if name == "run" else "+", metavar="PATH")
        sp.add_argument("--tenant")
        sp.add_argument("--jurisdiction")
        if name == "run":
            sp.add_argument("--ask", help="a question to search for when the run is done")
            sp.add_argument("--follow", action="store_true",
                            help="keep running: rescan the sources when a file in them changes (and every "
                                 "--interval seconds) and make what changed searchable, until Ctrl-C or SIGTERM")
            sp.add_argument("--interval", type=float, default=1.0, metavar="S",
                            help="with --follow, seconds between rescans when no change is seen: the fallback "
                                 "for changes the file-system watcher misses, e.g. on network filesystems "
                                 "(default 1.0)")
    with_json(sub.add_parser("status", help="counts per stage and tenant"))
    sp = with_json(sub.add_parser("search", help="search the index for one tenant"))
    sp.add_argument("text")
    sp.add_argument("--tenant", required=True)
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--mode", choices=["dense", "hybrid"], default="dense",
                    help="dense vectors only, or dense plus BM25 fused by reciprocal rank")
    sp.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                    help="exact match on a payload field, e.g. --filter document_id=helio-eu:hr/remote-work.md")
    sp.add_argument("--include-quarantined", action="store_true",
                    help="also return chunks quarantined for suspected prompt injection")
    sp = with_json(sub.add_parser("dlq", help="the dead-letter store: list what failed, or replay it after a fix"))
    sp.add_argument("action", choices=["list", "replay"])
    sp.add_argument("--all", action="store_true", help="list resolved dead letters too")
    with_json(sub.add_parser("replay", help="rebuild chunks and the index from the raw lake"))
    with_json(sub.add_parser("index", help="make the index hold exactly what the chunks lake says (safe to kill)"))
    sp = with_json(sub.add_parser("reindex", help="build collections for another model beside the old, then switch"))
    sp.add_argument("--model", required=True, help="a local sentence-transformers model folder")
    sp.add_argument("--drop-old", action="store_true", help="remove the previous model's collections after the switch")
    sp = with_json(sub.add_parser("delete", help="delete documents on request: one, a data subject's, or a tenant's"))
    sp.add_argument("--tenant", required=True)
    sp.add_argument("--document", help="a document id, as search results and status show it")
    sp.add_argument("--subject", help="an identifier of a data subject (e-mail, phone, IBAN, ...): every "
                                      "document naming it, found through the subject index")
    sp.add_argument("--all-documents", action="store_true", help="every document of the tenant")
    sp = with_json(sub.add_parser("erase", help="erase a data subject's or a document's data from every "
                                                "projection (lake, index, dead letters, caches), with a receipt"))
    sp.add_argument("--tenant", required=True)
    what = sp.add_mutually_exclusive_group(required=True)
    what.add_argument("--subject", help="an identifier of the data subject (e-mail, phone, IBAN, ...)")
    what.add_argument("--document", help="a document id, as search results and status show it")
    sp = sub.add_parser("serve", help="the vector API (HTTP) for RAG applications")
    sp.add_argument("--host", help="address to listen on (default 127.0.0.1, AIFACTORY_API_HOST)")
    sp.add_argument("--port", type=int, help="port (default 8000, AIFACTORY_API_PORT)")
    sp.add_argument("--openapi", metavar="FILE", help="write the OpenAPI document to FILE and exit")
    sp = with_json(sub.add_parser("keys", help="API keys: create, revoke, list"))
    sp.add_argument("action", choices=["create", "revoke", "list"])
    sp.add_argument("key_id", nargs="?", help="the key to revoke")
    sp.add_argument("--tenant", help="the tenant the key reads ('*' with --role admin: the operator's usage key)")
    sp.add_argument("--role", choices=["reader", "writer", "auditor", "admin"])
    sp.add_argument("--region", action="append", help="a region the key may read (default: the tenant's regions)")
    sp.add_argument("--name", help="a label, e.g. the application using the key")
    sp = with_json(sub.add_parser("usage", help="metered usage: totals, or a showback/chargeback report"))
    sp.add_argument("action", nargs="?", choices=["totals", "report"], default="totals")
    sp.add_argument("--period", default="all", help="YYYY-MM, YYYY-MM-DD, YYYY-Www or all")
    sp.add_argument("--tenant")
    sp.add_argument("--format", choices=["table", "csv", "json", "html"], default="table")
    sp.add_argument("--price-book", help="price book YAML (default AIFACTORY_PRICE_BOOK, else example prices)")
    sp.add_argument("--out", help="write the report to this file")
    sp = with_json(sub.add_parser("audit", help="verify the hash chain of the audit log"))
    sp.add_argument("action", choices=["verify"])
    sp = with_json(sub.add_parser("lineage", help="trace a document or point back to its source and forward"))
    sp.add_argument("action", choices=["trace"])
    sp.add_argument("id", help="a document id or a point id")
    sp.add_argument("--tenant", help="only this tenant's data (default: any tenant)")
    sp.add_argument("--format", choices=["json", "html"], default="json")
    sp.add_argument("--out", help="the HTML file to write")
    sp = with_json(sub.add_parser("residency", help="where each tenant's data is, checked against the policy"))
    sp.add_argument("action", choices=["report"])
    sp = with_json(sub.add_parser("eval", help="BEIR-format retrieval evaluation through the real pipeline"))
    sp.add_argument("--corpus", required=True, help="corpus.jsonl (_id, title, text)")
    sp.add_argument("--queries", required=True, help="queries.jsonl (_id, text)")
    sp.add_argument("--qrels", required=True, help="qrels TSV (query-id, corpus-id, score) with a header")
    return p


COMMANDS = {"run": cmd_run, "ingest": cmd_ingest, "status": cmd_status, "search": cmd_search,
            "replay": cmd_replay, "dlq": cmd_dlq, "index": cmd_index, "eval": cmd_eval,
            "usage": cmd_usage, "reindex": cmd_reindex, "delete": cmd_delete, "erase": cmd_erase, "serve": cmd_serve,
            "keys": cmd_keys, "audit": cmd_audit, "lineage": cmd_lineage, "residency": cmd_residency}


def main(argv: list[str] | None = None) -> int:
    limit_arenas()  # before the threads start: see aifactory/malloc.py
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kafka-python logs every connection and a cancelled fetch at shutdown as an error.
    logging.getLogger("kafka").setLevel(logging.WARNING if args.verbose else logging.CRITICAL)
    factory = Factory(FactorySettings())
    try:
        COMMANDS[args.command](args, factory)
    except USER_ERRORS as exc:
        print(f"aifactory {args.command}: {exc}", file=sys.stderr)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
