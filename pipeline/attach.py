"""How a process finds the running factory on its data directory: `aifactory up`'s
broker, whether the landers and transform workers run (then a command is their
client, see client.py), and how far the indexer has synced.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ingest.kafka import KafkaConnection, cluster_epoch
from pipeline.errors import PipelineError
from pipeline.factory import Factory
from pipeline.presence import Presence, running


class ServiceError(PipelineError):
    """A service cannot start (no broker to join) or stopped working."""


def up_card(home: Path) -> Presence | None:
    """`aifactory up` running on this data directory, with its broker's address."""
    found = running(home, "up")
    return found[0] if found else None


def broker_of(factory: Factory) -> tuple[str, str] | None:
    """(bootstrap servers, log epoch) of the running factory's broker: the cluster named
    by KAFKA_BOOTSTRAP_SERVERS, else the embedded one `aifactory up` holds; None without."""
    kafka = factory.settings.kafka
    if not kafka.embedded:
        epoch = os.environ.get("AIFACTORY_LOG_EPOCH") or cluster_epoch(kafka.bootstrap_servers, kafka)
        return kafka.bootstrap_servers, epoch
    card = up_card(factory.settings.home)
    if card is None:
        return None
    return str(card.detail["bootstrap"]), str(card.detail["epoch"])


def attached(factory: Factory) -> KafkaConnection | None:
    """A connection to the running factory when its landers and transform workers run
    on this data directory; None when they do not (a command then starts its own)."""
    home = factory.settings.home
    if not (running(home, "land") and running(home, "transform")):
        return None
    where = broker_of(factory)
    if where is None:
        return None
    return KafkaConnection(factory.settings.kafka, where[0], where[1])



def mark_path(home: Path) -> Path:
    return home / "state" / "indexer.json"


def synced_from(home: Path) -> float:
    """When the indexer's last finished pass began to read the lake (0 if never): the
    index holds every chunk row that was durable by then."""
    try:
        return float(json.loads(mark_path(home).read_text())["synced_from"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def mark(home: Path, began: float) -> None:
    path = mark_path(home)
    tmp = path.with_name(f".indexer.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"synced_from": began, "pid": os.getpid()}))
    os.replace(tmp, path)
