"""OAuth2 client credentials, the clients registry, and the access checks of every call."""
