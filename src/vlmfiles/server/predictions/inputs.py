"""What a generate request may name as its input, checked when it is submitted.

An input is recorded in the prediction row as one of::

    {"kind": "file", "file_id": ...}               a file of the tenant's (by id, or by one
                                                   of our own file URLs: never fetched
                                                   over HTTP, see ``own_file_id``)
    {"kind": "data", "media_type": ..., "data": <base64>}
                                                   a data URL's bytes, kept in the row so a
                                                   worker on another machine can read them
    {"kind": "url", "url": ...}                    an outside http(s) URL, fetched by the
                                                   worker (``fetch.py``: size cap, timeout,
                                                   no private addresses)

Everything that can be decided here is a 400 now, not a failed job later.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import BadRequest
from ..security import UrlSigner

Input = dict[str, Any]

_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[\w=.+-]+)*;base64,", re.IGNORECASE)
_FILE_PATH = re.compile(r"^/v1/files/([A-Za-z0-9_-]{1,40})(?:/content)?$")


def data_input(url: str, what: str) -> Input:
    """A ``data:<type>;base64,...`` URL, decoded once here to refuse bad base64 with a 400."""
    m = _DATA_URL.match(url)
    if m is None:
        raise BadRequest(
            f"{what} is not a base64 data URL: expected 'data:<media type>;base64,<data>' "
            "or an http(s) URL."
        )
    payload = url[m.end() :]
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{what}: the data URL's base64 payload is not valid base64.") from None
    if not raw:
        raise BadRequest(f"{what}: the data URL holds no bytes.")
    return {
        "kind": "data",
        "media_type": (m.group(1) or "application/octet-stream").lower(),
        "data": payload,
    }


def own_file_id(url: str, tenant_id: str, public_url: str, signer: UrlSigner) -> str | None:
    """The file id if ``url`` is one of this server's file URLs (a signed content URL, or
    ``/v1/files/{id}[/content]``), after checking it is the tenant's own; else None."""
    parts = urlsplit(url)
    base = urlsplit(public_url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return None
    m = _FILE_PATH.match(parts.path)
    if m is None:
        return None
    file_id = m.group(1)
    query = parse_qs(parts.query)
    if "signature" in query:
        owner = query.get("tenant", [""])[0]
        reason = signer.verify(
            "GET",
            owner,
            query.get("key", [""])[0],
            file_id,
            query.get("expires", [""])[0],
            query["signature"][0],
        )
        if reason is not None:
            raise BadRequest(f"The file URL {url[:200]!r} cannot be used: {reason}.")
        if owner != tenant_id:
            raise BadRequest("The file URL names another tenant's file; use your own files.")
    return file_id


def check_outside_url(url: str, allow_private: bool) -> Input:
    """An outside URL: http(s), with a host, not a literal private address (a name is
    checked again, resolved, when the worker connects: ``fetch.GuardedBackend``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(
            f"Unsupported input URL {url[:200]!r}: use an http(s) URL, a data URL or a file_id."
        )
    if not allow_private and not is_public_host(parts.hostname):
        raise BadRequest(
            f"The input URL's host {parts.hostname!r} is a loopback, private or link-local "
            "address, which this server does not fetch (VLMFILES_ALLOW_PRIVATE_URLS)."
        )
    return {"kind": "url", "url": url}


def is_public_host(host: str) -> bool:
    """False for ``localhost`` and literal non-global addresses; True for other names."""
    if host.lower().rstrip(".") in ("localhost", "localhost.localdomain") or host.endswith(
        ".localhost"
    ):
        return False
    try:
        return is_public_address(host.strip("[]"))
    except ValueError:
        return True  # a name: checked when resolved


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
