"""What each `aifactory` command does, once its arguments are parsed (cli.py).

Kept apart from the parser so `aifactory --help` never imports torch, DuckDB or
the index: cli.py imports this module only to run a command. What only one command
needs (the API, the services, the reports, evaluation) is imported by that command:
a command that is a client of the running factory starts in well under a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aifactory.ask import format_results, format_status
from aifactory.errors import CommandError
from aifactory.remote import carry_out, output
from governance.errors import FactoryError
from governance.keys import ApiKey, ApiKeyError, expiry
from governance.pricing import load_price_book
from ingest.sources import Source
from pipeline import runner
from pipeline.deletes import DeleteRequest, delete
from pipeline.factory import Factory
from pipeline.lineage import trace
from pipeline.presence import present
from pipeline.progress import Progress
from pipeline.settings import SAMPLE_SOURCES, load_sources
from pipeline.status import status, tenant_regions
from pipeline.status import tenants as known_tenants
from vectorstore.filters import from_cli
from vectorstore.search import SearchError, search

SAMPLE_QUESTION = ("helio-eu", "How long is parental leave for employees in Germany?")


class UsageError(CommandError):
    """A command asked for something that cannot be: what was wrong and what to do."""


# Errors a person can act on: printed as one line, exit code 2, no traceback. Every error
# of ours derives from FactoryError (governance/errors.py); a missing file the person named
# is the one built-in error that says enough on its own.
USER_ERRORS = (FactoryError, FileNotFoundError)


def sources_from_args(args: argparse.Namespace, factory: Factory) -> list[Source]:
    """The PATHs given (folders or single files), or the bundled sample sources."""
    if not args.paths:
        return load_sources(SAMPLE_SOURCES)
    jurisdiction = factory.policy.canonical(args.jurisdiction)
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)} (looked in {Path.cwd()})")
    return [Source.of_path(Path(p).absolute(), args.tenant, jurisdiction) for p in args.paths]


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    out(json.dumps(data, indent=2, default=str) if args.json else text)


def out(text: str) -> None:
    """A command's output: to stdout, or to the client the factory carries it out for (remote.py)."""
    print(text, file=output.get() or sys.stdout)


def require_tenant(factory: Factory, tenant: str) -> None:
    """A tenant the data directory never heard of is a typo, not an empty result."""
    tenants = known_tenants(factory)
    if tenant not in tenants:
        raise UsageError(f"tenant {tenant!r} has no documents in {factory.settings.home}; "
                         f"tenants here: {', '.join(tenants) or 'none yet (run `aifactory run` first)'}")


def run_counts(s: dict[str, Any]) -> str:
    return (f"{s['published']} events published ({s['unchanged']} unchanged, {s['deleted']} deletes, "
            f"{s['held']} held back, {s['recovered']} recovered), {s['chunks_landed']} chunks, "
            f"{s['dead_letters_landed']} dead letters, "
            + (f"indexed by {s['indexed_by']}" if s.get("indexed_by") else
               f"{s['points_upserted']} points upserted, {s['points_deleted']} deleted"))


