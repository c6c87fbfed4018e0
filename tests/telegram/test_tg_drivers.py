"""Both drivers, in both modes, over real HTTP against the fake Bot API, with a scripted
stand-in for the dialog engine (the end-to-end suite with the real engine is test_contract)."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from bot.dialogs.types import Inbound, Reply
from bot.settings import Settings
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import (
    DRIVERS,
    MODES,
    WEBHOOK_SECRET,
    Harness,
    ScriptedEngine,
    telegram_settings,
)

pytestmark = pytest.mark.asyncio
COMBOS = [(d, m) for d in DRIVERS for m in MODES]


@pytest.mark.parametrize(("driver", "mode"), COMBOS)
async def test_keyboard_press_answers_query_edits_card_and_replies(
    fake_api: FakeBotApi, driver: str, mode: str
) -> None:
    engine = ScriptedEngine()
    async with Harness(fake_api, engine, driver, mode):
        user = fake_api.user(42, "Li", "en-US")
        fake_api.user_text(user, "/start")
        (card,) = await fake_api.wait_messages(42, 1)
        assert card["text"] == "welcome"
        fake_api.user_press(user, card, "cat:food")
        messages = await fake_api.wait_messages(42, 2)
        assert messages[1]["text"] == "chose cat:food"
        # a new keyboard supersedes the pressed one: the card shows the choice, loses buttons
        assert messages[0]["text"] == "welcome\n\n› Canteen"
        assert "reply_markup" not in messages[0]
        fake_api.user_press(user, messages[1], "more")
        messages = await fake_api.wait_messages(42, 3)
        assert messages[2]["text"] == "chose more"
        # an answer without buttons leaves the pressed card as it was
        assert messages[1]["text"] == "chose cat:food" and messages[1]["reply_markup"]
        await fake_api.wait_for(lambda: len(fake_api.answered) == 2, 5, "answered queries")
    assert [(i.text, i.choice, i.language) for i in engine.inbounds] == [
        ("/start", None, "en-US"), (None, "cat:food", "en-US"), (None, "more", "en-US")]


@pytest.mark.parametrize(("driver", "mode"), COMBOS)
async def test_photo_document_and_contact(fake_api: FakeBotApi, driver: str, mode: str) -> None:
    engine = ScriptedEngine()
    async with Harness(fake_api, engine, driver, mode) as harness:
        user = fake_api.user(43)
        fake_api.user_photo(user, b"\xff\xd8 a broken slide", caption="滑梯坏了")
        await fake_api.wait_messages(43, 2)  # "got 1" and the photo sent back by file_id
        photo = engine.inbounds[0].attachments[0]
        assert photo.kind == "photo" and engine.inbounds[0].text == "滑梯坏了"
        assert await harness.channel.driver.download(photo.ref) == b"\xff\xd8 a broken slide"
        assert fake_api.messages_to(43)[1]["photo"][0]["file_id"] == photo.ref

        fake_api.user_document(user, b"%PDF-1.4 receipt", name="receipt.pdf")
        await fake_api.wait_messages(43, 4)
        document = engine.inbounds[1].attachments[0]
        assert (document.kind, document.name) == ("document", "receipt.pdf")
        assert await harness.channel.driver.download(document.ref) == b"%PDF-1.4 receipt"

        fake_api.user_text(user, "/phone")
        messages = await fake_api.wait_messages(43, 5)
        keyboard_call = fake_api.calls_to("sendMessage")[-1]
        assert keyboard_call.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
        assert messages[-1]["text"] == "your phone?"
        fake_api.user_contact(user, "+8613812345678")
        await fake_api.wait_messages(43, 6)
        assert engine.inbounds[-1].contact_phone == "+8613812345678"
        assert fake_api.calls_to("sendMessage")[-1].params["reply_markup"] == {
            "remove_keyboard": True}


@pytest.mark.parametrize(("driver", "mode"), COMBOS)
async def test_redelivered_update_acts_once(fake_api: FakeBotApi, driver: str, mode: str) -> None:
    engine = ScriptedEngine()
    async with Harness(fake_api, engine, driver, mode):
        user = fake_api.user(44)
        update = fake_api.user_text(user, "老师体罚学生")
        await fake_api.wait_messages(44, 1)
        fake_api.push_update(update)  # Telegram sends the same update_id again
        fake_api.user_text(user, "second")
        await fake_api.wait_messages(44, 2)
    assert [i.text for i in engine.inbounds] == ["老师体罚学生", "second"]
    assert fake_api.texts_to(44) == ["echo 老师体罚学生", "echo second"]


@pytest.mark.parametrize(("driver", "mode"), COMBOS)
async def test_engine_failure_gets_the_update_delivered_again(
    fake_api: FakeBotApi, driver: str, mode: str
) -> None:
    engine = ScriptedEngine(fail_times=2)
    async with Harness(fake_api, engine, driver, mode):
        user = fake_api.user(45)
        update = fake_api.user_text(user, "食堂有虫")
        await fake_api.wait_messages(45, 1)
        await fake_api.wait_for(lambda: fake_api.is_confirmed(update["update_id"]), 5)
    assert [i.text for i in engine.inbounds] == ["食堂有虫"]
    assert fake_api.texts_to(45) == ["echo 食堂有虫"]
    if mode == "webhook":  # Telegram saw two 500s before the 200
        statuses = [s for uid, s, _ in fake_api.webhook_posts if uid == update["update_id"]]
        assert statuses == [500, 500, 200]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_webhook_refuses_a_wrong_secret(fake_api: FakeBotApi, driver: str) -> None:
    engine = ScriptedEngine()
    async with Harness(fake_api, engine, driver, "webhook") as harness:
        url = f"http://127.0.0.1:{harness.port}/telegram/webhook"
        update = {"update_id": 1, "message": {"message_id": 1, "from": fake_api.user(1),
                                              "chat": {"id": 1, "type": "private"}, "date": 0,
                                              "text": "/start"}}
        async with httpx.AsyncClient() as client:
            missing = await client.post(url, json=update)
            wrong = await client.post(url, json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
            good = await client.post(url, json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})
        assert (missing.status_code, wrong.status_code, good.status_code) == (403, 403, 200)
        assert fake_api.calls_to("setWebhook")[0].params["secret_token"] == WEBHOOK_SECRET
    assert [i.text for i in engine.inbounds] == ["/start"]


@pytest.mark.parametrize(("driver", "mode"), COMBOS)
async def test_group_command_and_button(fake_api: FakeBotApi, driver: str, mode: str) -> None:
    engine = ScriptedEngine()
    group = fake_api.group(-1009)
    async with Harness(fake_api, engine, driver, mode):
        manager = fake_api.user(46)
        fake_api.user_text(manager, "/link@tousu_test_bot K7Q2", chat=group)
        fake_api.user_text(manager, "/start@someone_else_bot", chat=group)
        fake_api.user_text(manager, "/start@tousu_test_bot", chat=group)
        (_, card) = await fake_api.wait_messages(-1009, 2)
        fake_api.user_press(manager, card, "cat:teach")
        messages = await fake_api.wait_messages(-1009, 3)
        assert messages[-1]["text"] == "chose cat:teach"
        assert messages[1] == card  # group cards are never edited: several managers share them
    assert [(i.text, i.chat_id) for i in engine.inbounds[:2]] == [
        ("/link K7Q2", "-1009"), ("/start", "-1009")]
    assert engine.inbounds[2].choice == "cat:teach" and engine.inbounds[2].user_id == "46"


class CrashingEngine(ScriptedEngine):
    """The first message blocks until released, then the process "dies" before committing."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.crash = True

    def handle(self, inbound: Inbound) -> list[Reply]:
        if self.crash:
            self.entered.set()
            self.release.wait(10)
            raise RuntimeError("killed")  # nothing recorded, nothing answered
        return super().handle(inbound)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_crash_between_receiving_and_answering_loses_nothing(
    fake_api: FakeBotApi, driver: str
) -> None:
    engine = CrashingEngine()
    first = Harness(fake_api, engine, driver, "polling")
    await first.start()
    user = fake_api.user(47)
    update = fake_api.user_text(user, "校车超载")
    await asyncio.to_thread(engine.entered.wait, 10)
    # kill -9: the polling task dies mid-update, nothing is shut down gracefully
    task = first.channel.bridge._poll_task
    assert task is not None
    task.cancel()
    engine.release.set()
    await asyncio.sleep(0.1)
    assert not fake_api.is_confirmed(update["update_id"])
    assert fake_api.messages_to(47) == []
    await first.channel.driver.close()

    engine.crash = False
    async with Harness(fake_api, engine, driver, "polling"):  # the restarted process
        await fake_api.wait_messages(47, 1)
        await fake_api.wait_for(lambda: fake_api.is_confirmed(update["update_id"]), 5)
    assert [i.text for i in engine.inbounds] == ["校车超载"]
    assert fake_api.texts_to(47) == ["echo 校车超载"]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_reply_hit_by_429_waits_retry_after_then_arrives(
    fake_api: FakeBotApi, driver: str
) -> None:
    engine = ScriptedEngine()
    async with Harness(fake_api, engine, driver, "polling"):
        fake_api.flood(retry_after=1, chat_id=48, method="sendMessage")
        fake_api.user_text(fake_api.user(48), "hello")
        await fake_api.wait_messages(48, 1, timeout=5)
        first, second = fake_api.calls_to("sendMessage")
        assert first.status == 429 and second.status == 200
        assert second.at - first.at >= 0.95


