"""The Official Account callback route, with a stand-in engine (real crypto, real HTTP API)."""

from __future__ import annotations

import time

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.dialogs.types import Choice, Reply
from bot.handlers.wechat_crypto import CallbackCrypto
from bot.handlers.wechat_mp import MpCallback
from bot.handlers.wechat_sender import MemoryLastSeenStore, WeChatSender
from bot.handlers.wechat_tokens import MemoryTokenStorage, MpClient
from core.clock import FixedClock
from tests.wechat.conftest import (
    MP_ACCOUNT,
    MP_AES_KEY,
    MP_APP_ID,
    MP_SECRET,
    MP_TOKEN,
    OPENID,
    FakeEngine,
    asgi_client,
    message_xml,
    sign_aes,
    sign_plain,
    text_xml,
    wait_until,
)
from tests.wechat.fake_wechat_api import FakeWeChatAPI

CHOICES = (Choice("sat", "满意"), Choice("unsat", "不满意"))


def make(
    engine: FakeEngine,
    clock: FixedClock,
    api: FakeWeChatAPI | None = None,
    *,
    aes: bool = False,
    budget: float = 4.5,
    voice: bool = False,
) -> tuple[MpCallback, MemoryLastSeenStore]:
    last_seen = MemoryLastSeenStore()
    sender = None
    if api is not None:
        client = MpClient(MP_APP_ID, MP_SECRET, api_base=api.base_url, session=MemoryTokenStorage())
        sender = WeChatSender(client, last_seen, clock=clock)
    crypto = CallbackCrypto(MP_TOKEN, MP_AES_KEY if aes else None, MP_APP_ID)
    cb = MpCallback(
        crypto,
        engine,
        sender=sender,
        last_seen=last_seen,
        clock=clock,
        budget=budget,
        voice_recognition=voice,
    )
    return cb, last_seen


def passive_text(xml: str) -> str:
    doc = xmltodict.parse(xml)["xml"]
    assert doc["MsgType"] == "text"
    assert doc["ToUserName"] == OPENID and doc["FromUserName"] == MP_ACCOUNT
    return str(doc["Content"])


