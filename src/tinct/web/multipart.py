"""``multipart/form-data`` bodies (``curl -F``) parsed in memory with the standard library's email
parser: no temporary file, unlike form parsers that spool large parts to disk."""

from __future__ import annotations

import email.parser
import email.policy

from tinct.errors import TinctError


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """``multipart/form-data`` -> {field: (file name or None, bytes)}.

    Args:
        content_type: the request's Content-Type header, with its ``boundary``.
        body: the whole request body (already limited in size by the server).
    """
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart():
        raise TinctError("the form is not valid multipart/form-data")
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields
