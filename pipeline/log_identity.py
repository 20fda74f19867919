"""Which instance of each topic a cluster's log positions point into.

A cluster keeps its id when a topic is deleted and made again, and the new topic can fill
up past the offsets the raw lake remembers: those offsets then hold other records, and a
pending event would be waited for in vain. The id each topic had when this data directory
first used it under a log epoch is kept in `state/log-topics.json`
({epoch: {topic: topic id}}); positions in a topic whose id has changed since are not held.
Only for a cluster: the embedded broker's epoch is new at every start.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ingest.kafka import KafkaConnection
from pipeline.factory import Factory
from pipeline.scan import Position


def _path(factory: Factory) -> Path:
    return factory.settings.home / "state" / "log-topics.json"


def _load(factory: Factory) -> dict[str, dict[str, str]]:
    path = _path(factory)
    try:
        return dict(json.loads(path.read_text())) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def _save(factory: Factory, known: dict[str, dict[str, str]]) -> None:
    path = _path(factory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
    os.replace(tmp, path)


def held_positions(factory: Factory, conn: KafkaConnection) -> Callable[[Iterable[Position]], set[Position]]:
    """`conn.held`, less the positions in a topic made again since this home first used it."""
    def held(positions: Iterable[Position]) -> set[Position]:
        wanted = set(positions)
        if conn.broker is None:
            known = _load(factory).get(conn.epoch, {})
            now = conn.topic_ids(t for t, _, _ in wanted)
            remade = {t for t in now if known.get(t) and known[t] != now[t]}
            wanted = {p for p in wanted if p[0] not in remade}
        return conn.held(wanted)
    return held


def remember_topics(factory: Factory, conn: KafkaConnection, topics: Iterable[str]) -> None:
    """Keep the topics' ids under this epoch: once, and again after a topic was made anew."""
    if conn.broker is not None:
        return
    known = _load(factory)
    mine = known.setdefault(conn.epoch, {})
    now = conn.topic_ids(topics)
    if all(mine.get(t) == i for t, i in now.items()):
        return
    mine.update(now)
    _save(factory, known)
