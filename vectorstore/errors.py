"""Exceptions raised by the vectorstore layer (a family under governance.errors.FactoryError).

    VectorStoreError
     +-- EmbedderError      the embedding model cannot be found or loaded (embedder.py)
     +-- OnnxUnavailable    onnxruntime or onnx is not installed (onnx_backend.py)
     +-- IndexUnavailable   the Qdrant server cannot be reached or refused a request (qdrant.py)
     +-- IndexBusyError     the embedded index is held by another process (edge.py)
     +-- SearchError        a search request that cannot be served as asked (search.py)

Each keeps the built-in base it had (RuntimeError, ValueError) for callers that catch that.
The HTTP API's ApiProblem (api/problems.py) is not one: it is an answer to a request.
"""

from governance.errors import FactoryError


class VectorStoreError(FactoryError):
    """Base of every error raised by `vectorstore`."""
