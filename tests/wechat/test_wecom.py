"""WeCom: the app callback (own crypto), staff app messages, the manager group's robot."""

from __future__ import annotations

import time

import pytest

from bot.dialogs.types import Choice, Reply
from bot.handlers.wechat_crypto import CallbackCrypto, signature_of
from bot.handlers.wechat_tokens import MemoryTokenStorage, WorkClient
from bot.handlers.wecom import (
    WeComCallback,
    WeComRobotSender,
    WeComSender,
    mask_phones,
    wecom_userids,
)
from bot.messaging import Outbound, RecipientUnreachable, TransientSendError
from tests.wechat.conftest import (
    CORP_ID,
    CORP_SECRET,
    ROBOT_KEY,
    WECOM_AES_KEY,
    WECOM_TOKEN,
    FakeEngine,
    Signed,
    asgi_client,
    message_xml,
    sign_aes,
    wait_until,
)
from tests.wechat.fake_wechat_api import FakeWeChatAPI

SEND = "/cgi-bin/message/send"
ROBOT = "/cgi-bin/webhook/send"
ACTIONS = (Choice("accept:2611-0007", "接单"), Choice("transfer:2611-0007", "转办"))


def work_sender(
    api: FakeWeChatAPI, userids: dict[str, str] | None = None, case_url: str | None = None
) -> WeComSender:
    client = WorkClient(CORP_ID, CORP_SECRET, api_base=api.base_url, session=MemoryTokenStorage())
    return WeComSender(client, 1000002, userids=userids, case_url=case_url)


def crypto() -> CallbackCrypto:
    return CallbackCrypto(WECOM_TOKEN, WECOM_AES_KEY, CORP_ID, enterprise=True)


def staff_xml(fields: dict[str, object]) -> str:
    return message_xml({**fields, "AgentID": 1000002}, openid="WangLi", to=CORP_ID)


def sign_work(xml: str, timestamp: int | None = None) -> Signed:
    return sign_aes(
        xml,
        token=WECOM_TOKEN,
        aes_key=WECOM_AES_KEY,
        app_id=CORP_ID,
        enterprise=True,
        timestamp=timestamp,
    )


@pytest.mark.asyncio
async def test_callback_url_verification_with_its_own_crypto() -> None:
    cb = WeComCallback(crypto(), FakeEngine(), sender=None)
    import base64

    from wechatpy.enterprise.crypto import PrpCrypto

    echo = PrpCrypto(base64.b64decode(WECOM_AES_KEY + "=")).encrypt("8724158929", CORP_ID).decode()
    ts, nonce = str(int(time.time())), "55"
    params = {
        "msg_signature": signature_of(WECOM_TOKEN, ts, nonce, echo),
        "timestamp": ts,
        "nonce": nonce,
        "echostr": echo,
    }
    async with asgi_client(cb.routes()) as http:
        ok = await http.get("/wechat/wecom", params=params)
        assert (ok.status_code, ok.text) == (200, "8724158929")
        bad = await http.get("/wechat/wecom", params={**params, "nonce": "56"})
        assert bad.status_code == 403


@pytest.mark.asyncio
async def test_staff_text_and_button_press_reach_the_engine_and_answers_carry_buttons(
    fake_api: FakeWeChatAPI,
) -> None:
    engine = FakeEngine(reply_text="案件 2611-0007：{text}", choices=ACTIONS)
    cb = WeComCallback(crypto(), engine, sender=work_sender(fake_api))
    text = sign_work(staff_xml({"MsgType": "text", "Content": "/mycases", "MsgId": 9001}))
    press = sign_work(
        staff_xml(
            {
                "CreateTime": 1800000000,
                "MsgType": "event",
                "Event": "template_card_event",
                "EventKey": "accept:2611-0007",
                "TaskId": "n12-abc",
                "CardType": "button_interaction",
                "ResponseCode": "rc1",
            }
        )
    )
    enter = sign_work(staff_xml({"MsgType": "event", "Event": "enter_agent", "EventKey": ""}))
    async with asgi_client(cb.routes()) as http:
        for signed in (text, press, enter):
            r = await http.post("/wechat/wecom", params=signed.params, content=signed.body)
            assert (r.status_code, r.text) == (200, "")
        assert await wait_until(lambda: len(fake_api.calls_to(SEND)) == 2)
        await cb.stop()
    first, second = engine.inbounds
    assert (first.channel, first.user_id, first.text, first.update_id) == (
        "wecom",
        "WangLi",
        "/mycases",
        "9001",
    )
    assert (second.choice, second.update_id) == ("accept:2611-0007", "WangLi:1800000000:n12-abc")
    body = fake_api.calls_to(SEND)[0].body
    assert body["touser"] == "WangLi" and body["agentid"] == 1000002
    card = body["template_card"]
    assert card["card_type"] == "button_interaction"
    assert [(b["text"], b["key"]) for b in card["button_list"]] == [
        ("接单", "accept:2611-0007"),
        ("转办", "transfer:2611-0007"),
    ]
    assert card["main_title"]["title"].startswith("案件 2611-0007")