@pytest.mark.parametrize("driver", DRIVERS)
async def test_blocked_user_does_not_break_the_bot(fake_api: FakeBotApi, driver: str) -> None:
    engine = ScriptedEngine()
    async with Harness(fake_api, engine, driver, "polling") as harness:
        fake_api.block(49)
        fake_api.user_text(fake_api.user(49), "hello")
        fake_api.user_text(fake_api.user(50), "hello")
        await fake_api.wait_messages(50, 1)
        await fake_api.wait_for(lambda: harness.channel.bridge.stats.replies_lost == 1, 5)
    assert len(engine.inbounds) == 2


@pytest.mark.parametrize("driver", DRIVERS)
async def test_start_retries_when_telegram_is_briefly_unreachable(
    fake_api: FakeBotApi, driver: str
) -> None:
    fake_api.fail(502, method="getMe")
    fake_api.fail(500, method="setWebhook")
    async with Harness(fake_api, ScriptedEngine(), driver, "webhook"):
        assert [c.status for c in fake_api.calls_to("getMe")] == [502, 200]
        assert [c.status for c in fake_api.calls_to("setWebhook")] == [500, 200]


async def test_build_needs_a_token_and_webhook_mode_needs_a_secret(
    fake_api: FakeBotApi,
) -> None:
    from types import SimpleNamespace

    from bot.handlers.telegram import TelegramChannel, build

    assert build(SimpleNamespace(settings=Settings(), engine=ScriptedEngine())) is None
    settings = telegram_settings(fake_api, "ptb", "webhook")
    settings.telegram_webhook_secret = None
    with pytest.raises(ValueError, match="SECRET"):
        TelegramChannel(ScriptedEngine(), settings)
    runtime = build(SimpleNamespace(settings=telegram_settings(fake_api, "aiogram", "polling"),
                                    engine=ScriptedEngine()))
    assert runtime is not None and runtime.routes == [] and runtime.senders[0].channel == "telegram"


@pytest.mark.parametrize("driver", DRIVERS)
async def test_bot_username_for_deep_links_comes_from_get_me(
    fake_api: FakeBotApi, driver: str
) -> None:
    from bot.handlers.telegram import fetch_bot_username

    settings = telegram_settings(fake_api, driver, "polling")
    # synchronous (the CLI calls it), so off this test's event loop
    assert await asyncio.to_thread(fetch_bot_username, settings) == "tousu_test_bot"
    settings.telegram_bot_username = "@configured_bot"
    assert fetch_bot_username(settings) == "configured_bot"
    assert fetch_bot_username(Settings()) is None
