"""Benchmarks (run against the local stack)."""
