"""Exceptions raised by the transforms layer (a family under governance.errors.FactoryError).

    TransformError
     +-- TokenizerError         no tokenizer folder was given, or it has no usable tokenizer (tokens.py)
     +-- TransformWorkerError   the faust worker process died (worker.py)
     +-- EmptyDocumentError     no text is left after normalisation; dead-lettered (process.py)

Each keeps the built-in base it had (RuntimeError, ValueError) for callers that catch that.
"""

from governance.errors import FactoryError


class TransformError(FactoryError):
    """Base of every error raised by `transforms`."""
