"""Audiences: and/or/not combinations of segments, and their links to ad sets."""
