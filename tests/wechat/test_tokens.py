"""Access tokens: cached, refreshed before expiry, shared between processes."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.handlers.wechat_tokens import (
    MemoryTokenStorage,
    MpClient,
    RedisTokenStorage,
    SqlTokenStorage,
    WorkClient,
)
from tests.wechat.conftest import CORP_ID, CORP_SECRET, MP_APP_ID, MP_SECRET, OPENID
from tests.wechat.fake_wechat_api import FakeWeChatAPI


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def sql_storage(path: Path, clock: Clock | None = None) -> SqlTokenStorage:
    engine = sa.create_engine(f"sqlite:///{path}")
    return SqlTokenStorage(engine, now=clock or time.time)


def test_two_processes_share_one_token(fake_api: FakeWeChatAPI, tmp_path: Path) -> None:
    db = tmp_path / "tokens.db"
    a = MpClient(MP_APP_ID, MP_SECRET, api_base=fake_api.base_url, session=sql_storage(db))
    b = MpClient(MP_APP_ID, MP_SECRET, api_base=fake_api.base_url, session=sql_storage(db))
    a.message.send_text(OPENID, "from a")
    b.message.send_text(OPENID, "from b")
    assert len(fake_api.calls_to("/cgi-bin/token")) == 1
    tokens = {c.query["access_token"] for c in fake_api.calls_to("/cgi-bin/message/custom/send")}
    assert len(tokens) == 1


def test_refreshed_before_expiry(fake_api: FakeWeChatAPI, tmp_path: Path) -> None:
    clock = Clock()
    storage = sql_storage(tmp_path / "t.db", clock)
    client = MpClient(MP_APP_ID, MP_SECRET, api_base=fake_api.base_url, session=storage)
    first = client.access_token
    clock.t += 7200 - 301  # still more than 5 minutes left: reuse
    assert client.access_token == first
    clock.t += 2  # inside the 5-minute margin: refresh before WeChat expires it
    second = client.access_token
    assert second != first
    assert len(fake_api.calls_to("/cgi-bin/token")) == 2


def test_concurrent_refresh_fetches_once(fake_api: FakeWeChatAPI, tmp_path: Path) -> None:
    fake_api.config.token_delay_seconds = 0.3
    db = tmp_path / "race.db"
    clients = [
        MpClient(MP_APP_ID, MP_SECRET, api_base=fake_api.base_url, session=sql_storage(db))
        for _ in range(6)
    ]
    got: list[str] = []
    threads = [threading.Thread(target=lambda c=c: got.append(c.access_token)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(fake_api.calls_to("/cgi-bin/token")) == 1
    assert len(set(got)) == 1 and len(got) == 6


def test_rejected_token_is_replaced_even_with_a_cached_copy(
    fake_api: FakeWeChatAPI, tmp_path: Path
) -> None:
    db = tmp_path / "t.db"
    a = MpClient(MP_APP_ID, MP_SECRET, api_base=fake_api.base_url, session=sql_storage(db))
    b = MpClient(MP_APP_ID, MP_SECRET, api_base=fake_api.base_url, session=sql_storage(db))
    a.message.send_text(OPENID, "1")
    fake_api.invalidate_tokens()
    a.message.send_text(OPENID, "2")  # 40001 -> a fetches a new token, stores it
    b.message.send_text(OPENID, "3")  # b picks the new one from the database
    assert len(fake_api.calls_to("/cgi-bin/token")) == 2
    results = fake_api.calls_to("/cgi-bin/message/custom/send")
    assert [c.body["text"]["content"] for c in results] == ["1", "2", "2", "3"]


def test_wecom_client_uses_gettoken(fake_api: FakeWeChatAPI) -> None:
    client = WorkClient(CORP_ID, CORP_SECRET, api_base=fake_api.base_url)
    client.message.send_text(1000002, "zhao", "hi")
    [call] = fake_api.calls_to("/cgi-bin/gettoken")
    assert call.query == {"corpid": CORP_ID, "corpsecret": CORP_SECRET}
    assert fake_api.calls_to("/cgi-bin/message/send")[0].body["touser"] == "zhao"


def test_memory_storage_expiry_and_lease() -> None:
    clock = Clock()
    storage = MemoryTokenStorage(now=clock)
    storage.set("k", "v", 600)
    assert storage.get("k") == "v"
    clock.t += 301
    assert storage.get("k") is None
    assert storage.acquire("lock") and not storage.acquire("lock")
    storage.release("lock")
    assert storage.acquire("lock")


class TinyRedis:
    """Just enough of redis-py's API (get/set with ex, nx, px/delete) for the storage."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, float | None]] = {}
        self.now = 0.0

    def get(self, key: str) -> bytes | None:
        item = self.data.get(key)
        if item is None or (item[1] is not None and item[1] <= self.now):
            return None
        return item[0]

    def set(
        self, key: str, value: Any, ex: int | None = None, px: int | None = None, nx: bool = False
    ) -> bool:
        if nx and self.get(key) is not None:
            return False
        ttl = ex if ex is not None else (px / 1000 if px is not None else None)
        raw = value.encode() if isinstance(value, str) else value
        self.data[key] = (raw, self.now + ttl if ttl else None)
        return True

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def test_redis_storage() -> None:
    redis = TinyRedis()
    a = RedisTokenStorage(redis)
    b = RedisTokenStorage(redis)
    a.set("tok", "T1", 7200)
    assert b.get("tok") == "T1"
    redis.now += 7200 - 299  # within the margin: gone, so it gets refreshed in time
    assert b.get("tok") is None
    assert a.acquire("refresh") and not b.acquire("refresh")
    b.release("refresh")  # not b's lease: stays
    assert not b.acquire("refresh")
    a.release("refresh")
    assert b.acquire("refresh")


@pytest.mark.redis
def test_real_redis_shares_the_token(fake_api: FakeWeChatAPI, redis_url: str) -> None:
    url = redis_url  # skipped where no Redis runs; required on CI
    prefix = f"tousu-test:{uuid.uuid4().hex}"
    a = MpClient(
        MP_APP_ID,
        MP_SECRET,
        api_base=fake_api.base_url,
        session=RedisTokenStorage.from_url(url, prefix=prefix),
    )
    b = MpClient(
        MP_APP_ID,
        MP_SECRET,
        api_base=fake_api.base_url,
        session=RedisTokenStorage.from_url(url, prefix=prefix),
    )
    assert a.access_token == b.access_token
    assert len(fake_api.calls_to("/cgi-bin/token")) == 1
