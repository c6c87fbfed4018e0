"""The rate limiter on a fixed clock, and the outbox sender against the fake Bot API."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.dialogs.types import Attachment, Choice, Reply
from bot.handlers.tg_sender import RateLimited, RateLimiter, TelegramSender
from bot.messaging import Outbound, RecipientUnreachable, TransientSendError
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import DRIVERS


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock, **kwargs: Any) -> RateLimiter:
    async def no_sleep(_: float) -> None:
        return None

    return RateLimiter(clock=clock, sleep=no_sleep, **kwargs)


def test_overall_limit_is_30_per_second_in_small_steps() -> None:
    clock = Clock()
    limits = limiter(clock)
    waits = [limits.reserve(str(chat)) for chat in range(1, 91)]  # 90 different chats
    for start in waits:
        assert sum(1 for t in waits if start <= t < start + 1.0) <= 30
        assert sum(1 for t in waits if start <= t < start + 0.2) <= 6
    assert waits[:6] == [0.0] * 6 and waits[6] == pytest.approx(0.2)
    assert waits[30] == pytest.approx(1.0) and waits[89] == pytest.approx(2.8)


def test_one_chat_gets_about_one_message_per_second() -> None:
    clock = Clock()
    limits = limiter(clock)
    waits = [limits.reserve("42") for _ in range(7)]
    assert waits == [0, 0, 0, 3, 3, 3, 6]  # 3 in any 3 s: a reply's parts may go together


def test_a_group_gets_20_messages_in_any_minute() -> None:
    clock = Clock()
    limits = limiter(clock)
    booked = []
    for _ in range(50):
        booked.append(clock.now + limits.reserve("-1001"))
        clock.now += 1.0  # one a second: fine for the per-chat limit, too fast for a group
    assert booked[:20] == [100.0 + i for i in range(20)]
    for start in booked:
        assert sum(1 for t in booked if start <= t < start + 60) <= 20
    assert booked[20] == 160.0


def test_bookings_out_of_order_still_respect_the_window() -> None:
    clock = Clock()
    limits = limiter(clock, overall=((3, 1.0),))
    limits.pause("1", 10)
    booked = [limits.reserve("1")] + [limits.reserve(str(c)) for c in range(2, 8)]
    assert booked[0] == 10.0
    for start in booked:
        assert sum(1 for t in booked if start <= t < start + 1.0) <= 3


def test_max_wait_raises_without_booking() -> None:
    clock = Clock()
    limits = limiter(clock)
    for _ in range(3):
        limits.reserve("7")
    with pytest.raises(RateLimited) as raised:
        limits.reserve("7", max_wait=0.5)
    assert raised.value.wait == pytest.approx(3.0)
    assert limits.reserve("7", max_wait=3.0) == pytest.approx(3.0)  # nothing was booked


def test_pause_after_429_holds_the_chat() -> None:
    clock = Clock()
    limits = limiter(clock)
    limits.pause("9", 5)
    assert limits.reserve("9") == pytest.approx(5.0)
    assert limits.reserve("10") == 0.0


def outbound(recipient: int, reply: Reply, id: int = 1) -> Outbound:
    return Outbound(id=id, channel="telegram", recipient=str(recipient), kind="assigned",
                    reply=reply, case_number="2611-0001")


def make_driver(name: str, fake: FakeBotApi):  # type: ignore[no-untyped-def]
    if name == "ptb":
        from bot.handlers.tg_ptb import PtbDriver

        return PtbDriver(fake.token, fake.base_url)
    from bot.handlers.tg_aiogram import AiogramDriver

    return AiogramDriver(fake.token, fake.base_url)


async def noop(_: dict[str, object]) -> None:
    return None


@pytest.mark.asyncio
@pytest.mark.parametrize("driver_name", DRIVERS)
async def test_sender_delivers_card_with_buttons_and_evidence(
    fake_api: FakeBotApi, driver_name: str
) -> None:
    driver = make_driver(driver_name, fake_api)
    await driver.open(noop)
    try:
        photo = fake_api.add_file(b"jpeg", "photos/x.jpg")
        sender = TelegramSender(driver)
        card = Reply("新投诉 2611-0001", choices=(Choice("acc:2611-0001", "接受"),),
                     attachments=(Attachment("photo", photo),))
        await sender.send(outbound(-1005, card))
        texts = fake_api.messages_to(-1005)
        assert texts[0]["text"] == "新投诉 2611-0001"
        assert texts[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "acc:2611-0001"
        assert texts[1]["photo"][0]["file_id"] == photo
    finally:
        await driver.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("driver_name", DRIVERS)
async def test_sender_maps_429_to_transient_with_retry_after(
    fake_api: FakeBotApi, driver_name: str
) -> None:
    driver = make_driver(driver_name, fake_api)
    await driver.open(noop)
    try:
        sender = TelegramSender(driver)
        fake_api.flood(retry_after=3, chat_id=77)
        with pytest.raises(TransientSendError) as raised:
            await sender.send(outbound(77, Reply("progress")))
        assert raised.value.retry_after == 3
        # the chat is paused: an immediate retry is refused by the limiter, not sent
        with pytest.raises(TransientSendError) as again:
            await sender.send(outbound(77, Reply("progress")))
        assert again.value.retry_after is not None and 2.5 < again.value.retry_after <= 3
        assert len(fake_api.calls_to("sendMessage")) == 1
        assert fake_api.messages_to(77) == []
    finally:
        await driver.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("driver_name", DRIVERS)
async def test_sender_maps_403_to_unreachable_and_5xx_to_transient(
    fake_api: FakeBotApi, driver_name: str
) -> None:
    driver = make_driver(driver_name, fake_api)
    await driver.open(noop)
    try:
        sender = TelegramSender(driver)
        fake_api.block(88)
        with pytest.raises(RecipientUnreachable):
            await sender.send(outbound(88, Reply("your case was resolved")))
        fake_api.fail(502, chat_id=89)
        with pytest.raises(TransientSendError):
            await sender.send(outbound(89, Reply("hello"), id=2))
        await sender.send(outbound(89, Reply("hello"), id=2))
        assert [m["text"] for m in fake_api.messages_to(89)] == ["hello"]
    finally:
        await driver.close()


@pytest.mark.asyncio
async def test_retry_of_a_multi_part_message_does_not_repeat_sent_parts(
    fake_api: FakeBotApi,
) -> None:
    driver = make_driver("ptb", fake_api)
    await driver.open(noop)
    try:
        photo = fake_api.add_file(b"jpeg", "photos/y.jpg")
        sender = TelegramSender(driver, RateLimiter(chat_limit=10))
        fake_api.fail(500, method="sendPhoto")
        reply = Reply("evidence", attachments=(Attachment("photo", photo),))
        with pytest.raises(TransientSendError):
            await sender.send(outbound(55, reply, id=9))
        await sender.send(outbound(55, reply, id=9))
        assert [("photo" in m, m.get("text")) for m in fake_api.messages_to(55)] == [
            (False, "evidence"), (True, None)]
    finally:
        await driver.close()


@pytest.mark.asyncio
async def test_sender_spreads_a_burst_to_one_chat(fake_api: FakeBotApi) -> None:
    driver = make_driver("aiogram", fake_api)
    await driver.open(noop)
    try:
        sender = TelegramSender(driver, RateLimiter(chat_limit=1, chat_period=0.2),
                                max_wait=5)
        started = time.perf_counter()
        for i in range(4):
            await sender.send(outbound(66, Reply(f"n{i}"), id=i + 1))
        times = [c.at for c in fake_api.calls_to("sendMessage")]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        # sends are booked 0.2 s apart; arrival at the fake server jitters by some ms either way
        # on a busy machine, so each gap gets slack and the total is the firm check
        assert min(gaps) >= 0.12 and time.perf_counter() - started >= 0.55
    finally:
        await driver.close()
