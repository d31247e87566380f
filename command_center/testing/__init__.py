"""Helpers for tests and benchmarks: real servers on free ports, test processors."""
