"""Reach as a deployed service: container, health, logs, metrics, workers, export, install."""
