"""Contact lists: customer identifiers uploaded to ContactList segments, hashed on arrival."""
