"""Benchmark harness (`make bench`): never imported by the product."""
