"""The console channel: `tousu chat` in a terminal, or driven line by line by a script.

Contract: each input line is one message; replies are plain text, choices numbered lines
("  1. label"); a choice is made by typing its number or its text; output is flushed after
every reply. Notifications for the user (assignments, progress, the survey) are printed as
they become due.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from typing import TextIO

from bot.dialogs.engine import DialogEngine
from bot.dialogs.types import Inbound, Reply
from bot.messaging import Outbound, TransientSendError

CHANNEL = "console"


def format_reply(reply: Reply) -> str:
    lines = [reply.text]
    lines += [f"  {i}. {c.label}" for i, c in enumerate(reply.choices, start=1)]
    return "\n".join(lines)


class ConsoleSender:
    """Prints notifications addressed to the console user of this session."""

    channel = CHANNEL

    def __init__(self, user: str, out: TextIO, engine: DialogEngine, lock: threading.Lock) -> None:
        self.user = user
        self.out = out
        self.engine = engine
        self.lock = lock

    async def send(self, message: Outbound) -> None:
        if message.recipient != self.user:
            raise TransientSendError(f"{message.recipient} has no console session here")
        with self.lock:
            self.out.write(format_reply(message.reply) + "\n\n")
            self.out.flush()
        self.engine.remember_choices(CHANNEL, self.user, message.reply.choices)


class ConsoleSession:
    def __init__(
        self,
        engine: DialogEngine,
        user: str,
        out: TextIO,
        tick: Callable[[], None],
        language: str | None = None,
    ) -> None:
        self.engine = engine
        self.user = user
        self.out = out
        self.tick = tick  # runs due sweeps and delivers this user's notifications
        self.language = language
        self.lock = threading.Lock()

    def show(self, replies: Iterable[Reply]) -> None:
        with self.lock:
            for reply in replies:
                self.out.write(format_reply(reply) + "\n\n")
            self.out.flush()

    def run(self, lines: Iterable[str], poll_seconds: float | None = None) -> None:
        """Open the session, then handle each line; poll for notifications when interactive."""
        self.show(self.engine.opening(CHANNEL, self.user, self.language))
        self.tick()
        stop = threading.Event()
        poller = None
        if poll_seconds:
            poller = threading.Thread(target=self._poll, args=(stop, poll_seconds), daemon=True)
            poller.start()
        try:
            for line in lines:
                text = line.rstrip("\r\n")
                replies = self.engine.handle(
                    Inbound(CHANNEL, self.user, text=text, language=self.language)
                )
                self.show(replies)
                self.tick()
        finally:
            stop.set()
            if poller is not None:
                poller.join(timeout=5)

    def _poll(self, stop: threading.Event, every: float) -> None:
        while not stop.wait(every):
            self.tick()


def deliver_for(dispatcher_dispatch: Callable[..., object], user: str) -> None:
    """Run the async dispatcher once for this console user (from sync code)."""
    coroutine = dispatcher_dispatch([CHANNEL], user)
    asyncio.run(coroutine)  # type: ignore[arg-type]
