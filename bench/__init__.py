"""Benchmarks: `make bench` reproduces every number in docs/benchmarks.md."""
