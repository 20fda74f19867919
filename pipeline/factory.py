"""The composition root: one object that builds each layer's parts from settings,
heavy ones (the model, the index) only when first asked for."""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from governance.audit import AuditLog, process_name
from governance.carbon import CarbonProfile, load_profile
from governance.errors import ResidencyError
from governance.ledger import Ledger, UsageEntry
from governance.privacy import EdgeMemo, PrivacyPolicy, load_privacy_policy
from governance.quotas import QuotaBook
from governance.releases import Releases
from governance.residency import ResidencyPolicy, load_policy
from governance.sealing import Sealer
from governance.signals import SignalLog
from ingest.errors import LakeError
from ingest.lake import Lake
from ingest.lake_store import parse_region_urls
from pipeline.config_audit import audit_config
from pipeline.deferred_model import DeferredEmbedder
from pipeline.settings import FactorySettings
from pipeline.sync_checkpoint import SyncCheckpoint, pairs_of
from pipeline.writer import INDEX_SYNC, writing
from transforms import chunk_table
from transforms.family_index import FamilyIndex
from transforms.tables import CHUNKS
from vectorstore.ahead import EmbedAhead
from vectorstore.embedder import Embedder, load_embedder, model_folder
from vectorstore.index import VectorIndex
from vectorstore.owner import HomeIndex, NoModelHere
from vectorstore.sealed import SealedIndex, bare
from vectorstore.search import QueryEmbedder, search
from vectorstore.sync import ComputeRegion, Narrow, Plan, SyncReport, plan, plan_rows, sync_index

log = logging.getLogger(__name__)


