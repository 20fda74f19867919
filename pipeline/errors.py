"""Exceptions raised by the stage floor (a family under governance.errors.FactoryError);
both front doors (the CLI, Dagster) and the API service run these operations.

    PipelineError
     +-- DeleteRequestError       a delete request that names nothing, or names it badly (deletes.py)
     +-- ErasureIncompleteError   the subject is still written somewhere after erasure (erasure.py)
     +-- PeriodError              a usage period that cannot be read (usage_report.py)
     +-- QuarantineError          a review of a chunk that is not quarantined, or without a reason

stream.StopRequested is not one: it asks a wait to return, it reports nothing.
"""

from governance.errors import FactoryError


class PipelineError(FactoryError):
    """Base of every error raised by `pipeline`."""


class EncryptionOffError(PipelineError):
    """A key operation on a home without encryption at rest."""


class QuarantineError(PipelineError):
    """A review that names no quarantined chunk of the tenant, or gives no reason (quarantine.py)."""
