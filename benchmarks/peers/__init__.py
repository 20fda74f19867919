"""Side-by-side benchmarks against the systems a user would pick instead (see run.py)."""
