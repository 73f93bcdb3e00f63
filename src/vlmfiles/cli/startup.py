"""What ``vlmfiles serve`` tells at every start: where it answers, where its data lives, how
to get a key, and which base URL its signed URLs carry (warned when others cannot reach it)."""

from __future__ import annotations

import ipaddress
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def key_command(settings: Any, default_dir: Path) -> str:
    """The ``vlmfiles keys create`` line that reaches this server's keys."""
    if settings.database_url:
        return "vlmfiles keys create --database-url URL  (the database URL this server uses)"
    if settings.data_dir.resolve() == default_dir.resolve():
        return "vlmfiles keys create"
    return f"vlmfiles keys create --data-dir {shlex.quote(str(settings.data_dir.resolve()))}"


def start_lines(settings: Any, default_dir: Path, new_key: str | None) -> list[str]:
    base = settings.resolved_public_url + "/v1"
    public = settings.resolved_public_url
    lines = [f"vlmfiles: serving the Files and predictions API at {base}  (docs: {public}/docs)"]
    if settings.database_url is None or settings.storage_url is None:
        lines.append(f"  data dir:    {settings.data_dir.resolve()}")
    if settings.database_url is not None:
        lines.append(f"  database:    {redact(settings.database_url)}")
    if settings.storage_url is not None:
        lines.append(f"  blob store:  {settings.storage_url}")
    lines.append(f"  signed URLs: {public}/v1/files/...  (set with --public-url)")
    lines.append(f"  API keys:    {key_command(settings, default_dir)}  prints a new one")
    if getattr(settings, "vlm_base_url", None):
        # The endpoint's URL and model only: the key (vlm_api_key) is never printed.
        url = urlsplit(settings.vlm_base_url)
        if url.password:
            url = url._replace(netloc=url.netloc.replace(f":{url.password}@", ":***@"))
        lines.append(f"  model:       {settings.vlm_model} at {url.geturl()}")
    if new_key is not None:
        lines += [
            "",
            "No API key existed, so one was created for tenant 'default' (it is not shown "
            "again). Use it with:",
            "",
            f"    export VLMRUN_API_KEY={new_key}",
            f"    export VLMRUN_BASE_URL={base}",
            "",
        ]
    if not is_loopback(settings.host) and is_loopback(_url_host(public)):
        lines.append(
            f"warning: listening on {settings.host} but signed URLs name {public}, which "
            "other machines cannot reach: start with --public-url http://THIS-HOST:"
            f"{settings.port} (the address clients use)"
        )
    return lines
