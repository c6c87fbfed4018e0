"""Outbox sender for Telegram, and the rate limiter both it and direct replies go through.

Telegram's limits (Bot FAQ): about 30 messages/s overall, about 1 message/s in one chat, and
20 messages/minute in one group. Each limit is a sliding window over booked send times: a send
is admitted at the earliest time every window allows and booked in all of them before the
caller sleeps, so concurrent senders never overshoot. A 429 pauses the chat for its retry_after.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Awaitable, Callable

from bot.handlers.tg_adapter import (
    ApiChatGone,
    ApiError,
    ApiForbidden,
    ApiRetryAfter,
    ApiTransient,
    TelegramDriver,
    is_group_chat,
    render_reply,
)
from bot.messaging import Outbound, RecipientUnreachable, TransientSendError

log = logging.getLogger(__name__)


class RateLimited(Exception):
    """Admitting the send would mean waiting longer than the caller allows."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait:.2f}s")
        self.wait = wait


class _Window:
    """At most `limit` sends in any `period` seconds (a sliding window over booked times)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.times: list[float] = []  # booked send times, sorted; may lie in the future

    def _fits(self, at: float) -> bool:
        # The busiest window holding `at` starts at `at` or at a booked time just before it.
        starts = [b for b in self.times if at - self.period < b <= at] + [at]
        for start in starts:
            inside = sum(1 for b in self.times if start <= b < start + self.period)
            if inside + 1 > self.limit:
                return False
        return True

    def earliest(self, after: float, now: float) -> float:
        """The earliest time >= `after` at which one more send fits."""
        self.times = [b for b in self.times if b > now - self.period]
        if len(self.times) < self.limit:
            candidates = [after]
        else:
            candidates = [after] + sorted(
                b + self.period for b in self.times if b + self.period > after
            )
        for at in candidates:
            if self._fits(at):
                return at
        return max(self.times) + self.period  # unreachable: after the last booking it fits

    def book(self, at: float) -> None:
        bisect.insort(self.times, at)

    def idle(self, now: float) -> bool:
        return not self.times or self.times[-1] <= now - self.period


class RateLimiter:
    """Overall, per-chat and per-group send limits for one bot token.

    Defaults: 30 sends in any second overall, smoothed to 6 in any 0.2 s so that jitter
    between booking a send and Telegram receiving it can't pile two bursts into one second;
    3 in any 3 s per chat (about 1/s, with room for a reply's text and photo together); 20 in
    any minute per group chat (negative chat id).
    """

    def __init__(
        self,
        overall: tuple[tuple[int, float], ...] = ((30, 1.0), (6, 0.2)),
        chat_limit: int = 3,
        chat_period: float = 3.0,
        group_limit: int = 20,
        group_period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._overall = [_Window(limit, period) for limit, period in overall]
        self._chat_window = (chat_limit, chat_period)
        self._group_window = (group_limit, group_period)
        self._chats: dict[str, _Window] = {}
        self._groups: dict[str, _Window] = {}
        self._paused: dict[str, float] = {}
        self._clock = clock
        self._sleep = sleep

    def reserve(self, chat_id: str, max_wait: float = float("inf")) -> float:
        """Book the earliest allowed send to `chat_id`; -> seconds to wait before sending.
        Raises RateLimited (booking nothing) when that is more than `max_wait` away."""
        now = self._clock()
        windows = [*self._overall, self._chats.setdefault(chat_id, _Window(*self._chat_window))]
        if is_group_chat(chat_id):
            windows.append(self._groups.setdefault(chat_id, _Window(*self._group_window)))
        at = max(now, self._paused.get(chat_id, 0.0))
        for _ in range(100):  # each window's earliest can push the others; settle
            later = max(w.earliest(at, now) for w in windows)
            if later == at:
                break
            at = later
        wait = at - now
        if wait > max_wait:
            raise RateLimited(wait)
        for window in windows:
            window.book(at)
        if len(self._chats) > 50_000:
            self._forget(now)
        return wait

    async def acquire(self, chat_id: str, max_wait: float = float("inf")) -> None:
        wait = self.reserve(chat_id, max_wait)
        if wait > 0:
            await self._sleep(wait)

    def pause(self, chat_id: str, seconds: float) -> None:
        """Telegram answered 429 for this chat: send nothing to it for `seconds`."""
        until = self._clock() + seconds
        self._paused[chat_id] = max(self._paused.get(chat_id, 0.0), until)

    def resume(self, chat_id: str) -> None:
        """Lift a 429 pause early (e.g. the outbox already waited out retry_after)."""
        self._paused.pop(chat_id, None)

    def _forget(self, now: float) -> None:
        for table in (self._chats, self._groups):
            for key in [k for k, window in table.items() if window.idle(now)]:
                del table[key]
        for key in [k for k, until in self._paused.items() if until < now]:
            del self._paused[key]


class TelegramSender:
    """`bot.messaging.Sender` for channel "telegram": Outbound.recipient is the chat id.

    Never blocks the dispatcher for long: when the limiter would make a message wait more
    than `max_wait` seconds, it raises TransientSendError(retry_after=wait) and the dispatcher
    reschedules the row. A message rendered as several calls (text, then photos) remembers
    how far it got, so a retry in this process doesn't repeat the parts already sent.
    """

    channel = "telegram"

    def __init__(
        self,
        driver: TelegramDriver,
        limiter: RateLimiter | None = None,
        *,
        max_wait: float = 2.0,
        language: str = "zh-CN",
    ) -> None:
        self.driver = driver
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.max_wait = max_wait
        self.language = language
        self._progress: dict[int, int] = {}

    async def send(self, message: Outbound) -> None:
        chat = message.recipient
        try:
            chat_id: int | str = int(chat)
        except ValueError:
            chat_id = chat  # "@channelusername"
        calls = render_reply(chat_id, message.reply, self.language)
        done = self._progress.get(message.id, 0)
        for index in range(done, len(calls)):
            try:
                await self.limiter.acquire(chat, self.max_wait)
            except RateLimited as exc:
                raise TransientSendError(str(exc), retry_after=exc.wait) from exc
            try:
                await self.driver.call(calls[index])
            except ApiRetryAfter as exc:
                self.limiter.pause(chat, exc.retry_after)
                raise TransientSendError(str(exc), retry_after=exc.retry_after) from exc
            except ApiForbidden as exc:
                self._progress.pop(message.id, None)
                raise RecipientUnreachable(f"telegram chat {chat}: {exc}") from exc
            except ApiChatGone as exc:
                self._progress.pop(message.id, None)
                moved = f" (migrated to {exc.new_chat_id})" if exc.new_chat_id else ""
                raise RecipientUnreachable(f"telegram chat {chat}: {exc}{moved}") from exc
            except ApiTransient as exc:
                raise TransientSendError(str(exc)) from exc
            except ApiError:
                self._progress.pop(message.id, None)
                raise  # a 400 won't change on retry; the dispatcher dead-letters it
            self._progress[message.id] = index + 1
            if len(self._progress) > 10_000:
                self._progress.clear()
        self._progress.pop(message.id, None)
        log.debug("telegram %s #%s delivered to %s", message.kind, message.id, chat)
