"""Reproducible benchmarks that write JSON reports (not part of the test run)."""
