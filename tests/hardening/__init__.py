"""Hardening: one module per way Reach was attacked or misused, each case a regression test.

test_privacy (differencing attacks on sizes), test_input (no 500 from input), test_bounds
(bounded work per request; the audience algebra's leaf cap is in tests/audience/test_create.py),
test_http_limits (header caps and timeouts), test_tokens (token endpoint and bad-token limits,
rotation, tokens in the URL), test_availability (a stuck or missing database), test_files
(owner-only files, quoted paths, scratch files), test_byod (bringing your own data),
test_cli_start (a CLI that starts fast and explains itself), test_schemathesis (the official
spec, driven).
"""
