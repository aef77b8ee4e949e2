"""HTML-form bodies (application/x-www-form-urlencoded), as the token endpoint and the consent
page receive them."""

from __future__ import annotations

from urllib.parse import parse_qs

FORM = "application/x-www-form-urlencoded"


class FormError(ValueError):
    """A form body that cannot be read; its message says why."""


def parse_form(raw: bytes) -> dict[str, str]:
    """The fields of a form body; a field sent twice is refused (RFC 6749 §3.2: "Request and
    response parameters MUST NOT be included more than once")."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("The form body is not UTF-8") from None
    fields = parse_qs(text, keep_blank_values=True)
    repeated = sorted(name for name, values in fields.items() if len(values) > 1)
    if repeated:
        raise FormError(f"Parameters sent more than once: {', '.join(repeated)}")
    return {name: values[0] for name, values in fields.items()}
