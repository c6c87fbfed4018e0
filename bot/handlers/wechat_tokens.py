"""Access tokens shared between processes, and wechatpy clients that use them.

WeChat and WeCom hand out one access token per app (2 h lifetime, a daily quota of
fetches); a new fetch invalidates the old token after a few minutes, so every replica
must use the same one. The token lives in a wechatpy `SessionStorage`:

- `SqlTokenStorage`: a small table in the application database (SQLAlchemy Core,
  created if missing), plus a lease row so that only one process refreshes at a time;
- `RedisTokenStorage`: the same with Redis (`SET NX PX` for the lease);
- `MemoryTokenStorage`: one process only (tests, a single dev server).

Every storage treats a token as gone `refresh_margin` seconds (default 300) before it
expires, so it is refreshed before WeChat rejects it. `MpClient` / `WorkClient` are
wechatpy's synchronous clients with a configurable API base (tests point them at a fake
server) and a refresh that waits for a refresh already under way in another process.
Call them from async code through `asyncio.to_thread` only.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from wechatpy.client import WeChatClient as _MpClient
from wechatpy.enterprise.client import WeChatClient as _WorkClient
from wechatpy.session import SessionStorage

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 300
LEASE_SECONDS = 15.0
WAIT_FOR_PEER_SECONDS = 5.0

metadata = sa.MetaData()
token_table = sa.Table(
    "wechat_token_cache",
    metadata,
    sa.Column("key", sa.String(191), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),  # unix time; NULL: no expiry
)
lease_table = sa.Table(
    "wechat_token_lease",
    metadata,
    sa.Column("key", sa.String(191), primary_key=True),
    sa.Column("holder", sa.String(64), nullable=False),
    sa.Column("until", sa.Float, nullable=False),
)


class TokenStorage(Protocol):
    """wechatpy's SessionStorage plus a lease for "only one of us refreshes"."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any, ttl: int | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def acquire(self, key: str, seconds: float = LEASE_SECONDS) -> bool: ...

    def release(self, key: str) -> None: ...


class MemoryTokenStorage(SessionStorage):  # type: ignore[misc]
    """In-process storage with expiry; shared by clients of this process only."""

    def __init__(
        self, refresh_margin: float = REFRESH_MARGIN_SECONDS, now: Callable[[], float] = time.time
    ) -> None:
        self.refresh_margin = refresh_margin
        self.now = now
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._leases: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, key: str, default: Any = None) -> Any:
        item = self._data.get(key)
        if item is None:
            return default
        value, expires_at = item
        if expires_at is not None and self.now() >= expires_at - self.refresh_margin:
            return default
        return value

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        self._data[key] = (value, self.now() + ttl if ttl else None)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def acquire(self, key: str, seconds: float = LEASE_SECONDS) -> bool:
        with self._lock:
            if self._leases.get(key, 0.0) > self.now():
                return False
            self._leases[key] = self.now() + seconds
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._leases.pop(key, None)


class SqlTokenStorage(SessionStorage):  # type: ignore[misc]
    """Tokens in the application database; any number of processes share them."""

    def __init__(
        self,
        engine: sa.Engine,
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
        now: Callable[[], float] = time.time,
        create: bool = True,
    ) -> None:
        self.engine = engine
        self.refresh_margin = refresh_margin
        self.now = now
        self.holder = uuid.uuid4().hex
        if create:
            metadata.create_all(engine, checkfirst=True)

    def get(self, key: str, default: Any = None) -> Any:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(token_table.c.value, token_table.c.expires_at).where(
                    token_table.c.key == key
                )
            ).first()
        if row is None:
            return default
        if row.expires_at is not None and self.now() >= row.expires_at - self.refresh_margin:
            return default
        return json.loads(row.value)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        values = {
            "value": json.dumps(value, ensure_ascii=False),
            "expires_at": self.now() + ttl if ttl else None,
        }
        with self.engine.begin() as conn:
            updated = conn.execute(
                sa.update(token_table).where(token_table.c.key == key).values(**values)
            ).rowcount
            if not updated:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(token_table).values(key=key, **values))
                except sa.exc.IntegrityError:  # a peer inserted it meanwhile: ours is newer
                    conn.execute(
                        sa.update(token_table).where(token_table.c.key == key).values(**values)
                    )

    def delete(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(token_table).where(token_table.c.key == key))

    def acquire(self, key: str, seconds: float = LEASE_SECONDS) -> bool:
        now = self.now()
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.update(lease_table)
                .where(lease_table.c.key == key, lease_table.c.until < now)
                .values(holder=self.holder, until=now + seconds)
            ).rowcount
            if taken:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(lease_table).values(
                            key=key, holder=self.holder, until=now + seconds
                        )
                    )
            except sa.exc.IntegrityError:
                return False
            return True

    def release(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.delete(lease_table).where(
                    lease_table.c.key == key, lease_table.c.holder == self.holder
                )
            )


