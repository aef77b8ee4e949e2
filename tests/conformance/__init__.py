"""Conformance: a real Reach server process driven through the official Criteo SDK."""
