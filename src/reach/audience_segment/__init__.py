"""Audience segments: the create, update, delete and search operations of the Audience API."""
