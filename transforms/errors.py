"""Exceptions raised by the transforms layer (a family under governance.errors.FactoryError).

    TransformError
     +-- TokenizerError         no tokenizer folder was given, or it has no usable tokenizer (tokens.py)
     +-- TransformWorkerError   the faust worker process died (worker.py)
     +-- EmptyDocumentError     no text is left after normalisation; dead-lettered (process.py)
     +-- TransformFailed        an unexpected error on one event (a bug): dead-lettered, the worker goes on (app.py)

Each keeps the built-in base it had (RuntimeError, ValueError) for callers that catch that.
"""

from governance.errors import FactoryError


class TransformError(FactoryError):
    """Base of every error raised by `transforms`."""


class TransformFailed(TransformError, RuntimeError):
    """An unexpected error while chunking one event: a bug the input revealed. The
    event is dead-lettered with this error and the worker goes on; the worker's log
    has the traceback, and `aifactory dlq replay` retries the event after a fix."""
