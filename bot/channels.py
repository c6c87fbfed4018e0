"""How a chat channel plugs into `tousu serve`.

Each channel module (bot/handlers/...) offers a factory `build(app) -> ChannelRuntime | None`
(None when its settings are missing). The server mounts the routes, starts the runtime with
the server and registers its senders with the outbox dispatcher.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.messaging import Sender


@dataclass
class ChannelRuntime:
    name: str
    routes: list[Any] = field(default_factory=list)  # starlette.routing.Route objects
    senders: list[Sender] = field(default_factory=list)
    start: Callable[[], Awaitable[None]] | None = None  # e.g. start long polling, set webhook
    stop: Callable[[], Awaitable[None]] | None = None