class Factory:
    def __init__(self, settings: FactorySettings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or FactorySettings()
        self.command_runner: Callable[..., dict[str, Any]] | None = None  # see serve_commands
        self._config_noted = False
        self._refused_ids: set[str] = set()  # chunks this process may not embed, audited once
        if embedder is not None:
            self.__dict__["embedder"] = embedder

    @cached_property
    def lake(self) -> Lake:
        s = self.settings
        places = parse_region_urls(s.lake_region_urls)
        unplaced = sorted(set(self.policy.regions) - set(places)) if places else []
        if unplaced:  # found at start, not when the first row of such a region arrives
            raise LakeError(f"the residency policy allows region(s) {', '.join(unplaced)}, but "
                            f"AIFACTORY_LAKE_REGION_URLS names no lake location for them; add "
                            f"{unplaced[0]}=s3://bucket/prefix (one per region)")
        return Lake(s.lake_root, url=s.lake_url, region_urls=places, residency=self.policy, audit=self.audit,
                    signals=self.signals, sealer=self.sealer)

    @cached_property
    def sealer(self) -> Sealer:
        """Seals and opens text with tenants' keys when AIFACTORY_ENCRYPTION is on; else passes it."""
        if not self.settings.encryption:
            return Sealer(None)
        return Sealer.at(self.data_keys_dir, self.kms_dir)

    @property
    def data_keys_dir(self) -> Path:
        return self.settings.home / "keys" / "data-keys"

    @cached_property
    def kms_dir(self) -> Path:
        """This home's folder in the local key manager: named by an id kept in the home, so
        the home can move and several homes can share one key store."""
        path = self.settings.home / "keys" / "home-id"
        if not path.exists():  # written whole, then linked: a reader never sees it half made
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"home-id.{os.getpid()}.tmp")
            tmp.write_text(secrets.token_hex(8))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process made it first: theirs stands
            finally:
                tmp.unlink()
        root = self.settings.kms_dir or Path.home() / ".config" / "aifactory" / "kms"
        return Path(root).expanduser().absolute() / path.read_text().strip()

    @cached_property
    def policy(self) -> ResidencyPolicy:
        return load_policy(self.settings.residency_policy)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.settings.home / "governance" / "usage.jsonl")

    @cached_property
    def carbon(self) -> CarbonProfile:
        return load_profile(self.settings.carbon_intensity)

    @cached_property
    def quotas(self) -> QuotaBook:
        return QuotaBook(self.settings.quotas or self.settings.home / "governance" / "quotas.yaml")

    @cached_property
    def signals(self) -> SignalLog:
        return SignalLog(self.settings.home / "state" / "signals.jsonl")

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.settings.home / "governance" / "audit.jsonl")

    @cached_property
    def releases(self) -> Releases:
        return Releases(self.settings.home / "governance" / "releases.jsonl")

    def writing(self, say: Callable[[str], object] | None = None) -> AbstractContextManager[None]:
        """This data directory's writer lock (writer.py), waiting for it unless told not to.
        The first write of a process audits a configuration that changed (config_audit.py)."""
        self.note_config()
        return writing(self.settings.home, wait=self.settings.writer_wait, say=say)

    def note_config(self, service: str = "") -> None:
        """Audit the configuration if it changed since it was last seen on this home (once per factory)."""
        if not self._config_noted:
            self._config_noted = True
            audit_config(self.settings, self.audit, service or process_name())

    def syncing(self, say: Callable[[str], object] | None = None) -> AbstractContextManager[None]:
        """The lock of one index sync at a time (the indexer service holds only this one)."""
        return writing(self.settings.home, wait=True, say=say, name=INDEX_SYNC)

    def sync_index(self, *, run_id: str, progress: bool = False, ahead: EmbedAhead | None = None,
                   full: bool = False) -> SyncReport:
        """Make the index equal to the chunks lake, metering what is embedded and,
        when points changed, what is now stored; vectors embedded `ahead` are reused.
        Only the tenants whose chunks changed since the last sync are compared
        (pipeline/sync_checkpoint.py), unless `full` or the checkpoint says otherwise."""
        with self.writing(), self.syncing():
            return self._sync_index(run_id=run_id, progress=progress, ahead=ahead, full=full)

    def _sync_index(self, *, run_id: str, progress: bool, ahead: EmbedAhead | None, full: bool = False
                    ) -> SyncReport:
        index, embedder = self.index, self.deferred_embedder()
        model_id = embedder.fingerprint.id
        checkpoint = SyncCheckpoint(self.settings.home, model_id)
        if full:
            checkpoint.forget()
        scope = checkpoint.scope(self.lake.files(CHUNKS), index, self.releases)
        released = self.releases.current()
        files = scope.tenant_files()
        groups, narrow, folded, families = None, None, None, None
        if files is None:
            desired = plan(self.lake, model_id, released=released)
        else:
            # Only the changed documents' duplicate families, when the lake keeps reader keys;
            # else the changed tenants whole.
            # A tenant with a reviewer's new decision is compared whole (rare), not by changed documents.
            changed = chunk_table.documents_of(self.lake, scope.added) \
                if files and scope.added and not scope.reviewed else set()
            families = chunk_table.family_rows(self.lake, scope.tenants or (), changed) if changed else None
            if families is not None:
                desired = plan_rows(families.rows, model_id, released)
                narrow = Narrow.of(families.rows, changed, model_id)
            else:
                desired = plan(self.lake, model_id, files, released) if files else Plan({}, 0)
            regions = set(index.regions()) | {r for r, _ in desired.groups}
            groups = {(r, t) for r in regions for t in scope.tenants or ()}
        report = sync_index(self.lake, index, cast(Embedder, embedder), progress=progress, ledger=self.ledger,
                            carbon=self.carbon,
                            run_id=run_id, ahead=ahead, desired=desired, scope=groups, compute=self.compute,
                            narrow=narrow)
        if families is not None:  # folded = current chunks - points, per changed tenant (counts, not rows)
            folded = {t: families.current.get(t, 0) - sum(index.count(r, tenant=t) for r in index.regions())
                      for t in scope.tenants or ()}
        if files is None:
            # After a whole comparison (a build, the hourly reconcile) the next change reads only its own files.
            FamilyIndex(self.lake).refresh()
        if self.refused_compute(report, run_id):
            checkpoint.forget()  # the index lacks what a worker of another region must embed: compare it all next
        else:
            checkpoint.save(scope, index, desired.folded if folded is None else folded)
        if report.upserted or report.deleted:
            # The partitions of the files compared: a scoped sync's tenants, or every one.
            self.meter_storage(run_id, pairs_of(files if files is not None else scope.files))
        return report

    @cached_property
    def compute(self) -> ComputeRegion | None:
        """This process's compute region (AIFACTORY_COMPUTE_REGION) and what it may embed; None: unrestricted."""
        region, policy = self.settings.compute_region.strip(), self.policy
        if not region:
            return None
        if region not in policy.regions:
            raise ResidencyError(f"AIFACTORY_COMPUTE_REGION {region!r} is not a region of the residency policy "
                                 f"(known: {', '.join(policy.regions)}); set it to the region this host computes in")
        return ComputeRegion(region, lambda row: policy.may_process(str(row.get("jurisdiction") or ""), region))

    def may_embed(self, row: dict[str, Any]) -> bool:
        return self.compute is None or self.compute.allows(row)

    def refused_compute(self, report: SyncReport, run_id: str) -> bool:
        """Audit and signal the chunks a sync left for a worker of another region (each once per
        process: a live indexer meets them on every pass); whether any were left."""
        if not report.refused_ids:
            return False
        fresh = report.refused_ids - self._refused_ids
        self._refused_ids |= report.refused_ids
        if fresh and self.compute is not None:
            per_tenant: dict[str, int] = {}
            for (tenant, jurisdiction), n in sorted(report.refused.items()):
                self.audit.append("residency.compute_refused", tenant, jurisdiction=jurisdiction, chunks=n,
                                  compute_region=self.compute.region, run_id=run_id)
                per_tenant[tenant] = per_tenant.get(tenant, 0) + n
            self.signals.raise_("residency", per_tenant)
            log.warning("%d chunk(s) of %s left unembedded: their jurisdiction may not be processed in %s; a "
                        "worker with AIFACTORY_COMPUTE_REGION set to an allowed region embeds them",
                        sum(report.refused.values()), ", ".join(sorted({j for _, j in report.refused})),
                        self.compute.region)
        return True

    def meter_storage(self, run_id: str, pairs: Collection[tuple[str, str]] | None = None) -> None:
        """A storage snapshot per tenant and region (every partition of the chunks lake,
        or the `pairs` a scoped sync compared): vectors held and their bytes. A snapshot
        stands until the next one (pipeline/usage_report.py carries it), so a tenant no
        sync touched keeps its last."""
        if pairs is None:
            pairs = pairs_of(self.lake.files(CHUNKS))
        index, dim = self.index, self.embedder.fingerprint.dimension
        regions = set(index.regions())
        entries = []
        for tenant, region in sorted(pairs):
            n = index.count(region, tenant=tenant) if region in regions else 0
            entries.append(UsageEntry(run_id=run_id, tenant=tenant, event="storage", region=region, vectors=n,
                                      vector_bytes=n * dim * 4, model=index.model_id))
        self.ledger.append(entries)

    @cached_property
    def privacy(self) -> PrivacyPolicy:
        return load_privacy_policy(self.settings.transforms.privacy_policy)

    @cached_property
    def edge(self) -> EdgeMemo:
        """The raw-topic messages this process redacted and published: landing skips their redaction."""
        return EdgeMemo()

    @cached_property
    def pii_secret(self) -> bytes:
        """AIFACTORY_PII_SECRET, or a random secret kept in the data directory."""
        configured = self.settings.transforms.pii_secret.get_secret_value()
        if configured:
            return bytes.fromhex(configured)
        path = self.settings.home / "keys" / "pii-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        return bytes.fromhex(path.read_text().strip())

    def transform_env(self) -> dict[str, str]:
        """What the faust worker needs to apply the same policies."""
        t = self.settings.transforms
        env = {"AIFACTORY_PII_SECRET": self.pii_secret.hex(),
               "AIFACTORY_QUARANTINE_THRESHOLD": str(t.quarantine_threshold),
               "AIFACTORY_SCREENING_MODEL": "on" if t.screening_model else "off",
               # Chunks are measured in the tokens of the model that embeds them.
               "AIFACTORY_TOKENIZER_DIR": str(self.model_dir.resolve())}
        if t.privacy_policy:
            env["AIFACTORY_PRIVACY_POLICY"] = str(Path(t.privacy_policy).resolve())
        if self.settings.residency_policy:
            env["AIFACTORY_RESIDENCY_POLICY"] = str(Path(self.settings.residency_policy).resolve())
        if self.sealer.on:  # the worker opens events and seals chunks with the same keys
            env["AIFACTORY_DATA_KEYS"] = str(self.data_keys_dir)
            env["AIFACTORY_TENANT_KEYS"] = str(self.kms_dir)
        return env

    @cached_property
    def embedder(self) -> Embedder:
        """The active model: the one the index was built with (see `aifactory reindex`);
        AIFACTORY_EMBEDDING_MODEL only chooses the first one."""
        return load_embedder(self._model, self.settings.embedding_device, backend=self.settings.embedding_backend,
                             onnx_dir=self.settings.home / "models", precision=self.settings.embedding_precision)

    def deferred_embedder(self) -> Embedder | DeferredEmbedder:
        """The active model as a sync needs it: the one loaded, or one that loads when a
        text is to be embedded (a run that changes nothing never loads it)."""
        active = self.active_model()
        if "embedder" in self.__dict__ or active is None:
            return self.embedder
        return DeferredEmbedder(lambda: self.embedder, str(active["id"]), int(active["dimension"]))

    @property
    def _model(self) -> str | None:
        active = self.active_model()
        return active["model"] if active and active.get("model") else self.settings.embedding_model

    @property
    def model_dir(self) -> Path:
        """The embedder's model folder, without loading the model unless it is loaded already."""
        if "embedder" in self.__dict__:
            return Path(self.embedder.model_path)
        return model_folder(self._model)

    @cached_property
    def index(self) -> VectorIndex:
        active = self.active_model()
        if active is None:
            self.activate(self.embedder)
            active = self.active_model()
            assert active is not None
        # Opened by the marker's id and dimension: the model loads when something needs it.
        index = self.open_index(str(active["id"]), int(active["dimension"]))
        if isinstance(bare(index), HomeIndex):  # other processes' searches embed here
            bare(index).serve_queries_with(lambda text: self._loaded_model().embed_query(text), ask=self._ask,
                                           status=self._status)
            self._offer_commands(index)  # again when the index was closed and opened anew
        return index

    def open_index(self, model_id: str, dimension: int) -> VectorIndex:
        """A Qdrant server when QDRANT_URL is set, else the embedded Qdrant Edge, opened here
        or, when another process has it open, reached through that process (owner.py)."""
        s = self.settings
        if s.qdrant_server:
            # Imported here: qdrant-client takes ~1-5 s to import, and the embedded default never uses it.
            from vectorstore.placement import PlacedIndex, parse_map
            from vectorstore.qdrant import QdrantIndex

            def connect(url: str, key: str) -> QdrantIndex:
                return QdrantIndex.connect(url=url, api_key=key, model_id=model_id, dimension=dimension,
                                           shards=s.qdrant_shards, replication=s.qdrant_replication,
                                           quantization=s.index_quantization)

            default_key = s.qdrant_api_key.get_secret_value()
            if not s.qdrant_region_urls.strip():
                return self._sealed(connect(s.qdrant_url, default_key))
            keys = parse_map(s.qdrant_region_api_keys.get_secret_value(), "QDRANT_REGION_API_KEYS")
            return self._sealed(PlacedIndex.connect(parse_map(s.qdrant_region_urls, "QDRANT_REGION_URLS"),
                                                    lambda url, region: connect(url, keys.get(region, default_key))))
        return self._sealed(HomeIndex(s.index_root, model_id=model_id, dimension=dimension,
                                      quantization=s.index_quantization))

    def _sealed(self, index: VectorIndex) -> VectorIndex:
        """The index seals payload text with tenants' keys when encryption is on."""
        return SealedIndex(index, self.sealer) if self.sealer.on else index

    def index_without_model(self) -> VectorIndex | None:
        """The index of the active model, without loading that model (for status)."""
        if "index" in self.__dict__:
            return self.index
        if "_status_index" in self.__dict__:
            return self.__dict__["_status_index"]
        active = self.active_model()
        if active is None:
            return None
        index = self.open_index(active["id"], active["dimension"])
        self.__dict__["_status_index"] = index
        return index

    def serve_commands(self, carry_out: Callable[..., dict[str, Any]]) -> bool:
        """Carry out other processes' commands here, as `carry_out(factory, **request)`
        (a long-lived service: the front door's aifactory/remote.py); False when another
        process owns the index, so the commands go there or are carried out by their caller."""
        self.command_runner = carry_out
        return self._offer_commands(self.index)

    def _offer_commands(self, index: VectorIndex) -> bool:
        runner = self.command_runner
        return runner is not None and isinstance(bare(index), HomeIndex) and bare(index).serve_commands_with(
            lambda **request: runner(self, **request))

    def _ask(self, **question: Any) -> list[dict[str, Any]]:
        return [r.__dict__ for r in search(self.index, self._loaded_model(), **question)]

    def _loaded_model(self) -> Embedder:
        """The model, for another process's question: only once this one has loaded it (a
        run that changed nothing never does), else the asker embeds with its own."""
        if "embedder" not in self.__dict__:
            raise NoModelHere("the index owner has not loaded its model")
        return self.embedder

    def _status(self) -> dict[str, Any]:
        from pipeline.status import status  # it reads through this factory

        return dict(json.loads(json.dumps(status(self), default=str)))

    def for_questions(self) -> tuple[VectorIndex, QueryEmbedder] | None:
        """The index and a question embedder, for a process that only asks: when another
        process owns the embedded index with the model loaded, it embeds the question,
        so no model loads here (a search answers in a fraction of a second). None when
        there is no index yet."""
        if "index" in self.__dict__:
            return self.index, self.embedder
        index = self.index_without_model()
        if index is None:
            return None
        return index, _AskOwner(bare(index), self) if isinstance(bare(index), HomeIndex) and not bare(index).owned \
            else self.embedder

    @property
    def _model_marker(self) -> Path:
        return self.settings.index_root / "active-model.json"

    def active_model(self) -> dict[str, Any] | None:
        """Which model's collections serve searches: {id, dimension, model}. On Qdrant servers
        the servers keep it, so every node agrees whatever its home; else the home's marker."""
        if self.settings.qdrant_server:
            record = self._registry().active_model()
            if record is not None:
                return record
        marker = self._model_marker
        return dict(json.loads(marker.read_text())) if marker.exists() else None

    def activate(self, embedder: Embedder) -> None:
        """Point searches at `embedder`'s collections, atomically (the alias swap)."""
        fp = embedder.fingerprint
        record = {"id": fp.id, "dimension": fp.dimension, "model": embedder.model_path,
                  "activated_at": datetime.now(UTC).isoformat()}
        if self.settings.qdrant_server:
            self._registry().set_active_model(record)
        self._model_marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._model_marker.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self._model_marker)

    def _registry(self) -> Any:
        """The Qdrant servers' handle for the active-model record (any model id opens it)."""
        if "_registry_index" not in self.__dict__:
            self.__dict__["_registry_index"] = self.open_index("registry", 1)
        return self.__dict__["_registry_index"]

    def close(self) -> None:
        for key in ("index", "_status_index", "_registry_index"):
            if key in self.__dict__:
                self.__dict__.pop(key).close()


class _AskOwner:
    """Embeds a question in the process that owns the index, else with this process's model."""

    def __init__(self, index: HomeIndex, factory: Factory) -> None:
        self.index, self.factory = index, factory

    def embed_query(self, text: str) -> list[float]:
        if not self.index.owned:
            try:
                vector = self.index.embed_query(text)
                if len(vector) == self.index.dimension:
                    return vector
            except NoModelHere:
                pass
        return self.factory.embedder.embed_query(text)
