"""Runs the Telegram channel (either driver, either mode) against a FakeBotApi: the channel's
webhook route is served by a real uvicorn server on 127.0.0.1 so the fake can POST to it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette

from bot.dialogs.types import Inbound, Reply
from bot.handlers.telegram import TelegramChannel
from bot.handlers.tg_sender import RateLimiter
from bot.settings import Settings
from tests.telegram.fake_bot_api import FakeBotApi

WEBHOOK_SECRET = "test-webhook-secret"
DRIVERS = ("ptb", "aiogram")
MODES = ("polling", "webhook")


def telegram_settings(fake: FakeBotApi, driver: str, mode: str, **extra: Any) -> Settings:
    return Settings(
        telegram_token=SecretStr(fake.token),
        telegram_api_base=fake.base_url,
        telegram_driver=driver,  # type: ignore[arg-type]
        telegram_mode=mode,  # type: ignore[arg-type]
        telegram_webhook_secret=SecretStr(WEBHOOK_SECRET),
        public_url="http://127.0.0.1:1",  # replaced by the real port once uvicorn listens
        **extra,
    )


class Harness:
    """Starts a TelegramChannel for `engine` (anything with `.handle(Inbound) -> list[Reply]`)."""

    def __init__(self, fake: FakeBotApi, engine: Any, driver: str, mode: str,
                 settings: Settings | None = None, poll_timeout: int = 2,
                 limiter: RateLimiter | None = None) -> None:
        self.fake = fake
        self.engine = engine
        self.mode = mode
        self.settings = settings or telegram_settings(fake, driver, mode)
        # Tests script one person's turns back to back; the per-chat limit would only slow
        # them down (the limiter has its own tests), so it is relaxed unless one is given.
        limiter = limiter or RateLimiter(chat_limit=1000, chat_period=1.0)
        self.channel = TelegramChannel(engine, self.settings, limiter=limiter,
                                       poll_timeout=poll_timeout)
        self.server: uvicorn.Server | None = None
        self._serve: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> Harness:
        if self.mode == "webhook":
            app = Starlette(routes=self.channel.runtime().routes)
            config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off",
                                    log_level="warning", access_log=False)
            self.server = uvicorn.Server(config)
            self._serve = asyncio.create_task(self.server.serve())
            while not self.server.started:
                await asyncio.sleep(0.01)
            self.port = self.server.servers[0].sockets[0].getsockname()[1]
            self.settings.public_url = f"http://127.0.0.1:{self.port}"
        await self.channel.start()
        return self

    async def stop(self) -> None:
        await self.channel.stop()
        if self.server is not None and self._serve is not None:
            self.server.should_exit = True
            await self._serve

    async def __aenter__(self) -> Harness:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


@dataclass
class ScriptedEngine:
    """A stand-in for the dialog engine: dedupes update ids and answers by rules."""

    seen: set[tuple[str, str]] = field(default_factory=set)
    inbounds: list[Inbound] = field(default_factory=list)
    fail_times: int = 0  # raise on the next n calls (after dedupe), like a locked database

    def handle(self, inbound: Inbound) -> list[Reply]:
        from bot.dialogs.types import Attachment, Choice

        if inbound.update_id is not None:
            key = (inbound.channel, inbound.update_id)
            if key in self.seen:
                return []
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("engine failure")
        if inbound.update_id is not None:
            self.seen.add((inbound.channel, inbound.update_id))
        self.inbounds.append(inbound)
        if inbound.choice and inbound.choice.startswith("cat:"):  # answered with a new keyboard
            return [Reply(f"chose {inbound.choice}", choices=(Choice("more", "More"),))]
        if inbound.choice:
            return [Reply(f"chose {inbound.choice}")]
        if inbound.contact_phone:
            return [Reply(f"phone {inbound.contact_phone}")]
        if inbound.attachments:
            return [Reply(f"got {len(inbound.attachments)}", attachments=inbound.attachments)]
        text = inbound.text or ""
        if text.startswith("/start"):
            return [Reply("welcome", choices=(Choice("cat:teach", "Teaching"),
                                              Choice("cat:food", "Canteen")))]
        if text == "/phone":
            return [Reply("your phone?", request_contact=True)]
        if text == "/evidence":
            return [Reply("evidence", attachments=(Attachment("photo", "missing-id"),))]
        return [Reply(f"echo {text}")]
