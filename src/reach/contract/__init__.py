"""The official wire contract, served: the OpenAPI file for each API version and its docs page."""
