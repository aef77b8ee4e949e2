"""The Reach console: web pages where operators build segments and audiences and see their
true sizes while they edit, served by the API's own process (docs/console.md)."""