def decrypt_reply(xml: str) -> str:
    """What WeChat's server does with an encrypted passive reply."""
    outer = xmltodict.parse(xml)["xml"]
    wechat = WeChatCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID)
    return str(
        wechat.decrypt_message(xml, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
    )


@pytest.mark.asyncio
async def test_url_verification(clock: FixedClock) -> None:
    cb, _ = make(FakeEngine(), clock)
    signed = sign_plain("")
    async with asgi_client(cb.routes()) as http:
        ok = await http.get("/wechat/mp", params={**signed.params, "echostr": "echo-123"})
        assert (ok.status_code, ok.text) == (200, "echo-123")
        bad = await http.get(
            "/wechat/mp", params={**signed.params, "signature": "f" * 40, "echostr": "x"}
        )
        assert bad.status_code == 403 and "x" not in bad.text
        old = sign_plain("", timestamp=int(time.time()) - 600)
        stale = await http.get("/wechat/mp", params={**old.params, "echostr": "x"})
        assert stale.status_code == 403


@pytest.mark.asyncio
async def test_plain_mode_text_gets_a_passive_reply_with_numbered_choices(
    clock: FixedClock,
) -> None:
    engine = FakeEngine(reply_text="您对处理结果满意吗？", choices=CHOICES)
    cb, last_seen = make(engine, clock)
    signed = sign_plain(text_xml("你好", msg_id="42"))
    async with asgi_client(cb.routes()) as http:
        r = await http.post("/wechat/mp", params=signed.params, content=signed.body)
    assert r.status_code == 200
    text = passive_text(r.text)
    assert text.splitlines()[0] == "您对处理结果满意吗？"
    assert "1. 满意" in text and "2. 不满意" in text
    [inbound] = engine.inbounds
    assert (inbound.channel, inbound.user_id, inbound.text, inbound.update_id) == (
        "wechat",
        OPENID,
        "你好",
        "42",
    )
    assert last_seen.get("wechat", OPENID) == clock.now()


@pytest.mark.asyncio
@pytest.mark.parametrize("compatible", [False, True], ids=["safe", "compatible"])
async def test_encrypted_modes_reply_encrypted(clock: FixedClock, compatible: bool) -> None:
    engine = FakeEngine()
    cb, _ = make(engine, clock, aes=True)
    signed = sign_aes(
        text_xml("加密的投诉"),
        compatible=compatible,
        plaintext_override=text_xml("明文不可信") if compatible else None,
    )
    async with asgi_client(cb.routes()) as http:
        r = await http.post("/wechat/mp", params=signed.params, content=signed.body)
    assert r.status_code == 200
    assert "<Encrypt>" in r.text and "加密" not in r.text
    assert passive_text(decrypt_reply(r.text)) == "收到：加密的投诉"
    assert [i.text for i in engine.inbounds] == ["加密的投诉"]


@pytest.mark.asyncio
async def test_bad_signature_and_replay_are_refused_and_nothing_is_recorded(
    clock: FixedClock,
) -> None:
    engine = FakeEngine()
    cb, last_seen = make(engine, clock, aes=True)
    good = sign_aes(text_xml("x"))
    forged = dict(good.params, msg_signature="0" * 40)
    replay = sign_aes(text_xml("x"), timestamp=int(time.time()) - 6 * 60)
    wrong_token = sign_aes(text_xml("x"), token="not-our-token")
    async with asgi_client(cb.routes()) as http:
        for params, body in [
            (forged, good.body),
            (replay.params, replay.body),
            (wrong_token.params, wrong_token.body),
        ]:
            r = await http.post("/wechat/mp", params=params, content=body)
            assert r.status_code == 403
        garbage = await http.post("/wechat/mp", params=good.params, content=b"<xml>")
        assert garbage.status_code == 400
    assert engine.calls == 0 and engine.inbounds == []
    assert last_seen.get("wechat", OPENID) is None
    assert cb.stats["rejected"] == 4


@pytest.mark.asyncio
async def test_msgid_retry_is_answered_once(clock: FixedClock) -> None:
    engine = FakeEngine()
    cb, _ = make(engine, clock, aes=True)
    first = sign_aes(text_xml("我要投诉", msg_id="777"))
    retry = sign_aes(text_xml("我要投诉", msg_id="777"))  # WeChat re-signs every retry
    async with asgi_client(cb.routes()) as http:
        a = await http.post("/wechat/mp", params=first.params, content=first.body)
        b = await http.post("/wechat/mp", params=retry.params, content=retry.body)
    assert passive_text(decrypt_reply(a.text)) == passive_text(decrypt_reply(b.text))
    assert engine.calls == 1 and len(engine.inbounds) == 1
    # another replica (fresh route object, same engine/database): the engine drops it
    other, _ = make(engine, clock, aes=True)
    async with asgi_client(other.routes()) as http:
        c = await http.post("/wechat/mp", params=retry.params, content=retry.body)
    assert c.text == "success"
    assert len(engine.inbounds) == 1


@pytest.mark.asyncio
async def test_events_map_to_commands(clock: FixedClock) -> None:
    engine = FakeEngine()
    cb, last_seen = make(engine, clock)
    subscribe = message_xml(
        {"CreateTime": 1700000001, "MsgType": "event", "Event": "subscribe", "EventKey": ""}
    )
    click = message_xml(
        {"CreateTime": 1700000002, "MsgType": "event", "Event": "CLICK", "EventKey": "STATUS"}
    )
    view = message_xml(
        {"CreateTime": 1700000003, "MsgType": "event", "Event": "VIEW", "EventKey": "https://x"}
    )
    async with asgi_client(cb.routes()) as http:
        for xml in (subscribe, click, view):
            signed = sign_plain(xml)
            r = await http.post("/wechat/mp", params=signed.params, content=signed.body)
            assert r.status_code == 200
        assert r.text == "success"  # VIEW: nothing to say
    assert [(i.text, i.update_id) for i in engine.inbounds] == [
        ("/start", f"{OPENID}:1700000001"),
        ("/status", f"{OPENID}:1700000002"),
    ]
    unsubscribe = message_xml({"MsgType": "event", "Event": "unsubscribe"})
    async with asgi_client(cb.routes()) as http:
        signed = sign_plain(unsubscribe)
        r = await http.post("/wechat/mp", params=signed.params, content=signed.body)
    assert r.text == "success"
    assert last_seen.get("wechat", OPENID) is None  # no custom messages to a leaver


@pytest.mark.asyncio
async def test_image_is_evidence_voice_and_unknown_are_answered_politely(
    clock: FixedClock,
) -> None:
    engine = FakeEngine()
    cb, _ = make(engine, clock)
    image = message_xml(
        {
            "MsgType": "image",
            "PicUrl": "http://mmbiz.example/pic.jpg",
            "MediaId": "MEDIA_1",
            "MsgId": 501,
        }
    )
    voice = message_xml(
        {
            "MsgType": "voice",
            "MediaId": "V1",
            "Format": "amr",
            "Recognition": "食堂饭菜有问题",
            "MsgId": 502,
        }
    )
    link = message_xml(
        {"MsgType": "link", "Title": "t", "Description": "d", "Url": "http://x", "MsgId": 503}
    )
    async with asgi_client(cb.routes()) as http:
        answers = []
        for xml in (image, voice, link):
            signed = sign_plain(xml)
            r = await http.post("/wechat/mp", params=signed.params, content=signed.body)
            assert r.status_code == 200
            answers.append(passive_text(r.text))
    [photo_inbound] = engine.inbounds  # only the image reached the engine
    [photo] = photo_inbound.attachments
    assert (photo.kind, photo.ref, photo.url) == (
        "photo",
        "MEDIA_1",
        "http://mmbiz.example/pic.jpg",
    )
    assert photo_inbound.update_id == "501"
    assert "文字" in answers[1]  # please type
    assert "不支持" in answers[2]

    engine2 = FakeEngine()
    cb2, _ = make(engine2, clock, voice=True)
    async with asgi_client(cb2.routes()) as http:
        signed = sign_plain(voice)
        await http.post("/wechat/mp", params=signed.params, content=signed.body)
    assert [i.text for i in engine2.inbounds] == ["食堂饭菜有问题"]


@pytest.mark.asyncio
async def test_slow_answer_goes_out_through_the_customer_service_api(
    clock: FixedClock, fake_api: FakeWeChatAPI
) -> None:
    engine = FakeEngine(delay=0.5, reply_text="已受理：{text}")
    cb, _ = make(engine, clock, fake_api, aes=True, budget=0.1)
    first = sign_aes(text_xml("慢一点", msg_id="900"))
    retry = sign_aes(text_xml("慢一点", msg_id="900"))
    async with asgi_client(cb.routes()) as http:
        started = time.monotonic()
        a = await http.post("/wechat/mp", params=first.params, content=first.body)
        assert time.monotonic() - started < 0.4
        assert a.text == "success"
        b = await http.post("/wechat/mp", params=retry.params, content=retry.body)
        assert b.text == "success"
        assert await wait_until(lambda: fake_api.calls_to("/cgi-bin/message/custom/send"))
        await cb.stop()
    [call] = fake_api.calls_to("/cgi-bin/message/custom/send")
    assert call.body == {"touser": OPENID, "msgtype": "text", "text": {"content": "已受理：慢一点"}}
    assert engine.calls == 1
    assert cb.stats["late"] == 2


@pytest.mark.asyncio
async def test_engine_failure_is_a_polite_answer(clock: FixedClock) -> None:
    cb, _ = make(FakeEngine(fail=True), clock)
    signed = sign_plain(text_xml("boom"))
    async with asgi_client(cb.routes()) as http:
        r = await http.post("/wechat/mp", params=signed.params, content=signed.body)
    assert r.status_code == 200
    assert "稍后" in passive_text(r.text)


@pytest.mark.asyncio
async def test_long_answers_overflow_into_custom_messages(
    clock: FixedClock, fake_api: FakeWeChatAPI
) -> None:
    long_tail = Reply("\n".join(f"第{i}行：" + "很长的内容" * 10 for i in range(60)))
    engine = FakeEngine(extra_replies=(long_tail,))
    cb, _ = make(engine, clock, fake_api)
    signed = sign_plain(text_xml("长"))
    async with asgi_client(cb.routes()) as http:
        r = await http.post("/wechat/mp", params=signed.params, content=signed.body)
        first = passive_text(r.text)
        assert first.startswith("收到：长")
        assert len(first.encode()) <= 2048
        assert await wait_until(lambda: len(fake_api.calls_to("/cgi-bin/message/custom/send")) >= 2)
        await cb.stop()
    sent = [c.body["text"]["content"] for c in fake_api.calls_to("/cgi-bin/message/custom/send")]
    assert all(len(s.encode()) <= 2048 for s in sent)
    assert "第59行" in sent[-1]
