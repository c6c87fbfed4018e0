"""Fixtures for the WeChat / WeCom tests: the fake API server, signed callbacks, a fake engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from wechatpy.crypto import PrpCrypto
from wechatpy.enterprise.crypto import PrpCrypto as WorkPrpCrypto

from bot.dialogs.types import Choice, Inbound, Reply
from bot.handlers.wechat_crypto import signature_of
from core.clock import FixedClock
from tests.wechat.fake_wechat_api import FakeWeChatAPI, FakeWeChatConfig

# Dummy credentials (not real accounts).
MP_APP_ID = "wx0000000000fake01"
MP_SECRET = "dummy-app-secret"
MP_TOKEN = "dummytoken"
MP_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MP_ACCOUNT = "gh_0000fakeaccount"
CORP_ID = "ww0000000000fake01"
CORP_SECRET = "dummy-corp-secret"
WECOM_TOKEN = "dummyworktoken"
WECOM_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
ROBOT_KEY = "dummy-robot-key"
OPENID = "o_fakeOpenId_000000000000001"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def fake_api() -> Iterator[FakeWeChatAPI]:
    config = FakeWeChatConfig(
        app_id=MP_APP_ID,
        app_secret=MP_SECRET,
        corp_id=CORP_ID,
        corp_secret=CORP_SECRET,
        robot_keys={ROBOT_KEY},
        media={"MEDIA_1": b"\xff\xd8fake-jpeg\xff\xd9"},
    )
    with FakeWeChatAPI(config) as api:
        yield api


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


# -- building callbacks as WeChat does ----------------------------------------------------
def text_xml(
    content: str,
    *,
    msg_id: str = "1000000001",
    openid: str = OPENID,
    to: str = MP_ACCOUNT,
    create_time: int | None = None,
) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def message_xml(fields: dict[str, Any], *, openid: str = OPENID, to: str = MP_ACCOUNT) -> str:
    body = "".join(
        f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>"
        for k, v in fields.items()
    )
    head = (
        f"<ToUserName><![CDATA[{to}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
    )
    if "CreateTime" not in fields:
        head += f"<CreateTime>{int(time.time())}</CreateTime>"
    return f"<xml>{head}{body}</xml>"


@dataclass
class Signed:
    params: dict[str, str]
    body: bytes


def sign_plain(xml: str, *, token: str = MP_TOKEN, timestamp: int | None = None) -> Signed:
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = "123456789"
    return Signed(
        {
            "signature": signature_of(token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "openid": OPENID,
        },
        xml.encode(),
    )


def sign_aes(
    xml: str,
    *,
    token: str = MP_TOKEN,
    aes_key: str = MP_AES_KEY,
    app_id: str = MP_APP_ID,
    timestamp: int | None = None,
    compatible: bool = False,
    plaintext_override: str | None = None,
    enterprise: bool = False,
) -> Signed:
    """Encrypt as WeChat documents it; compatible mode also carries the plaintext fields."""
    import base64

    key = base64.b64decode(aes_key + "=")
    prp = (WorkPrpCrypto if enterprise else PrpCrypto)(key)
    encrypt = prp.encrypt(xml, app_id).decode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = "987654321"
    if compatible:
        shown = plaintext_override or xml
        body = shown.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
    elif enterprise:
        body = (
            f"<xml><ToUserName><![CDATA[{app_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
        )
    else:
        body = (
            f"<xml><ToUserName><![CDATA[{MP_ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        )
    params = {
        "timestamp": ts,
        "nonce": nonce,
        "msg_signature": signature_of(token, ts, nonce, encrypt),
    }
    if not enterprise:
        params |= {
            "signature": signature_of(token, ts, nonce),
            "encrypt_type": "aes",
            "openid": OPENID,
        }
    return Signed(params, body.encode())


# -- a stand-in for the dialog engine -------------------------------------------------------
@dataclass
class FakeEngine:
    """Same contract as the lead's DialogEngine.handle: sync, thread-safe, dedupes."""

    delay: float = 0.0
    fail: bool = False
    reply_text: str = "收到：{text}"
    choices: tuple[Choice, ...] = ()
    extra_replies: tuple[Reply, ...] = ()
    inbounds: list[Inbound] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, inbound: Inbound) -> list[Reply]:
        with self._lock:
            self.calls += 1
            key = (inbound.channel, inbound.update_id or "")
            if inbound.update_id and key in self.seen:
                return []
            self.seen.add(key)
        if self.delay:
            time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("engine exploded")
        with self._lock:
            self.inbounds.append(inbound)
        said = inbound.text or inbound.choice or ",".join(a.ref for a in inbound.attachments)
        return [Reply(self.reply_text.format(text=said), self.choices), *self.extra_replies]


def asgi_client(routes: list[Any]) -> httpx.AsyncClient:
    app = Starlette(routes=routes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def wait_until(predicate: Any, timeout: float = 5.0) -> bool:
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return bool(predicate())
