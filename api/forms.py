"""Url-encoded form bodies (the OAuth2 token request, the console's forms), parsed without python-multipart."""

from __future__ import annotations

from urllib.parse import parse_qs

from crowdship.errors import InvalidInput

MAX_FORM_FIELDS = 500


def url_encoded_fields(body: bytes) -> dict[str, list[str]]:
    """Every field's values; more fields than any form of ours has is refused, not parsed."""
    try:
        return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:  # parse_qs's "Max number of fields exceeded"
        raise InvalidInput("form", f"more than {MAX_FORM_FIELDS} fields; no form here has that many") from None
