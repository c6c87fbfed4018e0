"""End to end with the real App: a complainant on the Official Account (safe mode), a handler
in the WeCom app, the managers' robot, all against the fake WeChat + WeCom API server."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
import xmltodict
import yaml
from pydantic import SecretStr
from wechatpy.crypto import WeChatCrypto

from bot.bootstrap import App, build_app
from bot.handlers.wechat import build
from bot.settings import Settings
from core.clock import FixedClock
from tests.wechat.conftest import (
    CORP_ID,
    CORP_SECRET,
    MP_ACCOUNT,
    MP_AES_KEY,
    MP_APP_ID,
    MP_SECRET,
    MP_TOKEN,
    NOW,
    OPENID,
    ROBOT_KEY,
    WECOM_AES_KEY,
    WECOM_TOKEN,
    asgi_client,
    message_xml,
    sign_aes,
    sign_plain,
    wait_until,
)
from tests.wechat.fake_wechat_api import FakeWeChatAPI

PACKS = Path(__file__).resolve().parents[2] / "packs"
CUSTOM = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"
SEND = "/cgi-bin/message/send"
ROBOT = "/cgi-bin/webhook/send"


def school_pack_with_wechat(tmp: Path) -> Path:
    """The school pack plus the `wechat:` section this channel reads."""
    target = tmp / "school"
    shutil.copytree(PACKS / "school", target)
    raw = yaml.safe_load((target / "pack.yaml").read_text(encoding="utf-8"))
    raw["wechat"] = {
        "templates": {
            kind: {"id": f"TPL_{kind.upper()}", "url": "{public_url}/c/{case_number}"}
            for kind in ("progress", "accepted", "extension", "resolved", "survey")
        },
        "menu": {"MY": "/mycases"},
    }
    (target / "pack.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return target


@dataclass
class World:
    app: App
    api: FakeWeChatAPI
    http: httpx.AsyncClient
    ids: Any

    async def mp(self, fields: dict[str, Any]) -> str:
        """One complainant message in safe mode; the decrypted passive reply (or "success")."""
        if fields.get("MsgType") != "event":
            fields = {**fields, "MsgId": next(self.ids)}
        signed = sign_aes(message_xml(fields))
        r = await self.http.post("/wechat/mp", params=signed.params, content=signed.body)
        assert r.status_code == 200, r.text
        if r.text == "success":
            return r.text
        outer = xmltodict.parse(r.text)["xml"]
        inner = WeChatCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID).decrypt_message(
            r.text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
        )
        doc = xmltodict.parse(inner)["xml"]
        assert (doc["ToUserName"], doc["FromUserName"]) == (OPENID, MP_ACCOUNT)
        return str(doc["Content"])

    async def say(self, text: str) -> str:
        return await self.mp({"MsgType": "text", "Content": text})

    async def staff(self, userid: str, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """One staff message or button press; the app messages it caused."""
        if fields.get("MsgType") != "event":
            fields = {**fields, "MsgId": next(self.ids)}
        xml = message_xml({**fields, "AgentID": 1000002}, openid=userid, to=CORP_ID)
        signed = sign_aes(
            xml, token=WECOM_TOKEN, aes_key=WECOM_AES_KEY, app_id=CORP_ID, enterprise=True
        )
        before = len(self.api.calls_to(SEND))
        r = await self.http.post("/wechat/wecom", params=signed.params, content=signed.body)
        assert (r.status_code, r.text) == (200, "")
        assert await wait_until(lambda: len(self.api.calls_to(SEND)) > before)
        await asyncio.sleep(0.2)  # a reply may be several messages
        return [c.body for c in self.api.calls_to(SEND)[before:]]

    async def press(self, userid: str, key: str) -> list[dict[str, Any]]:
        return await self.staff(
            userid,
            {
                "MsgType": "event",
                "Event": "template_card_event",
                "EventKey": key,
                "TaskId": f"t{next(self.ids)}",
                "CardType": "button_interaction",
                "ResponseCode": "rc",
            },
        )

    def outbox(self) -> list[tuple[str, str, str, str | None]]:
        with self.app.db.connect() as conn:
            rows = conn.execute(sa.text("select channel, recipient, kind, sent_at from outbox"))
            return [(r[0], r[1], r[2], r[3]) for r in rows]


@pytest_asyncio.fixture
async def world(tmp_path: Path, fake_api: FakeWeChatAPI) -> AsyncIterator[World]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 't.db'}",
        pack=str(school_pack_with_wechat(tmp_path)),
        now=NOW,
        classifier="keywords",
        public_url="https://tousu.example.org",
        wechat_app_id=MP_APP_ID,
        wechat_app_secret=SecretStr(MP_SECRET),
        wechat_token=SecretStr(MP_TOKEN),
        wechat_aes_key=SecretStr(MP_AES_KEY),
        wechat_api_base=fake_api.base_url,
        wecom_corp_id=CORP_ID,
        wecom_agent_id=1000002,
        wecom_secret=SecretStr(CORP_SECRET),
        wecom_token=SecretStr(WECOM_TOKEN),
        wecom_aes_key=SecretStr(WECOM_AES_KEY),
        wecom_api_base=fake_api.base_url,
        wecom_robot_key=SecretStr(ROBOT_KEY),
    )
    app = build_app(settings)
    runtime = build(app)
    assert runtime is not None
    assert sorted({r.path for r in runtime.routes}) == ["/wechat/mp", "/wechat/wecom"]
    assert sorted(s.channel for s in runtime.senders) == ["wechat", "wecom", "wecom_robot"]
    for sender in runtime.senders:
        app.dispatcher.register(sender)
    async with asgi_client(runtime.routes) as http:
        yield World(app, fake_api, http, itertools.count(7_000_000_000_000_000_001))
    assert runtime.stop is not None
    await runtime.stop()


@pytest.mark.asyncio
async def test_complaint_from_the_official_account_to_a_handler_in_wecom(world: World) -> None:
    app, api = world.app, world.api
    clock = app.clock
    assert isinstance(clock, FixedClock)

    # the handler links the WeCom account with a one-time code; managers get the robot
    code = app.invite("liu")
    await world.staff("LiuFang", {"MsgType": "text", "Content": f"/link {code}"})
    assert await wait_until(lambda: len(api.calls_to(SEND)) == 1)
    assert "已关联" in api.calls_to(SEND)[0].body["text"]["content"]
    with app.uow() as uow:
        uow.directory.link("wecom_robot", "default", None, "managers_group", app.clock.now())
        uow.commit()

    # the complainant follows the account and files a complaint, all in passive replies
    greeting = await world.mp({"MsgType": "event", "Event": "subscribe", "EventKey": ""})
    assert "怎么称呼" in greeting and "1. 匿名投诉" in greeting
    assert "分享手机号" in await world.say("张三")
    await world.say("13812345678")
    await world.say("王老师")
    await world.say("王老师上课总是玩手机，不管孩子")
    photo = await world.mp(
        {"MsgType": "image", "PicUrl": "http://mmbiz.example/p.jpg", "MediaId": "MEDIA_1"}
    )
    assert "说完了" in photo
    await world.say("1")  # "说完了" by its number
    category = await world.say("希望学校处理")
    assert "劳动纪律" in category and "1. 对，就是这个" in category
    summary = await world.say("1")
    assert "证据材料：1 份" in summary and "1. 确认提交" in summary
    registered = await world.say("确认提交")  # a choice by its label works too
    assert "已登记" in registered and "2611-0001" in registered

    # the assignment reaches the handler as a WeCom button card; the manager group is not
    # told of a general case
    assert await app.dispatcher.dispatch_once() >= 1
    cards = [c.body for c in api.calls_to(SEND) if c.body["msgtype"] == "template_card"]
    assert [c["touser"] for c in cards] == ["LiuFang", "LiuFang"]  # 8 actions: 6 + 2 buttons
    assert "张三 (138****5678)" in api.calls_to(SEND)[1].body["text"]["content"]  # full card
    first = cards[0]["template_card"]
    assert first["sub_title_text"] == "案件 2611-0001｜一般｜已派单"
    buttons = {b["text"]: b["key"] for c in cards for b in c["template_card"]["button_list"]}
    assert buttons["受理"] == "act:accept:2611-0001" and "不予受理" in buttons
    accept = buttons["受理"]

    # the handler presses "受理" on the card
    answer = await world.press("LiuFang", accept)
    assert answer[0]["msgtype"] == "template_card"
    assert "已受理案件 2611-0001" in answer[0]["template_card"]["sub_title_text"]

    # news for the complainant: inside 48 h a customer-service message ...
    await app.dispatcher.dispatch_once()
    [accepted] = api.calls_to(CUSTOM)
    assert accepted.body["touser"] == OPENID and "2611-0001" in accepted.body["text"]["content"]
    assert api.calls_to(TEMPLATE) == []

    # ... three days later a template message with a link, as WeChat demands
    clock.advance(timedelta(days=3))
    assert "进展" in (await world.press("LiuFang", buttons["报告进展"]))[0]["text"]["content"]
    await world.staff("LiuFang", {"MsgType": "text", "Content": "已与王老师谈话，要求整改"})
    await app.dispatcher.dispatch_once()
    [progress] = api.calls_to(TEMPLATE)
    assert progress.body["template_id"] == "TPL_PROGRESS"
    assert progress.body["url"] == "https://tousu.example.org/c/2611-0001"
    assert "要求整改" in progress.body["data"]["keyword2"]["value"]
    assert len(api.calls_to(CUSTOM)) == 1

    # the handler closes the case with an answer; outcome by button, answer by text
    outcomes = await world.press("LiuFang", buttons["办结答复"])
    keys = {b["text"]: b["key"] for b in outcomes[-1]["template_card"]["button_list"]}
    await world.press("LiuFang", keys["支持"])
    await world.staff("LiuFang", {"MsgType": "text", "Content": "王老师已作检讨，课堂纪律已整改。"})
    await app.dispatcher.dispatch_once()
    for _ in range(3):  # the revisit comes from the sweep, a day or so later
        clock.advance(timedelta(days=1))
        await asyncio.to_thread(app.sweeper.run_once)
        await app.dispatcher.dispatch_once()
    kinds = [c.body["template_id"] for c in api.calls_to(TEMPLATE)]
    assert "TPL_SURVEY" in kinds, (kinds, world.outbox())
    survey = next(c.body for c in api.calls_to(TEMPLATE) if c.body["template_id"] == "TPL_SURVEY")
    assert "1. " in survey["data"]["keyword2"]["value"]  # the options, to answer by number

    # the complainant answers the survey by replying to the account (the window reopens)
    thanks = await world.say("1")
    assert "感谢您的评价" in thanks and "2611-0001" in thanks
    before = len(api.calls_to(CUSTOM))
    await app.dispatcher.dispatch_once()
    closing = api.calls_to(CUSTOM)[before:]
    assert closing and "2611-0001" in closing[-1].body["text"]["content"]
    # everything for WeChat/WeCom was delivered (console rows wait for `tousu chat --as`)
    assert all(row[3] is not None for row in world.outbox() if row[0] != "console")


async def file_complaint(world: World) -> str:
    await world.mp({"MsgType": "event", "Event": "subscribe", "EventKey": ""})
    for text in (
        "李四",
        "13987654321",
        "食堂",
        "食堂的饭菜是馊的，孩子吃了拉肚子",
        "1",
        "赔偿",
        "1",
    ):
        await world.say(text)
    registered = await world.say("1")
    assert "已登记" in registered
    return registered


@pytest.mark.asyncio
async def test_overdue_alert_reaches_the_managers_robot_with_phones_masked(world: World) -> None:
    app, api = world.app, world.api
    clock = app.clock
    assert isinstance(clock, FixedClock)
    with app.uow() as uow:
        uow.directory.link("wecom_robot", "default", None, "managers_group", app.clock.now())
        uow.commit()
    await file_complaint(world)
    for _ in range(4):  # nobody acts on it for weeks
        clock.advance(timedelta(days=5))
        await asyncio.to_thread(app.sweeper.run_once)
        await app.dispatcher.dispatch_once()
    calls = api.calls_to(ROBOT)
    assert all(c.query["key"] == ROBOT_KEY and c.body["msgtype"] == "markdown" for c in calls)
    titles = [c.body["markdown"]["content"].splitlines()[0] for c in calls]
    assert "**🔥 投诉升级**  2611-0001" in titles  # hot: unresolved after a week
    assert "**⏰ 超期提醒**  2611-0001" in titles
    content = "\n".join(c.body["markdown"]["content"] for c in calls)
    assert "13987654321" not in content and "139****4321" in content
    robot_rows = [row for row in world.outbox() if row[0] == "wecom_robot"]
    assert robot_rows and all(row[3] is not None for row in robot_rows)


@pytest.mark.asyncio
async def test_mounted_by_tousu_serve(tmp_path: Path, fake_api: FakeWeChatAPI) -> None:
    from bot.server import create_asgi

    bare = build_app(Settings(database_url=f"sqlite:///{tmp_path / 'bare.db'}", pack="school"))
    assert build(bare) is None  # nothing configured: no channel
    app = build_app(
        Settings(
            database_url=f"sqlite:///{tmp_path / 's.db'}",
            pack="school",
            classifier="keywords",
            wechat_app_id=MP_APP_ID,
            wechat_token=SecretStr(MP_TOKEN),  # plain mode, no secret: passive replies only
        )
    )
    asgi = create_asgi(app, scheduler=False)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        health = (await http.get("/healthz")).json()
        assert "wechat" in health["channels"]
        signed = sign_plain(message_xml({"MsgType": "text", "Content": "/start", "MsgId": 1}))
        r = await http.post("/wechat/mp", params=signed.params, content=signed.body)
    assert r.status_code == 200 and "怎么称呼" in xmltodict.parse(r.text)["xml"]["Content"]
