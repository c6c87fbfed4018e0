"""The "wechat" sender: custom messages inside the 48-hour window, templates outside."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.dialogs.types import Choice, Reply
from bot.handlers.wechat_mp import WeChatMedia
from bot.handlers.wechat_sender import (
    MemoryLastSeenStore,
    SqlLastSeenStore,
    WeChatSender,
    chunk_text,
    template_specs,
)
from bot.handlers.wechat_tokens import MemoryTokenStorage, MpClient
from bot.messaging import Outbound, RecipientUnreachable, TransientSendError
from core.clock import FixedClock
from tests.wechat.conftest import MP_APP_ID, MP_SECRET, OPENID
from tests.wechat.fake_wechat_api import FakeWeChatAPI

PACK = {
    "wechat": {
        "templates": {
            "progress": "TPL_PROGRESS",
            "survey": {
                "id": "TPL_SURVEY",
                "url": "{public_url}/survey/{case_number}",
                "data": {
                    "character_string1": "{case_number}",
                    "thing2": "{summary}",
                    "time3": "{time}",
                },
            },
        }
    }
}
CUSTOM = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"


def outbound(
    kind: str = "progress", text: str = "您的投诉 2611-0007 已转交后勤部处理。"
) -> Outbound:
    choices = (Choice("s", "满意"), Choice("u", "不满意")) if kind == "survey" else ()
    return Outbound(1, "wechat", OPENID, kind, Reply(text, choices), "2611-0007")


def sender(
    api: FakeWeChatAPI, clock: FixedClock, last_seen: MemoryLastSeenStore | None = None
) -> WeChatSender:
    client = MpClient(MP_APP_ID, MP_SECRET, api_base=api.base_url, session=MemoryTokenStorage())
    return WeChatSender(
        client,
        last_seen or MemoryLastSeenStore(),
        clock=clock,
        templates=template_specs(PACK),
        public_url="https://tousu.example.org",
    )


@pytest.mark.asyncio
async def test_inside_the_window_a_custom_message(
    fake_api: FakeWeChatAPI, clock: FixedClock
) -> None:
    seen = MemoryLastSeenStore()
    seen.touch("wechat", OPENID, clock.now() - timedelta(hours=47))
    await sender(fake_api, clock, seen).send(outbound("survey", "请对本次处理进行评价"))
    [call] = fake_api.calls_to(CUSTOM)
    assert call.body["touser"] == OPENID
    assert call.body["text"]["content"].startswith("请对本次处理进行评价\n\n1. 满意\n2. 不满意")
    assert fake_api.calls_to(TEMPLATE) == []
    assert len(fake_api.calls_to("/cgi-bin/token")) == 1


@pytest.mark.asyncio
async def test_outside_the_window_a_template_message(
    fake_api: FakeWeChatAPI, clock: FixedClock
) -> None:
    seen = MemoryLastSeenStore()
    seen.touch("wechat", OPENID, clock.now() - timedelta(hours=49))
    s = sender(fake_api, clock, seen)
    await s.send(outbound("survey", "请对本次处理进行评价，感谢您的耐心等待与配合"))
    await s.send(outbound("progress"))
    assert fake_api.calls_to(CUSTOM) == []
    survey, progress = (c.body for c in fake_api.calls_to(TEMPLATE))
    assert survey["template_id"] == "TPL_SURVEY"
    assert survey["url"] == "https://tousu.example.org/survey/2611-0007"
    assert survey["data"]["character_string1"] == {"value": "2611-0007"}
    assert len(survey["data"]["thing2"]["value"]) <= 20  # WeChat's limit for thing fields
    assert survey["data"]["time3"] == {"value": "2026-11-23 17:00"}  # pack timezone
    assert progress["template_id"] == "TPL_PROGRESS" and "url" not in progress
    assert progress["data"]["keyword1"] == {"value": "2611-0007"}
    assert "回复" in progress["data"]["remark"]["value"]  # prompt to reply instead of a link


@pytest.mark.asyncio
@pytest.mark.parametrize("errcode", [45015, 45047])
async def test_window_or_quota_refusal_falls_back_to_a_template(
    fake_api: FakeWeChatAPI, clock: FixedClock, errcode: int
) -> None:
    seen = MemoryLastSeenStore()
    seen.touch("wechat", OPENID, clock.now() - timedelta(hours=1))
    fake_api.fail_next(CUSTOM, errcode)
    await sender(fake_api, clock, seen).send(outbound())
    assert len(fake_api.calls_to(CUSTOM)) == 1
    assert [c.body["template_id"] for c in fake_api.calls_to(TEMPLATE)] == ["TPL_PROGRESS"]


@pytest.mark.asyncio
async def test_failures_are_classified(fake_api: FakeWeChatAPI, clock: FixedClock) -> None:
    s = sender(fake_api, clock)
    with pytest.raises(RecipientUnreachable, match="no template"):
        await s.send(outbound("resolved"))  # never wrote to us, no template for "resolved"
    fake_api.fail_next(TEMPLATE, 43004, "require subscribe")
    with pytest.raises(RecipientUnreachable):
        await s.send(outbound())
    fake_api.fail_next(TEMPLATE, -1, "system error")
    with pytest.raises(TransientSendError):
        await s.send(outbound())
    fake_api.fail_next(TEMPLATE, 45009, "reach max api daily quota limit")
    with pytest.raises(TransientSendError) as info:
        await s.send(outbound())
    assert info.value.retry_after == 60
    dead = WeChatSender(
        MpClient(MP_APP_ID, MP_SECRET, api_base="http://127.0.0.1:9", session=MemoryTokenStorage()),
        MemoryLastSeenStore(),
        clock=clock,
        templates=template_specs(PACK),
    )
    with pytest.raises(TransientSendError):
        await dead.send(outbound())


@pytest.mark.asyncio
async def test_rejected_token_is_refreshed_once(fake_api: FakeWeChatAPI, clock: FixedClock) -> None:
    s = sender(fake_api, clock)
    await s.send(outbound())
    fake_api.invalidate_tokens()  # e.g. the secret was reset: WeChat answers 40001
    await s.send(outbound())
    assert len(fake_api.calls_to("/cgi-bin/token")) == 2
    assert len(fake_api.calls_to(TEMPLATE)) == 3  # one refused, retried with the new token


@pytest.mark.asyncio
async def test_media_download(fake_api: FakeWeChatAPI) -> None:
    client = MpClient(MP_APP_ID, MP_SECRET, api_base=fake_api.base_url)
    content, mime = await WeChatMedia(client).fetch("MEDIA_1")
    assert content == b"\xff\xd8fake-jpeg\xff\xd9" and mime == "image/jpeg"


def test_sql_last_seen_store(tmp_path: Path, clock: FixedClock) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 't.db'}")
    store = SqlLastSeenStore(engine)
    assert store.get("wechat", OPENID) is None
    store.touch("wechat", OPENID, clock.now())
    store.touch("wechat", OPENID, clock.now() - timedelta(hours=3))  # older: ignored
    assert store.get("wechat", OPENID) == clock.now()
    again = SqlLastSeenStore(engine)  # another process, same table
    again.touch("wechat", OPENID, clock.now() + timedelta(minutes=1))
    assert store.get("wechat", OPENID) == clock.now() + timedelta(minutes=1)
    store.forget("wechat", OPENID)
    assert again.get("wechat", OPENID) is None


def test_chunking_and_template_config() -> None:
    text = "\n".join("行" * 100 for _ in range(30))
    chunks = chunk_text(text)
    assert all(len(c.encode()) <= 2000 for c in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")
    assert chunk_text("字" * 1000) == ["字" * 666, "字" * 334]
    with pytest.raises(ValueError):
        template_specs({"wechat": {"templates": {"progress": {"data": {}}}}})