class RedisTokenStorage(SessionStorage):  # type: ignore[misc]
    """Tokens in Redis (`TOUSU_REDIS_URL`); expiry is Redis's own, shortened by the margin."""

    def __init__(
        self,
        redis: Any,
        prefix: str = "tousu:wechat",
        refresh_margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.refresh_margin = refresh_margin
        self.holder = uuid.uuid4().hex

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisTokenStorage:
        import redis

        return cls(redis.Redis.from_url(url), **kwargs)

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.redis.get(self._key(key))
        if raw is None:
            return default
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is None:
            return
        ex = max(1, int(ttl - self.refresh_margin)) if ttl else None
        self.redis.set(self._key(key), json.dumps(value, ensure_ascii=False), ex=ex)

    def delete(self, key: str) -> None:
        self.redis.delete(self._key(key))

    def acquire(self, key: str, seconds: float = LEASE_SECONDS) -> bool:
        return bool(
            self.redis.set(self._key(f"lease:{key}"), self.holder, nx=True, px=int(seconds * 1000))
        )

    def release(self, key: str) -> None:
        lease = self._key(f"lease:{key}")
        current = self.redis.get(lease)
        if (
            current is not None
            and (current.decode() if isinstance(current, bytes) else current) == self.holder
        ):
            self.redis.delete(lease)


def token_storage(settings: Any, sql_engine: sa.Engine | None = None) -> SessionStorage:
    """Redis when `settings.redis_url` is set, else the database."""
    if getattr(settings, "redis_url", None):
        return RedisTokenStorage.from_url(settings.redis_url)
    engine = sql_engine or sa.create_engine(settings.database_url)
    return SqlTokenStorage(engine)


class _SharedToken:
    """Mixin for wechatpy clients: the storage decides freshness; one refresher at a time."""

    session: Any
    access_token_key: str
    _seen_token: str | None = None
    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def _token_request(self) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    @property
    def access_token(self) -> str:
        token = self.session.get(self.access_token_key)
        if not token:
            self.fetch_access_token()
            token = self.session.get(self.access_token_key)
        self._seen_token = token
        return str(token)

    def _peer_refreshed(self) -> str | None:
        cached = self.session.get(self.access_token_key)
        if cached and cached != self._seen_token:
            return str(cached)
        return None

    def fetch_access_token(self) -> dict[str, Any]:
        """Fetch a new token unless a peer just did; wait briefly for a peer's refresh.

        wechatpy also calls this after 40001/42001 (token rejected): then the cached token
        equals the one we used, so we fetch instead of handing it back.
        """
        key = f"refresh:{self.access_token_key}"
        acquire = getattr(self.session, "acquire", None)
        release = getattr(self.session, "release", None)
        deadline = time.monotonic() + WAIT_FOR_PEER_SECONDS
        while True:
            if acquire is None or acquire(key):
                try:
                    peer = self._peer_refreshed()
                    if peer:
                        return {"access_token": peer}
                    url, params = self._token_request()
                    log.info("fetching a new access token for %s", self.access_token_key)
                    result: dict[str, Any] = self._fetch_access_token(  # type: ignore[attr-defined]
                        url=url, params=params
                    )
                    return result
                finally:
                    if release is not None:
                        release(key)
            peer = self._peer_refreshed()
            if peer:
                return {"access_token": peer}
            if time.monotonic() > deadline:
                acquire = None  # the peer seems stuck: fetch ourselves
                continue
            self._sleep(0.05)


class MpClient(_SharedToken, _MpClient):  # type: ignore[misc]
    """Official Account client (`wechatpy.WeChatClient`) with a configurable API base."""

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        api_base: str = "https://api.weixin.qq.com",
        session: SessionStorage | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(appid, secret, session=session or MemoryTokenStorage(), timeout=timeout)
        self.api_base = api_base.rstrip("/")
        self.API_BASE_URL = f"{self.api_base}/cgi-bin/"

    def _token_request(self) -> tuple[str, dict[str, str]]:
        return f"{self.api_base}/cgi-bin/token", {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret,
        }


class WorkClient(_SharedToken, _WorkClient):  # type: ignore[misc]
    """WeCom app client (`wechatpy.enterprise.WeChatClient`) with a configurable API base."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        *,
        api_base: str = "https://qyapi.weixin.qq.com",
        session: SessionStorage | None = None,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(corp_id, secret, session=session or MemoryTokenStorage(), timeout=timeout)
        self.api_base = api_base.rstrip("/")
        self.API_BASE_URL = f"{self.api_base}/cgi-bin/"

    def _token_request(self) -> tuple[str, dict[str, str]]:
        return f"{self.api_base}/cgi-bin/gettoken", {
            "corpid": self.corp_id,
            "corpsecret": self.secret,
        }
