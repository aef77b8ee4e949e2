"""Sandbox controls under ``/_reach/``: reset the store, inject faults, read the request journal."""

# How long an admin token works, in hours: here, without the web stack ``auth`` loads, so that
# ``reach admin token --help`` can show them.
DEFAULT_HOURS = 24.0
MAX_HOURS = 24.0 * 366