@pytest.mark.asyncio
async def test_forged_wecom_callback_is_refused(fake_api: FakeWeChatAPI) -> None:
    engine = FakeEngine()
    cb = WeComCallback(crypto(), engine, sender=work_sender(fake_api))
    signed = sign_work(staff_xml({"MsgType": "text", "Content": "x", "MsgId": 1}))
    forged = {**signed.params, "msg_signature": "1" * 40}
    stale = sign_work(
        staff_xml({"MsgType": "text", "Content": "x", "MsgId": 2}), timestamp=int(time.time()) - 900
    )
    async with asgi_client(cb.routes()) as http:
        r1 = await http.post("/wechat/wecom", params=forged, content=signed.body)
        r2 = await http.post("/wechat/wecom", params=stale.params, content=stale.body)
    assert (r1.status_code, r2.status_code) == (403, 403)
    assert engine.calls == 0 and fake_api.calls == []


@pytest.mark.asyncio
async def test_staff_notifications(fake_api: FakeWeChatAPI) -> None:
    s = work_sender(
        fake_api, userids={"wang": "WangLi"}, case_url="https://tousu.example.org/c/{case_number}"
    )
    assigned = Outbound(
        5,
        "wecom",
        "wang",
        "assigned",
        Reply("新案件 2611-0007\n食堂饭菜变质", ACTIONS),
        "2611-0007",
    )
    await s.send(assigned)
    long = Outbound(6, "wecom", "WangLi", "assigned", Reply("新案件\n" + "详情" * 200, ACTIONS))
    await s.send(long)
    info = Outbound(
        7, "wecom", "wang", "progress", Reply("案件 2611-0007 已延期\n原因：待检测"), "2611-0007"
    )
    await s.send(info)
    plain = Outbound(8, "wecom", "wang", "digest", Reply("今日无新案件"))
    await s.send(plain)
    bodies = [c.body for c in fake_api.calls_to(SEND)]
    assert [b["msgtype"] for b in bodies] == [
        "template_card",
        "text",
        "template_card",
        "textcard",
        "text",
    ]
    assert {b["touser"] for b in bodies} == {"WangLi"}  # staff id mapped to the userid
    assert bodies[0]["template_card"]["sub_title_text"] == "食堂饭菜变质"
    assert len(bodies[0]["template_card"]["task_id"]) <= 128
    assert "详情" * 200 in bodies[1]["text"]["content"]
    assert bodies[3]["textcard"]["url"] == "https://tousu.example.org/c/2611-0007"
    fake_api.fail_next(SEND, 60111, "invalid userid")
    with pytest.raises(RecipientUnreachable):
        await s.send(plain)
    fake_api.fail_next(SEND, -1, "system busy")
    with pytest.raises(TransientSendError):
        await s.send(plain)


def test_wecom_userids_from_pack() -> None:
    raw = {"staff": [{"id": "wang", "wecom_userid": "WangLi"}, {"id": "liu"}]}
    assert wecom_userids(raw) == {"wang": "WangLi"}


def test_mask_phones() -> None:
    text = (
        "家长电话13812345678，备用 +86 139-0000-0000? 座机 010-62345678，身份证 11010119900307123X"
    )
    masked = mask_phones(text)
    assert "138****5678" in masked
    assert "13812345678" not in masked
    assert "010-****5678" in masked
    assert "110101********123X" in masked
    assert mask_phones("案件 2611-0007 超期 3 天") == "案件 2611-0007 超期 3 天"


@pytest.mark.asyncio
async def test_robot_markdown_masked(fake_api: FakeWeChatAPI) -> None:
    robot = WeComRobotSender(ROBOT_KEY, api_base=fake_api.base_url)
    alert = Outbound(
        9,
        "wecom_robot",
        "default",
        "alert_overdue",
        Reply("案件 2611-0007 已超期 2 天，投诉人电话 13812345678"),
        "2611-0007",
    )
    await robot.send(alert)
    [call] = fake_api.calls_to(ROBOT)
    assert call.query["key"] == ROBOT_KEY
    content = call.body["markdown"]["content"]
    assert call.body["msgtype"] == "markdown"
    assert content.startswith("**⏰ 超期提醒**  2611-0007")
    assert "138****5678" in content and "13812345678" not in content
    fake_api.fail_next(ROBOT, 45009, "api freq out of limit")
    with pytest.raises(TransientSendError) as info:
        await robot.send(alert)
    assert info.value.retry_after == 60
    wrong = Outbound(10, "wecom_robot", "not-a-key", "digest", Reply("x"))
    with pytest.raises(RecipientUnreachable):
        await robot.send(wrong)
    digest = Outbound(11, "wecom_robot", "", "digest", Reply("今日新增 3 件\n" + "行" * 3000))
    await robot.send(digest)
    last = fake_api.calls_to(ROBOT)[-1].body["markdown"]["content"]
    assert last.startswith("**📋 每日汇总**") and len(last.encode()) <= 4096
    await robot.aclose()
