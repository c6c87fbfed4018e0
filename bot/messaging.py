"""Outbound side: what the outbox dispatcher hands to a channel sender, and how senders fail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.dialogs.types import Reply


@dataclass(frozen=True)
class Outbound:
    """A notification row being delivered."""

    id: int
    channel: str  # which sender delivers it
    recipient: str  # the address on that channel (chat id, openid, staff userid, group id)
    kind: str  # notification kind ("assigned", "progress", "survey", "alert_overdue", ...)
    reply: Reply
    case_number: str | None = None


class TransientSendError(Exception):
    """Try again later (network trouble, 5xx, rate limit)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RecipientUnreachable(Exception):
    """The recipient can't be reached on this channel (bot blocked, unsubscribed)."""


class Sender(Protocol):
    channel: str

    async def send(self, message: Outbound) -> None:
        """Deliver or raise TransientSendError / RecipientUnreachable."""
        ...
