"""Transforms: stream processing with faust-streaming, and the pure functions its
agents call (normalise, chunk), plus the lake table of chunks."""
