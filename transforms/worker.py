"""Run the faust worker as its own process, and supervise it from a command.

    python -m transforms.worker      (reads KAFKA_BOOTSTRAP_SERVERS, AIFACTORY_TOPIC_PREFIX and
                                      AIFACTORY_TOKENIZER_DIR)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import faust

from ingest.processes import popen_tied, stop_group
from ingest.settings import KafkaSettings
from transforms.app import create_app, internal_topics
from transforms.errors import TransformError
from transforms.settings import TransformSettings

if TYPE_CHECKING:
    from ingest.kafka import KafkaConnection

STOP_GRACE_S = 15.0
# With the broker gone the worker cannot commit or leave its group, so its shutdown only
# waits out client timeouts; nothing it holds is needed (outcomes are read from the lake).
DEAD_BROKER_GRACE_S = 1.0


class TransformWorkerError(TransformError, RuntimeError):
    """The faust worker process died."""


class TransformWorker:
    """The faust worker as a child process in its own process group, dying with its parent."""

    def __init__(self, conn: KafkaConnection, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.conn, self.log_path, self.extra_env = conn, log_path, env or {}
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> TransformWorker:
        self.conn.ensure_topics(internal_topics(self.conn.settings))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.conn.bootstrap_servers,
               "AIFACTORY_LOG_EPOCH": self.conn.epoch,
               "AIFACTORY_TOPIC_PREFIX": self.conn.settings.topic_prefix,
               "AIFACTORY_TOPIC_PARTITIONS": str(self.conn.settings.partitions),
               # The child sees the broker's address, not whether it is the embedded one.
               "AIFACTORY_WORKER_SESSION_TIMEOUT_MS": str(self.conn.settings.worker_session_ms),
               "AIFACTORY_WORKER_DATADIR": str(self.log_path.parent / "faust"), **self.extra_env}
        with self.log_path.open("ab") as out:
            self._proc = popen_tied([sys.executable, "-m", "transforms.worker"], env=env,
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def check(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise TransformWorkerError(
                f"the transform worker exited with code {self._proc.returncode}; "
                f"its log is {self.log_path}:\n{tail}")

    def request_stop(self) -> None:
        """Signal the worker to stop (it commits what it processed and leaves its group)
        without waiting for its exit, which takes a second or more; `stop` waits."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        # A second SIGTERM after request_stop is ignored by the worker (mode acts on the first).
        proc, self._proc = self._proc, None
        stop_group(proc, STOP_GRACE_S if self.conn.alive else DEAD_BROKER_GRACE_S)

    def __enter__(self) -> TransformWorker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main() -> None:
    settings = KafkaSettings()
    if settings.embedded:
        sys.exit("transforms.worker needs KAFKA_BOOTSTRAP_SERVERS; `aifactory run` starts it for the embedded broker")
    epoch = os.environ.get("AIFACTORY_LOG_EPOCH")
    if not epoch:
        # Imported here: kafka-python costs the worker's start ~0.2 s, and the parent names the epoch.
        from ingest.kafka import cluster_epoch
        epoch = cluster_epoch(settings.bootstrap_servers, settings)
    app = create_app(settings, settings.bootstrap_servers, epoch, TransformSettings())
    faust.Worker(app, loglevel=os.environ.get("AIFACTORY_WORKER_LOGLEVEL", "warning")).execute_from_commandline()


if __name__ == "__main__":
    main()
