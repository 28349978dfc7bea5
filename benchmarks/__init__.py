"""Benchmarks: the performance suite (see benchmarks/RESULTS.md once it runs)."""
