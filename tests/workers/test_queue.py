"""Working off a leased queue: every claimed job is handled, batch after batch, and one job's
unexpected failure is logged without stopping the others."""

from __future__ import annotations

import logging

import pytest

from app.workers.queue import drain


@pytest.mark.parametrize("together", [False, True])
async def test_a_failing_job_is_logged_and_the_others_are_still_handled(caplog, together: bool):
    batches = [[1, 2, 3], [4], []]
    handled: list[int] = []

    async def claim() -> list[int]:
        return batches.pop(0)

    async def handle(job: int) -> None:
        if job == 2:
            raise RuntimeError("boom")
        handled.append(job)

    log = logging.getLogger("sufrah.test-queue")
    with caplog.at_level(logging.ERROR, logger=log.name):
        total = await drain(claim, handle, log=log, name=lambda job: f"job {job}", together=together)
    assert total == 4 and sorted(handled) == [1, 3, 4] and batches == []
    assert [r.getMessage() for r in caplog.records] == ["unexpected error handling job 2"]
