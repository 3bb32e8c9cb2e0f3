"""The Sufrah merchant platform's client (app/channels/sufrah): the API key it sends, the shapes it reads
and how failures map to PlatformFailed, against a local fake of the platform."""

from __future__ import annotations

import pytest

from app.channels.sufrah import SufrahPlatform
from app.errors import PlatformFailed
from tests.fakes.sufrah_api import OLAYA, FakeSufrah, furnish


@pytest.fixture
async def fake():
    async with FakeSufrah() as f:
        yield f


async def test_the_client_sends_the_key_and_maps_failures(fake):
    furnish(fake.merchant("m-1"))
    wrong = SufrahPlatform(base_url=fake.base_url, api_key="wrong", timeout=2.0)
    with pytest.raises(PlatformFailed) as refused:
        await wrong.branches("m-1")
    assert (refused.value.retryable, refused.value.status) == (False, 401)
    await wrong.aclose()

    right = SufrahPlatform(base_url=fake.base_url, api_key=fake.api_key, timeout=2.0)
    with pytest.raises(PlatformFailed) as unknown:
        await right.branches("nobody")
    assert (unknown.value.retryable, unknown.value.status) == (False, 404)
    fake.fail(502)
    with pytest.raises(PlatformFailed) as busy:
        await right.categories("m-1")
    assert busy.value.retryable
    cover = await right.check_availability("m-1", latitude=24.7, longitude=46.69)
    assert (cover.available, cover.branch_id) == (True, OLAYA)
    assert not (await right.check_availability("m-1", latitude=21.5, longitude=39.2)).available
    await right.aclose()

    down = SufrahPlatform(base_url="http://127.0.0.1:9/api", api_key="k", timeout=1.0)
    with pytest.raises(PlatformFailed) as unreachable:
        await down.branches("m-1")
    assert unreachable.value.retryable
    await down.aclose()
    with pytest.raises(PlatformFailed) as unconfigured:
        await SufrahPlatform(api_key=None).branches("m-1")
    assert not unconfigured.value.retryable
