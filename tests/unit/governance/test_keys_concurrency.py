"""The key store across processes: `keys create` and `keys revoke` run at once from
several processes lose no key and no revocation."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from governance.keys import KeyStore
from pipeline.settings import PROJECT_ROOT

WRITERS = 4
ROUNDS = 25
# Each writer waits for the start file, then creates a key and revokes one of its own
# keys made beforehand, ROUNDS times; it prints the ids it created and revoked.
WRITER = """
import json, sys, time
from pathlib import Path
from governance.keys import KeyStore
store, go, revoke = KeyStore(Path(sys.argv[1])), Path(sys.argv[2]), sys.argv[3].split(",")
while not go.exists():
    time.sleep(0.001)
created = []
for key_id in revoke:
    created.append(store.create("acme", "reader", ["eu-central"])[0].key_id)
    store.revoke(key_id)
print(json.dumps({"created": created, "revoked": revoke}))
"""


def test_concurrent_creates_and_revokes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "api-keys.json"
    store = KeyStore(path)
    planned = [[store.create("acme", "reader", ["eu-central"])[0].key_id for _ in range(ROUNDS)]
               for _ in range(WRITERS)]
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(go), ",".join(ids)], cwd=PROJECT_ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for ids in planned]
    time.sleep(0.5)  # let every writer start and wait at the line
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, f"a writer failed:\n{err[-2000:]}"
    outcome = [json.loads(out) for out, _ in results]
    keys = {k.key_id: k for k in KeyStore(path).list()}
    created = {k for o in outcome for k in o["created"]}
    revoked = {k for o in outcome for k in o["revoked"]}
    assert len(created) == WRITERS * ROUNDS
    assert created - set(keys) == set(), "created keys were lost"
    assert {k for k in revoked if not keys[k].revoked} == set(), "revocations were lost"
    assert {k for k in created if keys[k].revoked} == set()
    assert not list(path.parent.glob("*.tmp")), "a temporary file was left behind"
