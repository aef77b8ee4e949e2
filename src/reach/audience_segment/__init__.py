"""Audience segments: the create, update, delete and search operations of the 2025-01 API."""
