"""Exceptions raised by the `aifactory` command line (a family under
governance.errors.FactoryError).

    CommandError
     +-- UsageError               a command asked for something that cannot be (commands.py)
     +-- EvaluationError          an evaluation that could not measure what it was asked to (evaluate.py)
"""

from governance.errors import FactoryError


class CommandError(FactoryError):
    """Base of every error raised by `aifactory`."""
