"""Sandbox controls under ``/_reach/``: reset the store, inject faults, read the request journal."""