def cmd_run(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    sources = sources_from_args(args, factory)
    if args.follow:
        follow(args, factory, sources)
        return
    report = runner.run(factory, sources, progress=progress)
    summary = report.summary()
    question = args.ask or (SAMPLE_QUESTION[1] if not args.paths else None)
    tenant = args.tenant or SAMPLE_QUESTION[0]
    results = search(factory.index, factory.embedder, question, tenant=tenant, top_k=3) if question else []
    data = {"run": summary, "question": question, "results": [r.__dict__ for r in results]}
    if args.json:  # what the data directory holds is the text's alone: a status scan, not paid here
        emit(args, data, "")
        return
    text = [f"run done in {summary['seconds']['total']:.1f} s: {run_counts(summary)}",
            f"held: {held_line(factory)}"]
    if question:
        text += ["", format_results(question, results)]
    emit(args, data, "\n".join(text))


def held_line(factory: Factory) -> str:
    """What the data directory holds after the run, per tenant."""
    tenants = status(factory)["tenants"]
    return "; ".join(f"{t}: {c['documents']} documents, {c['points']} points, {c['dead_letters']} dead letters"
                     for t, c in tenants.items()) or "nothing yet"


def follow(args: argparse.Namespace, factory: Factory, sources: list[Source]) -> None:
    # Imported here: only `run --follow` needs the resident mode and its file watcher.
    from pipeline.follow import did_something, follow_until_signalled

    cycles = 0

    def on_cycle(report: runner.RunReport) -> None:
        nonlocal cycles
        cycles += 1
        if cycles == 1 or did_something(report):  # the first cycle catches up: always say how it went
            s = report.summary()
            print(json.dumps({"cycle": cycles, "run": s}, default=str) if args.json else
                  f"cycle {cycles} in {s['seconds']['total']:.1f} s: {run_counts(s)}", flush=True)

    note(f"aifactory run --follow: {len(sources)} source(s), rescanned on change and every {args.interval:g} s; "
         "Ctrl-C or SIGTERM stops")
    follow_until_signalled(factory, sources, interval_s=args.interval, on_cycle=on_cycle,
                           on_error=lambda exc: note(f"aifactory run: cycle failed ({exc}); restarting the "
                                                     "worker and landers"),
                           progress=not args.json)
    note(f"aifactory run: stopped after {cycles} cycle(s)")


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_ingest(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    progress.stage("ingest", "scanning and publishing")
    report = runner.ingest_only(factory, sources_from_args(args, factory)).summary()
    data = {k: report[k] for k in ("files", "published", "unchanged", "deleted", "held", "raw_landed",
                                   "dead_letters_landed")}
    emit(args, data, ", ".join(f"{k}: {v}" for k, v in data.items())
         + "\nlanded in the raw lake; `aifactory run` chunks and indexes them")


def cmd_status(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    data = status(factory)
    emit(args, data, format_status(data))


def cmd_search(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    require_tenant(factory, args.tenant)
    index, embedder = factory.for_questions() or (factory.index, factory.embedder)
    filters, exclude = from_cli(args.filter)

    def searched(include_quarantined: bool) -> list[Any]:
        return search(index, embedder, args.text, tenant=args.tenant, top_k=args.top_k, offset=args.offset,
                      score_threshold=args.score_threshold, mode=args.mode,
                      include_quarantined=include_quarantined, filters=filters, exclude=exclude)

    results = searched(args.include_quarantined)
    withheld = 0 if results or args.include_quarantined or args.json else \
        sum(1 for r in searched(True) if r.quarantined)
    emit(args, [r.__dict__ for r in results], format_results(args.text, results, withheld, args.tenant))


def cmd_dlq(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from pipeline.deadletters import list_dead_letters, replay_dead_letters

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


def cmd_quarantine(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from pipeline.quarantine import quarantined, review

    require_tenant(factory, args.tenant)
    if args.action == "list":
        rows = quarantined(factory, args.tenant)
        held = sum(1 for r in rows if r.release is None)
        lines = [f"{held} chunk(s) of {args.tenant} quarantined, {len(rows) - held} released by a reviewer"]
        for r in rows:
            state = f"released by {r.release['by']}: {r.release['reason']}" if r.release else "quarantined"
            text = " ".join(r.text.split())
            lines.append(f"- {r.chunk_id} [{state}]\n    {r.source_uri}" + (f" ({r.section})" if r.section else "")
                         + f"\n    why: {'; '.join(r.reasons)}\n    text: {text[:160]}{'…' if len(text) > 160 else ''}")
        emit(args, [r.as_dict() for r in rows], "\n".join(lines))
        return
    done = review(factory, args.tenant, args.chunk_ids, decision=args.action, reason=args.reason)
    verb = "released" if args.action == "release" else "held in quarantine again"
    data = {"decision": done.decision, "recorded": [r.chunk_id for r in done.recorded], "unchanged": done.unchanged,
            "indexed_by": done.indexed_by}
    text = f"{len(done.recorded)} chunk(s) {verb}" + (f"; {len(done.unchanged)} already so" if done.unchanged else "")
    if done.recorded:
        text += f"; the index follows ({done.indexed_by})"
    emit(args, data, text)


def cmd_reindex(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from pipeline.reindex import reindex

    report = reindex(factory, args.model, drop_old=args.drop_old, progress=not args.json)
    data = {"old_model": report.old_model, "new_model": report.new_model, "upserted": report.sync.upserted,
            "unchanged": report.sync.unchanged, "dropped": report.dropped}
    emit(args, data, f"searches now use {report.new_model} (was {report.old_model}); {report.sync.upserted} "
         f"points embedded" + (f"; dropped {', '.join(report.dropped)}" if report.dropped else ""))


def cmd_usage(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from aifactory.usage_html import render as usage_html
    from pipeline.usage_report import as_csv, as_table, usage
    from pipeline.usage_report import as_json as usage_json

    if args.action == "report":
        book = load_price_book(Path(args.price_book) if args.price_book else factory.settings.price_book)
        data = usage(factory.ledger, book, args.period, tenant=args.tenant, quotas=factory.quotas)
        render = {"table": as_table, "csv": as_csv, "json": usage_json, "html": usage_html}[args.format]
        text = render(data)
        if args.out:
            Path(args.out).write_text(text)
            print(f"wrote {args.out}")
        else:
            print(text)
        return
    if args.action == "reconcile":
        from pipeline.reconcile import as_dicts, reconcile
        from pipeline.reconcile import as_table as checks_table

        checks = reconcile(factory)
        emit(args, as_dicts(checks), f"usage ledger {factory.ledger.path} against the lake, the index and the "
             f"API's request log\n{checks_table(checks)}")
        if not all(c.ok for c in checks):
            raise SystemExit(1)
        return
    totals = factory.ledger.totals()
    rows = [f"{'tenant':<16}{'texts':>8}{'tokens':>10}{'seconds':>9}  devices"]
    rows += [f"{t:<16}{v['texts']:>8}{v['tokens']:>10}{v['compute_seconds']:>9.1f}  {', '.join(v['devices'])}"
             for t, v in totals.items()]
    emit(args, totals, "embedding metered per tenant\n" + "\n".join(rows))


def cmd_audit(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from governance.audit_export import export, public_key

    if args.action == "public-key":
        key = public_key(factory.audit.key)
        emit(args, {"public_key": key}, f"{key}\ngive this to the auditor once, over a channel you trust; "
             "`aifactory audit verify --export FILE --public-key KEY` checks an export with it")
        return
    if args.action == "export":
        doc = export(factory.audit, Path(args.out))
        emit(args, {"out": args.out, "entries": len(doc["entries"]), "public_key": doc["public_key"]},
             f"wrote {args.out}: {len(doc['entries'])} entries, signed; verify it anywhere with "
             f"`aifactory audit verify --export {args.out} --public-key {doc['public_key']}`")
        return
    result = factory.audit.verify()
    emit(args, result.__dict__, f"audit log {factory.audit.path}: {result.entries} entries, "
         + ("chain intact" if result.ok else f"BROKEN: {result.problem}")
         + (f"\nnote: {result.note}" if result.note else "")
         + f"\nsigned with the audit key; anchored at {factory.audit.anchor_path}")
    if not result.ok:
        raise SystemExit(1)


def cmd_lineage(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from aifactory.lineage_html import render as lineage_page

    if args.action == "graph":
        lineage_graph(args, factory)
        return
    found = trace(factory, args.tenant, args.id)
    if found is None:
        raise SearchError(f"no document or point {args.id!r}" + (f" for tenant {args.tenant}" if args.tenant else "")
                          + "; search results and `aifactory status` name ids")
    if args.format == "html":
        out_file = Path(args.out or f"lineage-{args.id.replace('/', '_').replace(':', '_')}.html")
        out_file.write_text(lineage_page(found))
        out(f"wrote {out_file}")
        return
    emit(args, found, json.dumps(found, indent=2, default=str))


def lineage_graph(args: argparse.Namespace, factory: Factory) -> None:
    from aifactory import lineage_graph as run_graph
    from pipeline.runlineage import lineage_file

    path = lineage_file(factory.settings.home)
    if factory.settings.openlineage_url:
        raise UsageError(f"OPENLINEAGE_URL is set: events go to {factory.settings.openlineage_url}, not to {path}; "
                         "open the graph in that lineage server")
    if not path.exists():
        raise UsageError(f"no lineage events yet in {path}: `aifactory run` (or a Dagster run) writes them")
    graph = run_graph.build(run_graph.read_events(path))
    if args.format == "html":
        out_file = Path(args.out or "lineage.html")
        out_file.write_text(run_graph.render(graph, str(path)))
        out(f"wrote {out_file}: {len(graph.datasets)} datasets, {len(graph.jobs)} jobs")
        return
    data = run_graph.as_json(graph)
    emit(args, data, json.dumps(data, indent=2))


def cmd_residency(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from pipeline.residency_report import report as residency_report

    data = residency_report(factory)
    rows = [f"{'tenant':<14}{'jurisdiction':<13}{'sink':<40}{'region':<12}{'count':>7}  ok"]
    for tenant, places in data["tenants"].items():
        rows += [f"{tenant:<14}{p['jurisdiction'] or '-':<13}{p['sink']:<40}{p['region']:<12}{p['count']:>7}  "
                 f"{'yes' if p['compliant'] else ('-' if p['compliant'] is None else 'NO')}" for p in places]
    rows.append(f"violations found: {len(data['violations_found'])}; refused at write: "
                f"{len(data['violations_refused'])}; chunks left for a worker of an allowed region: "
                f"{sum(e['details']['chunks'] for e in data['compute_refused'])}")
    emit(args, data, "\n".join(rows))


def cmd_eval(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from aifactory import identifier_set
    from aifactory.evaluate import evaluate, format_report

    sets: dict[str, tuple[Path, Path, Path]] = {}
    if args.corpus:
        sets[Path(args.corpus).parent.name or "beir"] = (Path(args.corpus), Path(args.queries), Path(args.qrels))
    if args.memos:
        sets[f"identifiers-{args.memos}"] = identifier_set.write(
            factory.settings.home / "eval" / "sets" / f"identifiers-{args.memos}", args.memos)
    reports = {name: evaluate(factory.settings, *paths) for name, paths in sets.items()}
    emit(args, reports, "\n\n".join(format_report(name, r) for name, r in reports.items()))


def cmd_index(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    report = factory.sync_index(run_id=f"index-{uuid.uuid4().hex[:16]}", progress=not args.json, full=True)
    emit(args, report.__dict__, f"index: {report.upserted} upserted, {report.deleted} deleted, {report.repointed} "
         f"repointed, {report.unchanged} unchanged, {report.duplicates} duplicates folded")


def cmd_delete(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    require_tenant(factory, args.tenant)
    request = DeleteRequest(args.tenant, document=args.document, subject=args.subject,
                            all_documents=args.all_documents)
    report = delete(factory, request)
    what = "no live document matched; nothing to delete" if not report.documents else \
        f"{len(report.documents)} document(s) deleted, {report.points_deleted} point(s) removed from the index"
    emit(args, report.__dict__, f"delete request {report.request_id}: {what}")


def cmd_erase(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from pipeline.erasure import erase

    require_tenant(factory, args.tenant)
    receipt = erase(factory, args.tenant, subject=args.subject, document=args.document)
    removed = receipt.removed
    emit(args, json.loads(receipt.to_json()) | {"receipt": receipt.path},
         f"erasure {receipt.request_id}: {len(receipt.documents)} document(s); "
         f"raw rows {sum(removed['raw lake rows'].values())}, chunk rows {sum(removed['chunk lake rows'].values())}, "
         f"dead letters {sum(removed['dead-letter rows'].values())} (+{len(removed['dead-letter bytes'])} kept "
         f"inputs), index points {removed['index points deleted by the pipeline']} "
         f"(+{sum(removed['index collections'].values())}), {len(removed['index collections'])} collection(s) "
         f"rebuilt\nreceipt: {receipt.path}")




def cmd_keys(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from aifactory.serve import key_store

    store = key_store(factory)
    if args.action in ("create", "update"):
        factory.audit.key  # noqa: B018 - the audit key first: a key made or changed but not audited is a hole
    # Each privileged action is audited: who made or changed which key, able to do what (never the token).
    if args.action == "create":
        if not args.tenant or not args.role:
            raise ApiKeyError("keys create needs --tenant T and --role reader|writer|auditor|admin")
        if args.tenant == "*" and args.role != "admin":
            raise ApiKeyError("tenant '*' is the operator's: only an admin key may have it")
        regions = args.region or (["*"] if args.tenant == "*" else tenant_regions(factory, args.tenant))
        if not regions:
            raise UsageError(f"tenant {args.tenant!r} has no documents yet, so its regions are unknown; "
                             "ingest its documents first or pass --region")
        key, token = store.create(args.tenant, args.role, regions, name=args.name or "",
                                  expires_at=expiry(args.expires or ""), scopes=args.scope or ())
        factory.audit.append("keys.create", key.tenant, key_id=key.key_id, role=key.role, regions=list(key.regions),
                             name=key.name, scopes=list(key.scopes), expires_at=key.expires_at, via="cli")
        emit(args, {**key.public(), "token": token},
             f"key {key.key_id} for tenant {key.tenant}, role {key.role}, regions {', '.join(key.regions)}"
             f"{grants(key)}\n{token}\nkeep it now: it is stored hashed and cannot be shown again")
    elif args.action == "update":
        if not any((args.role, args.region, args.scope, args.expires)):
            raise ApiKeyError("keys update needs what to change: --role, --region, --scope or --expires")
        before, key = store.update(args.key_id, role=args.role, regions=args.region, scopes=args.scope,
                                   expires_at=None if args.expires is None else expiry(args.expires))
        changed = {f: {"from": _listed(getattr(before, f)), "to": _listed(getattr(key, f))}
                   for f in ("role", "regions", "scopes", "expires_at") if getattr(before, f) != getattr(key, f)}
        factory.audit.append("keys.update", key.tenant, key_id=key.key_id, changed=changed, via="cli")
        emit(args, key.public(), f"key {key.key_id}: " + ("; ".join(
            f"{f} {_shown(c['from'])} -> {_shown(c['to'])}" for f, c in changed.items()) or "nothing changed"))
    elif args.action == "revoke":
        if not args.key_id:
            raise ApiKeyError("keys revoke needs the key id (`aifactory keys list` shows them)")
        key = store.revoke(args.key_id)
        factory.audit.append("keys.revoke", key.tenant, key_id=key.key_id, role=key.role, via="cli")
        emit(args, key.public(), f"key {key.key_id} revoked at {key.revoked_at}")
    else:
        keys = store.list()
        rows = [f"{k.key_id}  {k.tenant:<14}{k.role:<8}{','.join(k.regions):<24}"
                f"{'revoked ' + k.revoked_at if k.revoked else 'expired' if k.expired() else 'active'}{grants(k)}"
                for k in keys]
        emit(args, [k.public() for k in keys], "\n".join(rows) or "no keys yet; `aifactory keys create`")


def grants(key: ApiKey) -> str:
    """A key's scopes and expiry, when it has them, for a line about it."""
    return (f", scopes {','.join(key.scopes)}" if key.scopes else "") + \
        (f", expires {key.expires_at}" if key.expires_at else "")


def _listed(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def _shown(value: object) -> str:
    return ",".join(value) if isinstance(value, list) else str(value or "-")


def cmd_serve(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from aifactory.serve import ApiSettings, build, serve

    settings = ApiSettings()
    if args.openapi:
        app, backend = build(factory, settings)
        backend.close()
        Path(args.openapi).write_text(json.dumps(app.openapi(), indent=1, sort_keys=True) + "\n")
        print(f"wrote {args.openapi}")
        return
    given = (("host", args.host), ("port", args.port), ("tls_cert", args.tls_cert), ("tls_key", args.tls_key))
    settings = settings.model_copy(update={k: v for k, v in given if v})
    settings.check_tls()
    url = f"{settings.scheme}://{settings.host}:{settings.port}"
    print(f"serving the vector API on {url} (docs at /docs); Ctrl-C stops it", flush=True)
    factory.note_config("api")  # a changed configuration is audited at start
    factory.serve_commands(carry_out)  # when the API owns the embedded index, commands come here
    with present(factory.settings.home, "api", detail={"url": url}):
        serve(factory, settings)


def cmd_replay(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    report = runner.replay(factory, progress=not args.json)
    emit(args, report.summary(), f"replayed {report.recovered} events from the raw lake: "
         f"{report.chunks_landed} chunks, {report.index.upserted if report.index else 0} points")


def cmd_repair(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from pipeline.repair import repair

    report = repair(factory, dry_run=args.dry_run, say=None if args.json else note)
    rows = [f"{'table':<14}{'rows before':>12}{'rows after':>12}{'folders':>9}"]
    rows += [f"{name:<14}{t.rows_before:>12}{t.rows_after:>12}{len(t.folders):>9}" for name, t in report.tables.items()]
    if not report.repeated:
        rows.append("nothing to repair: no lake row key is stored more than once")
    elif report.dry_run:
        rows.append(f"would drop {report.dropped} repeated row(s) in {report.folders} folder(s); "
                    "run `aifactory repair` to do it")
    else:
        rows.append(f"dropped {report.dropped} repeated row(s) in {report.folders} folder(s); the index was not "
                    "touched" + (" (`aifactory index` re-checks it against the chunks lake)"
                                 if report.chunks_changed else ""))
    rows += [f"left for residency review: {r}" for t in report.tables.values() for r in t.refused]
    emit(args, report.as_dict(), "\n".join(rows))


def cmd_up(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from aifactory.services import cmd_up as up

    up(args, factory, progress)


def cmd_worker(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from aifactory.services import cmd_worker as worker

    worker(args, factory, progress)


def cmd_tenant(args: argparse.Namespace, factory: Factory, progress: Progress) -> None:
    from pipeline import tenant_keys

    require_tenant(factory, args.tenant)
    if args.action == "rotate-key":
        done = tenant_keys.rotate(factory, args.tenant)
        emit(args, done, f"tenant {args.tenant}: new writes are sealed with data key {done['data_key']} under a new "
                         f"master key; older data keys still open what they sealed (`aifactory tenant rewrap` "
                         f"moves them under the new master key and destroys the old one)")
    elif args.action == "rewrap":
        done = tenant_keys.rewrap(factory, args.tenant)
        emit(args, done, f"tenant {args.tenant}: {done['data_keys']} data key(s) rewrapped under the newest master "
                         f"key; older master keys destroyed")
    elif args.action == "reseal":
        done = tenant_keys.reseal(factory, args.tenant)
        emit(args, done, f"tenant {args.tenant}: sealed again under data key {done['data_key']}: "
                         f"{done['lake_files']} lake file(s), {done['dead_letter_copies']} dead-letter copie(s), "
                         f"{done['points']} point(s); {done['data_keys_destroyed']} older data key(s) destroyed")
    else:
        if not args.yes:
            raise UsageError(f"shredding destroys tenant {args.tenant}'s keys: everything sealed for it becomes "
                             "unreadable for good, in every copy; add --yes to go ahead")
        done = tenant_keys.shred(factory, args.tenant)
        left = done["readable_left"]
        emit(args, done, f"tenant {args.tenant} shredded: {done['master_versions_destroyed']} master key version(s) "
                         f"and {done['data_keys_destroyed']} data key(s) destroyed, {done['points_removed']} "
                         f"point(s) removed; receipt in the audit log (tenant.shredded)"
                         + (f"\nstill readable, written before encryption was on: {left['lake_rows']} lake row(s), "
                            f"{left['index_points']} point(s); remove them with `aifactory delete --tenant "
                            f"{args.tenant} --all-documents`" if left["lake_rows"] or left["index_points"] else ""))


Command = Callable[[argparse.Namespace, Factory, Progress], None]
COMMANDS: dict[str, Command] = {
    "run": cmd_run, "ingest": cmd_ingest, "status": cmd_status, "search": cmd_search, "replay": cmd_replay,
    "dlq": cmd_dlq, "index": cmd_index, "eval": cmd_eval, "usage": cmd_usage, "reindex": cmd_reindex,
    "delete": cmd_delete, "erase": cmd_erase, "serve": cmd_serve, "keys": cmd_keys, "audit": cmd_audit,
    "lineage": cmd_lineage, "residency": cmd_residency, "repair": cmd_repair, "up": cmd_up,
    "worker": cmd_worker, "tenant": cmd_tenant, "quarantine": cmd_quarantine}
