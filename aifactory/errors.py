"""Exceptions raised by aifactory's commands and the operations behind them (a family
under governance.errors.FactoryError); the CLI and the API service run those operations.

    CommandError
     +-- UsageError               a command asked for something that cannot be (commands.py)
     +-- EvaluationError          an evaluation that could not measure what it was asked to (evaluate.py)
     +-- PeriodError              a usage period that cannot be read (usage_report.py)
     +-- DeleteRequestError       a delete request that names nothing, or names it badly (deletes.py)
     +-- ErasureIncompleteError   the subject is still written somewhere after erasure (erasure.py)

pipeline.StopRequested is not one: it asks a wait to return, it reports nothing.
"""

from governance.errors import FactoryError


class CommandError(FactoryError):
    """Base of every error raised by `aifactory`."""
