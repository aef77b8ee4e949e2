"""Reach: a self-hosted audience segmentation server."""
