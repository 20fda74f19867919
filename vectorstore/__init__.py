"""Vectorstore: embedding (batched, on the GPU when there is one), the vector index
adapters, index synchronisation with the lake, and search."""
