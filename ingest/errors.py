"""Exceptions raised by the ingest layer (a family under governance.errors.FactoryError).

    IngestError
     +-- BrokerError        the embedded broker would not start, or Kafka is unreachable
     +-- SourceError        a source document cannot be read or parsed (dead-lettered)
     |    +-- LimitExceeded  an input is larger than a configured limit (ingest/limits.py)
     +-- LakeError          a lake file cannot be written or read
     +-- LandingTimeout     landing did not see everything it waited for in time
"""

from governance.errors import FactoryError


class IngestError(FactoryError):
    """Base of every error raised by `ingest`."""


class BrokerError(IngestError):
    """The embedded broker would not start, or the Kafka cluster is unreachable."""


class SourceError(IngestError):
    """A source document cannot be read or parsed."""


class LakeError(IngestError):
    """A lake file cannot be written or read."""


class LandingTimeout(IngestError):
    """Landing did not see every record it waited for in time."""
