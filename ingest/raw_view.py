"""What a scan compares the sources with, kept in memory between scans.

A scan needs each tenant's latest version of every document and the subjects its
erasures named (`raw_table.latest_versions`, `raw_table.erased_subjects`). Asking
the raw lake each time reads every file of it; a resident follower scans every
cycle. A `RawView` reads the whole raw lake once, then only the files that appeared
since its last `refresh`. Lake files are written once under a name of their own; a
file that went away (an erasure or a compaction rewrote the table) means a full
read again.
"""

from __future__ import annotations

from collections import defaultdict

from ingest import duck
from ingest.lake import Lake
from ingest.raw_table import LatestVersion
from ingest.tables import RAW

# Per document: the latest version, and the version and hash of its latest upsert.
_HEADS_SQL = """
SELECT tenant, document_id, max(version), arg_max(op, version), arg_max(content_hash, version),
       arg_max(coalesce(requested, ''), version), arg_max(source_root, version),
       max(version) FILTER (WHERE op = 'upsert'), arg_max(content_hash, version) FILTER (WHERE op = 'upsert')
FROM raw GROUP BY tenant, document_id
"""
_ERASED_SQL = """
SELECT DISTINCT tenant, unnest(subjects) FROM raw
WHERE op = 'delete' AND coalesce(requested, '') <> ''
"""


class RawView:
    """Each tenant's latest versions and erased subjects, as of the last `refresh`."""

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self._files: set[str] | None = None
        self._heads: dict[str, dict[str, tuple[LatestVersion, int]]] = defaultdict(dict)  # + latest upsert version
        self._erased: dict[str, set[str]] = defaultdict(set)

    def refresh(self) -> None:
        files = set(self.lake.files(RAW))
        if self._files is None or not self._files <= files:
            self._heads, self._erased = defaultdict(dict), defaultdict(set)
            self._read(files)
        elif files != self._files:
            self._read(files - self._files)
        self._files = files

    def _read(self, files: set[str]) -> None:
        if not files:
            return
        with duck.connect() as con:
            con.register(RAW.name, self.lake.dataset_of(files, RAW.schema))
            heads = con.execute(_HEADS_SQL).fetchall()
            erased = con.execute(_ERASED_SQL).fetchall()
        for tenant, doc, version, op, digest, requested, root, upsert_version, upsert_hash in heads:
            known = self._heads[tenant].get(doc)
            if known is not None:
                head, known_upsert = known
                if (upsert_version or 0) < known_upsert:  # an older upsert landed late: the known one stays
                    upsert_version, upsert_hash = known_upsert, head.upsert_hash
                if version < head.version:
                    version, op, digest, requested, root = (head.version, head.op, head.content_hash,
                                                            head.requested, head.source_root)
            self._heads[tenant][doc] = (LatestVersion(version, op, digest, requested, upsert_hash, root),
                                        upsert_version or 0)
        for tenant, subject in erased:
            self._erased[tenant].add(subject)

    def latest_versions(self, tenant: str) -> dict[str, LatestVersion]:
        return {doc: head for doc, (head, _) in self._heads.get(tenant, {}).items()}

    def erased_subjects(self, tenant: str) -> set[str]:
        return set(self._erased.get(tenant, set()))
