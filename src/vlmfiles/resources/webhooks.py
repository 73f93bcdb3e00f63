"""``client.webhooks``: the secret the server signs ``callback_url`` deliveries with.

``Webhooks`` and ``AsyncWebhooks`` run the same plan (``_plans.py``); checking a delivery
needs no request: ``vlmfiles.verify_signature``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._base_client import RequestOptions
from ..exceptions import VlmFilesError
from ._plans import Plan, arun, run

if TYPE_CHECKING:
    from .._client import AsyncClient, Client

__all__ = ["AsyncWebhooks", "Webhooks"]


def secret_plan() -> Plan[str]:
    data: Any = yield RequestOptions("GET", "webhooks/secret")
    if not isinstance(data, dict) or not isinstance(data.get("secret"), str):
        raise VlmFilesError(f"GET webhooks/secret answered {data!r}, not {{'secret': ...}}")
    return str(data["secret"])


class Webhooks:
    def __init__(self, client: Client) -> None:
        self._client = client

    def secret(self) -> str:
        """This key's tenant's signing secret: pass it to ``vlmfiles.verify_signature``
        (or the official SDK's ``verify_webhook``) with each delivery's raw body."""
        return run(self._client, secret_plan())


class AsyncWebhooks:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def secret(self) -> str:
        """This key's tenant's signing secret (see ``Webhooks.secret``)."""
        return await arun(self._client, secret_plan())
