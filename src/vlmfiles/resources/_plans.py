"""Sans-I/O plans: one generator per operation, run by a sync or an async driver.

A prediction call (encode images, upload a file, submit, poll until done) is written once,
as a generator that yields what it needs done (a ``RequestOptions``, a ``Sleep``, an
``Upload``, some ``Blocking`` work) and receives the result. ``run`` performs the steps with
``Client``, ``arun`` with ``AsyncClient`` (blocking work in a worker thread), so the sync and
async resources cannot drift apart: they share every decision and differ only here.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .._base_client import RequestOptions
from .._uploads import FileSource

if TYPE_CHECKING:
    from .._client import AsyncClient, Client

T = TypeVar("T")


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Upload:
    """Upload a local file with ``client.files.upload``; the result is its ``FileResponse``."""

    file: FileSource
    purpose: str = "assistants"


@dataclass(frozen=True)
class Blocking:
    """CPU or disk work (reading and encoding images): a worker thread under ``arun``."""

    fn: Callable[[], Any]


Step = RequestOptions | Sleep | Upload | Blocking
Plan = Generator[Step, Any, T]
"""A request step is answered with the response's parsed JSON."""


def run(client: Client, plan: Plan[T]) -> T:
    result: Any = None
    try:
        while True:
            step = plan.send(result)
            if isinstance(step, RequestOptions):
                result = client.request(step).json()
            elif isinstance(step, Sleep):
                client._sleep(step.seconds)
                result = None
            elif isinstance(step, Upload):
                result = client.files.upload(step.file, purpose=step.purpose)
            else:
                result = step.fn()
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        plan.close()


async def arun(client: AsyncClient, plan: Plan[T]) -> T:
    result: Any = None
    try:
        while True:
            step = plan.send(result)
            if isinstance(step, RequestOptions):
                result = (await client.request(step)).json()
            elif isinstance(step, Sleep):
                await client._sleep(step.seconds)
                result = None
            elif isinstance(step, Upload):
                result = await client.files.upload(step.file, purpose=step.purpose)
            else:
                result = await anyio.to_thread.run_sync(step.fn)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        plan.close()
