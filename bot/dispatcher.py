"""Delivers outbox rows through channel senders, with retries, backoff and dead letters."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from datetime import timedelta

from bot.messaging import Outbound, RecipientUnreachable, Sender, TransientSendError
from bot.payloads import payload_to_reply
from core.clock import Clock
from storage.outbox import ClaimedRow, OutboxStore

log = logging.getLogger(__name__)


def backoff(attempt: int, base: float = 2.0, cap: float = 3600.0) -> float:
    """Exponential backoff with full jitter: attempt 1 -> up to 2 s, 2 -> 4 s, ..."""
    return random.uniform(base ** attempt / 2, min(cap, base ** attempt))


class OutboxDispatcher:
    def __init__(self, store: OutboxStore, clock: Clock,
                 on_unreachable: Callable[[ClaimedRow], None] | None = None,
                 max_attempts: int = 8) -> None:
        self.store = store
        self.clock = clock
        self.on_unreachable = on_unreachable
        self.max_attempts = max_attempts
        self.senders: dict[str, Sender] = {}

    def register(self, sender: Sender) -> None:
        self.senders[sender.channel] = sender

    async def dispatch_once(self, channels: Sequence[str] | None = None,
                            recipient: str | None = None, limit: int = 100) -> int:
        """Deliver what is due now; returns the number of rows delivered."""
        wanted = [c for c in (channels or self.senders) if c in self.senders]
        if not wanted:
            return 0
        now = self.clock.now()
        rows = await asyncio.to_thread(self.store.claim, now, wanted, limit, recipient)
        sent = 0
        for row in rows:
            if await self._deliver(row):
                sent += 1
        return sent

    async def _deliver(self, row: ClaimedRow) -> bool:
        sender = self.senders[row.channel]
        message = Outbound(row.id, row.channel, row.recipient, row.kind,
                           payload_to_reply(row.payload), row.case_number)
        now = self.clock.now()
        try:
            await sender.send(message)
        except TransientSendError as exc:
            attempt = row.attempts + 1
            if attempt >= self.max_attempts:
                log.error("outbox %s dead after %s attempts: %s", row.id, attempt, exc)
                await asyncio.to_thread(self.store.mark_failed, row.id, now, str(exc), None)
            else:
                wait = exc.retry_after if exc.retry_after is not None else backoff(attempt)
                await asyncio.to_thread(self.store.mark_failed, row.id, now, str(exc),
                                        now + timedelta(seconds=wait))
            return False
        except RecipientUnreachable as exc:
            await asyncio.to_thread(self.store.mark_failed, row.id, now,
                                    f"unreachable: {exc}", None)
            if self.on_unreachable is not None:
                await asyncio.to_thread(self.on_unreachable, row)
            return False
        except Exception as exc:  # a sender bug or a 4xx must not stop the other rows
            log.exception("outbox %s: sender %s failed", row.id, row.channel)
            attempt = row.attempts + 1
            retry_at = (None if attempt >= self.max_attempts
                        else now + timedelta(seconds=backoff(attempt)))
            await asyncio.to_thread(self.store.mark_failed, row.id, now, repr(exc), retry_at)
            return False
        await asyncio.to_thread(self.store.mark_sent, row.id, now)
        return True
