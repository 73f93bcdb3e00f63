"""Identifiers, API keys and signed URLs.

API keys are random 256-bit tokens (``vlmf_…``). Only their sha256 is stored: a key has
enough entropy that a slow password hash adds nothing, and a fast hash keeps the lookup on
every request an index probe.

Signed URLs let a prediction service fetch a file (or an SDK PUT an upload) without the API
key. The signature is an HMAC-SHA256 over the method, tenant, API key id, file id and
expiry, so a URL cannot be moved to another file, tenant, key or method, nor have its expiry
extended; the server checks that its key is still live, so revoking a key ends its URLs. Signed URLs
are always built on the configured public base URL, never on the request's Host header.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus

KEY_PREFIX = "vlmf_"


# A file id: ``file_``, its creation time (13 hex digits of microseconds since the epoch),
# then 12 random hex digits. Ids of this length carry a listing's sort key, so a cursor
# (``after=<id>``) keeps its place even once its file is deleted.
_TIME_DIGITS, _RANDOM_DIGITS = 13, 12


def new_file_id(created_us: int) -> str:
    return f"file_{created_us:0{_TIME_DIGITS}x}{secrets.token_hex(_RANDOM_DIGITS // 2)}"


def file_id_time(file_id: str) -> int | None:
    """The creation time a file id carries (microseconds), or None for another shape
    (ids minted before ids carried it)."""
    digits = file_id.removeprefix("file_")
    if len(digits) != _TIME_DIGITS + _RANDOM_DIGITS or len(digits) == len(file_id):
        return None
    try:
        int(digits, 16)
    except ValueError:
        return None
    return int(digits[:_TIME_DIGITS], 16)


def new_tenant_id() -> str:
    return "tnt_" + secrets.token_hex(8)


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def load_or_create_secret(data_dir: Path) -> bytes:
    """The data dir's signing secret, created (0600) on first use. The key is the file's
    text, exactly as ``VLMFILES_SECRET_KEY`` would give it, so a deployment can move to the
    environment variable without invalidating the URLs it signed."""
    path = data_dir / "secret.key"
    try:
        return path.read_text().strip().encode()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret.hex())
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # atomic and fails if another process won the race
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class UrlSigner:
    secret: bytes
    public_url: str  # e.g. http://127.0.0.1:8000 (no /v1)
    # The HMAC keyed once; each signature copies it (a listing signs a URL per file).
    _keyed: hmac.HMAC = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_keyed", hmac.new(self.secret, digestmod="sha256"))

    def _signature(
        self, method: str, tenant_id: str, key_id: str, file_id: str, expires: int
    ) -> str:
        mac = self._keyed.copy()
        mac.update(f"{method}\n{tenant_id}\n{key_id}\n{file_id}\n{expires}".encode())
        return mac.hexdigest()

    def sign(
        self, method: str, path: str, tenant_id: str, key_id: str, file_id: str, ttl: int
    ) -> tuple[str, int]:
        """A signed URL for ``path`` (under the public URL) and its expiry (unix seconds),
        valid while the API key ``key_id`` that asked for it is."""
        expires = int(time.time()) + ttl
        # Built by hand, not by urlencode() (ids are URL-safe, expires digits, the signature
        # hex): a listing signs a URL per file.
        signature = self._signature(method, tenant_id, key_id, file_id, expires)
        query = (
            f"tenant={quote_plus(tenant_id)}&key={quote_plus(key_id)}"
            f"&expires={expires}&signature={signature}"
        )
        return f"{self.public_url}{path}?{query}", expires

    def verify(
        self, method: str, tenant_id: str, key_id: str, file_id: str, expires: str, signature: str
    ) -> str | None:
        """None when valid, else the reason it is not (the key's liveness is the caller's
        to check: it takes the database)."""
        if not signature.isascii():
            return "the signature does not match this URL"
        try:
            exp = int(expires)
        except ValueError:
            return "the expires parameter is not a number"
        expected = self._signature(method, tenant_id, key_id, file_id, exp)
        if not hmac.compare_digest(expected, signature):
            return "the signature does not match this URL"
        if exp <= int(time.time()):
            return "the URL has expired"
        return None
