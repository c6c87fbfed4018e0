"""The contract suite: the whole journey inside Telegram with the real tousu App, through both
drivers in both modes, over real HTTP against the fake Bot API.

A complainant files a case through inline keyboards (with a shared contact and a photo), the
handler (linked with a one-time code) accepts it, asks a question that is relayed, requests
an extension that a manager approves in a linked group (a non-manager's press is refused),
resolves it, and the complainant rates it with one tap. Then the faults: a redelivered update
acts once, a 429 is honoured, a 403 marks the complainant unreachable and tells the handler.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import SecretStr

from bot.bootstrap import App, build_app
from bot.settings import Settings
from core.cases.model import Status
from core.clock import FixedClock
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import DRIVERS, MODES, WEBHOOK_SECRET, Harness

pytestmark = pytest.mark.asyncio
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=8)))  # a Monday
TEACHERS = {"chen": 2001, "wang": 2002, "liu": 2003}  # the teaching office's handlers
ZHAO = 3001  # director / manager
BYSTANDER = 4001  # in the managers' group, not a manager
GROUP = -1007770001
PHONE = "13812345678"


@dataclass
class Journey:
    fake: FakeBotApi
    app: App
    harness: Harness | None = None  # None when `tousu serve`'s own ASGI app runs the channel

    async def send(self, update: dict[str, Any]) -> list[dict[str, Any]]:
        """Wait until the bot has handled `update`; -> the bot's new messages in that chat."""
        chat = FakeBotApi._chat_key(update)
        before = {m["message_id"] for m in self.fake.messages_to(chat)}
        await self.fake.wait_for(lambda: self.fake.is_confirmed(update["update_id"]), 10,
                                 f"update {update['update_id']} handled")
        return [m for m in self.fake.messages_to(chat) if m["message_id"] not in before]

    async def say(self, user: dict[str, Any], text: str,
                  chat: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return await self.send(self.fake.user_text(user, text, chat))

    async def press(self, user: dict[str, Any], key: str, chat_id: int | None = None,
                    message: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Press the newest button whose callback_data is `key` (or starts with `key*`)."""
        message = message or self.find_button(chat_id or user["id"], key)[0]
        data = self.find_button(chat_id or user["id"], key, message)[1]
        return await self.send(self.fake.user_press(user, message, data))

    def find_button(self, chat_id: int, key: str,
                    message: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        candidates = [message] if message else list(reversed(self.fake.messages_to(chat_id)))
        for m in candidates:
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    data = button["callback_data"]
                    if data == key or key.endswith("*") and data.startswith(key[:-1]):
                        return m, data
        raise AssertionError(f"no button {key!r} in chat {chat_id}: "
                             f"{[m.get('text') for m in self.fake.messages_to(chat_id)]}")

    async def deliver(self, sweep: bool = False) -> int:
        """One outbox dispatcher pass, after a sweep if asked (the server runs both on timers)."""
        if sweep:
            await asyncio.to_thread(self.app.sweeper.run_once)
        return await self.app.dispatcher.dispatch_once()

    def case(self, number: str) -> Any:
        with self.app.uow() as uow:
            return uow.cases.get(number)


def contract_settings(tmp: Path, fake: FakeBotApi, driver: str, mode: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp}/t.db", pack="school", now=NOW, classifier="keywords",
        telegram_token=SecretStr(fake.token), telegram_api_base=fake.base_url,
        telegram_driver=driver,  # type: ignore[arg-type]
        telegram_mode=mode,  # type: ignore[arg-type]
        telegram_webhook_secret=SecretStr(WEBHOOK_SECRET), public_url="http://127.0.0.1:1",
    )


@pytest_asyncio.fixture(params=[(d, m) for d in DRIVERS for m in MODES],
                        ids=lambda p: f"{p[0]}-{p[1]}")
async def journey(request: pytest.FixtureRequest, tmp_path: Path,
                  fake_api: FakeBotApi) -> AsyncIterator[Journey]:
    driver, mode = request.param
    settings = contract_settings(tmp_path, fake_api, driver, mode)
    app = build_app(settings)
    harness = Harness(fake_api, app.engine, driver, mode, settings=settings)
    for sender in harness.channel.runtime().senders:
        app.dispatcher.register(sender)
    async with harness:
        yield Journey(fake_api, app, harness)


async def link_staff(j: Journey) -> None:
    for staff_id, user_id in [*TEACHERS.items(), ("zhao", ZHAO)]:
        code = j.app.invite(staff_id)
        (linked, *_) = await j.say(j.fake.user(user_id, "Staff"), f"/start {code}")
        assert j.app.renderer.staff_name(staff_id) in linked["text"]
    group = j.fake.group(GROUP)
    code = j.app.invite(None, "managers_group")
    (linked,) = await j.say(j.fake.user(ZHAO, "Staff"), f"/link@tousu_test_bot {code}", group)
    assert linked["chat"]["id"] == GROUP
    # a code works once
    (again,) = await j.say(j.fake.user(ZHAO, "Staff"), f"/link {code}", group)
    assert again["text"] != linked["text"]


async def file_case(j: Journey, complainant: dict[str, Any]) -> tuple[str, str]:
    replies = await j.say(complainant, "/start")
    assert replies[0]["text"].startswith("Hello")  # language_code "en-GB" -> English
    await j.say(complainant, "Li Hua")
    prompt = j.fake.calls_to("sendMessage")[-1].params  # the share-contact keyboard
    assert prompt["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    await j.send(j.fake.user_contact(complainant, PHONE))
    await j.say(complainant, "Wang, the class teacher")
    await j.say(complainant, "The homework load is far too heavy every night for the children")
    photo = j.fake.user_photo(complainant, b"\xff\xd8 homework photo", caption=None)
    await j.send(photo)
    largest = photo["message"]["photo"][-1]["file_id"]
    await j.press(complainant, "done")
    await j.say(complainant, "Please reduce the homework")
    await j.press(complainant, "cat:教学管理")
    (readback,) = j.fake.messages_to(complainant["id"])[-1:]
    assert "Wang, the class teacher" in readback["text"]
    registered = await j.press(complainant, "yes")
    found = re.search(r"\b\d{4}-\d{4}\b", registered[-1]["text"])
    assert found, registered[-1]["text"]
    return found.group(0), largest


async def test_complaint_journey(journey: Journey) -> None:
    j, fake = journey, journey.fake
    await link_staff(j)
    complainant = fake.user(1001, "TgNick", "en-GB", username="tg_nick_1001")
    number, photo_id = await file_case(j, complainant)
    case = j.case(number)
    assert case.complainant.channel == "telegram" and case.complainant.user_id == "1001"
    assert [(e.kind, e.ref) for e in case.evidence] == [("photo", photo_id)]

    # the assignment card reaches the handler's private chat, with buttons
    assert await j.deliver() >= 1
    handler_id = case.handler
    handler = fake.user(TEACHERS[handler_id], "Staff")
    card, _ = j.find_button(handler["id"], f"act:accept:{number}")
    assert number in card["text"]
    member = j.app.pack.member(handler_id)
    assert member is not None
    can_see = member.see_phone
    assert (PHONE in card["text"]) == can_see
    assert "tg_nick_1001" not in card["text"] and "TgNick" not in card["text"]

    # evidence is retrievable by file_id; accepting offers the next actions
    await j.press(handler, f"act:accept:{number}")
    assert j.case(number).status == Status.ACCEPTED
    shown = await j.press(handler, f"act:evidence:{number}")
    assert any("photo" in m for m in shown)
    evidence_ref = j.case(number).evidence[0].ref
    assert j.harness is not None
    assert await j.harness.channel.driver.download(evidence_ref) == b"\xff\xd8 homework photo"

    # the handler asks the complainant; the answer is relayed, identities stay hidden
    await j.press(handler, f"act:ask:{number}")
    await j.say(handler, "Which subject gives the most homework?")
    await j.deliver()
    question = fake.messages_to(1001)[-1]
    assert "Which subject gives the most homework?" in question["text"]
    assert str(handler["id"]) not in question["text"]
    await j.say(complainant, "Mostly maths")
    await j.deliver()
    relayed = fake.messages_to(handler["id"])[-1]
    assert "Mostly maths" in relayed["text"] and "1001" not in relayed["text"]

    # extension: requested by the handler, refused to a bystander, approved by a manager
    await j.press(handler, f"act:extend:{number}")
    await j.press(handler, "3")
    await j.say(handler, "需要与家长委员会讨论")
    await j.deliver()
    request_card, ok_key = j.find_button(GROUP, f"mgr:ext:{number}:*")
    assert "需要与家长委员会讨论" in request_card["text"]
    ok_key = next(b["callback_data"] for row in request_card["reply_markup"]["inline_keyboard"]
                  for b in row if b["callback_data"].endswith(":ok"))
    refused = await j.press(fake.user(BYSTANDER, "Parent"), ok_key, GROUP, request_card)
    assert "只有管理人员" in refused[-1]["text"]
    due_before = j.case(number).due_resolution
    await j.press(fake.user(ZHAO, "Staff"), ok_key, GROUP, request_card)
    assert j.case(number).due_resolution > due_before
    await j.deliver()
    assert any(number in t for t in fake.texts_to(1001)[-2:])  # the extension notice

    # resolve; the complainant gets the answer and rates it with one tap
    await j.press(handler, f"act:resolve:{number}")
    await j.press(handler, "支持")
    await j.say(handler, "We have agreed a lighter homework plan with the teacher.")
    assert j.case(number).status == Status.RESOLVED
    await j.deliver(sweep=True)  # the revisit survey is a sweep milestone
    survey, _ = j.find_button(1001, f"survey:{number}:*")
    await j.press(complainant, f"survey:{number}:满意", message=survey)
    assert j.case(number).status == Status.CLOSED
    assert fake.messages_to(1001)[-1]["text"] != survey["text"]
    assert j.harness.channel.bridge.stats.failures == 0


async def test_redelivery_429_and_403(journey: Journey) -> None:
    j, fake = journey, journey.fake
    await link_staff(j)
    complainant = fake.user(1002, "Zhang", "zh-hans")
    await j.say(complainant, "/start")
    name_update = fake.user_text(complainant, "张三")
    first = await j.send(name_update)
    chat = FakeBotApi._chat_key(name_update)
    seen = len(fake.messages_to(chat))
    fake.push_update(name_update)  # Telegram redelivers the same update_id
    await fake.wait_for(lambda: len(fake.messages_to(chat)) >= seen + len(first), 10,
                        "the redelivered update answered")
    again = fake.messages_to(chat)[seen:]
    # the engine acts once and answers the redelivery with the same reply (it may have been
    # lost in a crash), so no step is skipped and nothing is done twice
    assert [m["text"] for m in again] == [m["text"] for m in first]
    with j.app.uow() as uow:
        state = uow.dialogs.get("telegram", "1002")
    assert state is not None and state.step == "contact"
    # /status and /help work mid-dialog
    (help_text,) = await j.say(complainant, "/help")
    assert help_text["text"]

    await j.say(complainant, "/cancel")
    await j.say(complainant, "/start")
    await j.press(complainant, "anonymous")
    await j.say(complainant, "王老师")
    await j.say(complainant, "作业太多，孩子每天写到很晚")
    await j.press(complainant, "done")
    await j.say(complainant, "减少作业")
    await j.press(complainant, "cat:教学管理")
    registered = await j.press(complainant, "yes")
    number = re.search(r"\b\d{4}-\d{4}\b", registered[-1]["text"]).group(0)  # type: ignore[union-attr]
    case = j.case(number)
    with j.app.uow() as uow:
        mine = uow.cases.list_rows(complainant=("telegram", "1002"), limit=20)
    assert len(mine) == 1

    # 429 on the handler's card: the dispatcher is told retry_after and tries again then
    handler = fake.user(TEACHERS[case.handler], "Staff")
    fake.flood(retry_after=7, chat_id=handler["id"])
    assert await j.deliver() == 0
    assert fake.calls_to("sendMessage")[-1].status == 429
    assert all(number not in text for text in fake.texts_to(handler["id"]))
    clock = j.app.clock
    assert isinstance(clock, FixedClock) and j.harness is not None
    clock.advance(timedelta(seconds=3))
    assert await j.deliver() == 0  # not due yet: retry_after is 7 s
    clock.advance(timedelta(seconds=5))
    j.harness.channel.limiter.resume(str(handler["id"]))  # only the fixed clock moved
    assert await j.deliver() >= 1
    j.find_button(handler["id"], f"act:accept:{number}")

    # 403: the complainant blocked the bot; the handler is told
    await j.press(handler, f"act:accept:{number}")
    fake.block(1002)
    await j.press(handler, f"act:progress:{number}")
    await j.say(handler, "已与王老师沟通")
    await j.deliver()
    await j.deliver()
    assert [c.status for c in fake.calls_to("sendMessage") if c.chat_id == 1002][-1] == 403
    assert j.case(number).complainant.reachable is False
    await j.deliver()
    assert any("无法通过" in t or "cannot be reached" in t for t in fake.texts_to(handler["id"]))
