"""Fixtures for the Telegram tests: a fake Bot API server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.telegram.fake_bot_api import FakeBotApi


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    with FakeBotApi() as fake:
        yield fake
