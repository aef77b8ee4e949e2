"""Domain-free building blocks shared by every Reach package."""
