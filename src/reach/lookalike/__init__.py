"""Lookalike segments: models built off the request path, their members kept on disk."""
