"""Reference data: advertisers, the brand catalogue, in-market interests and countries."""
