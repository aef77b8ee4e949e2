"""Sizes: how many people a segment, an audience or a definition reaches, from the index."""
