"""Simulated days and benchmarks, on the same domain code as the live service."""
