"""Data files packaged with Reach (the Google product taxonomy)."""
