"""How every leased work queue is worked off (templates, media, the merchant platform): claim what is
due (a lease, taken and committed in its own transaction), handle each job, and go on batch after
batch until nothing is due. One job's unexpected failure is logged and never stops the others; its
lease brings it back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

J = TypeVar("J")


async def drain(
    claim: Callable[[], Awaitable[list[J]]],
    handle: Callable[[J], Awaitable[None]],
    *,
    log: logging.Logger,
    name: Callable[[J], str],
    together: bool = False,
) -> int:
    """Handle every job `claim` hands out (one after another, or a batch `together`); returns how
    many were claimed. `name` says which job an unexpected failure was, in `log`."""

    async def safely(job: J) -> None:
        try:
            await handle(job)
        except Exception:
            log.exception("unexpected error handling %s", name(job))

    total = 0
    while jobs := await claim():
        total += len(jobs)
        if together:
            await asyncio.gather(*(safely(job) for job in jobs))
        else:
            for job in jobs:
                await safely(job)
    return total
