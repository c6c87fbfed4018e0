"""Telegram channel for `tousu serve`: picks the driver, mounts the webhook, runs polling.

`build(app)` -> ChannelRuntime (None without TOUSU_TELEGRAM_TOKEN). Modes:
- polling (default): `start()` deletes any webhook and runs the bridge's getUpdates loop;
- webhook: `start()` calls setWebhook(<TOUSU_PUBLIC_URL>/telegram/webhook, secret_token);
  the route answers 403 unless X-Telegram-Bot-Api-Secret-Token matches, handles the update
  before answering, and answers 500 when the engine failed so Telegram delivers it again.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels import ChannelRuntime
from bot.handlers.tg_adapter import (
    ApiRetryAfter,
    ApiTransient,
    TelegramBridge,
    TelegramDriver,
    map_language,
)
from bot.handlers.tg_sender import RateLimiter, TelegramSender
from bot.settings import Settings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
T = TypeVar("T")


def make_driver(settings: Settings) -> TelegramDriver:
    """The driver named by TOUSU_TELEGRAM_DRIVER; its library is imported only here."""
    if settings.telegram_token is None:
        raise ValueError("TOUSU_TELEGRAM_TOKEN is not set")
    token = settings.telegram_token.get_secret_value()
    if settings.telegram_driver == "aiogram":
        from bot.handlers.tg_aiogram import AiogramDriver

        return AiogramDriver(token, settings.telegram_api_base)
    from bot.handlers.tg_ptb import PtbDriver

    return PtbDriver(token, settings.telegram_api_base)


class TelegramChannel:
    """Everything the Telegram channel runs: driver, limiter, sender and bridge."""

    def __init__(
        self,
        engine: Any,
        settings: Settings,
        driver: TelegramDriver | None = None,
        limiter: RateLimiter | None = None,
        poll_timeout: int = 25,
    ) -> None:
        self.settings = settings
        self.mode = settings.telegram_mode
        self.secret = (
            settings.telegram_webhook_secret.get_secret_value()
            if settings.telegram_webhook_secret is not None
            else None
        )
        if self.mode == "webhook":
            if not self.secret:
                raise ValueError("webhook mode needs TOUSU_TELEGRAM_WEBHOOK_SECRET")
            if not settings.public_url:
                raise ValueError("webhook mode needs TOUSU_PUBLIC_URL")
        self.driver = driver if driver is not None else make_driver(settings)
        self.limiter = limiter if limiter is not None else RateLimiter()
        language = map_language(settings.locale)
        self.sender = TelegramSender(self.driver, self.limiter, language=language)
        self.bridge = TelegramBridge(
            engine,
            self.driver,
            self.limiter,
            bot_username=settings.telegram_bot_username,
            default_language=language,
            poll_timeout=poll_timeout,
        )
        self.me: dict[str, Any] = {}
        self._opened = False

    @property
    def webhook_url(self) -> str:
        return f"{(self.settings.public_url or '').rstrip('/')}{WEBHOOK_PATH}"

    @property
    def bot_username(self) -> str | None:
        return self.bridge.bot_username

    async def start(self, attempts: int = 5) -> None:
        """getMe, then setWebhook or start polling; network trouble is retried a few times,
        a wrong token or a refused webhook URL fails the server's startup at once."""
        self.me = await _retrying(lambda: self.driver.open(self.bridge.handle_update), attempts)
        self._opened = True
        if not self.bridge.bot_username:
            self.bridge.bot_username = self.me.get("username")
        if self.mode == "webhook":
            secret = self.secret
            assert secret is not None
            await _retrying(lambda: self.driver.set_webhook(self.webhook_url, secret), attempts)
            log.info("telegram webhook set to %s (%s)", self.webhook_url, self.driver.name)
        else:
            await self.bridge.start_polling()
            log.info("telegram long polling started (%s)", self.driver.name)

    async def stop(self) -> None:
        await self.bridge.stop_polling()
        if self._opened:
            self._opened = False
            await self.driver.close()

    async def webhook(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.secret or not hmac.compare_digest(given.encode(), self.secret.encode()):
            return JSONResponse({"ok": False, "error": "forbidden"}, status_code=403)
        try:
            update = json.loads(await request.body())
            if not isinstance(update, dict) or "update_id" not in update:
                raise ValueError("not an update")
        except ValueError:
            return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
        if not self._opened:
            return JSONResponse({"ok": False, "error": "starting"}, status_code=503)
        try:
            await self.driver.feed(update)
        except Exception:  # noqa: BLE001 - Telegram redelivers; the engine dedupes
            log.exception("telegram update %s failed", update.get("update_id"))
            return JSONResponse({"ok": False, "error": "retry"}, status_code=500)
        return JSONResponse({"ok": True})

    def runtime(self) -> ChannelRuntime:
        routes = []
        if self.mode == "webhook":
            routes.append(Route(WEBHOOK_PATH, self.webhook, methods=["POST"]))
        return ChannelRuntime(
            name="telegram",
            routes=routes,
            senders=[self.sender],
            start=self.start,
            stop=self.stop,
        )


async def _retrying(call: Callable[[], Awaitable[T]], attempts: int) -> T:
    for attempt in range(attempts):
        try:
            return await call()
        except (ApiTransient, ApiRetryAfter) as exc:
            if attempt == attempts - 1:
                raise
            delay = exc.retry_after if isinstance(exc, ApiRetryAfter) else min(2.0**attempt, 10)
            log.warning("telegram not reachable (%s); retrying in %.0fs", exc, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def fetch_bot_username(settings: Settings) -> str | None:
    """The bot's @username for deep links (`tousu staff invite`): the setting, else getMe
    through the configured driver. Synchronous, for the CLI; None without a token."""
    if settings.telegram_bot_username:
        return settings.telegram_bot_username.lstrip("@")
    if settings.telegram_token is None:
        return None

    async def ask() -> str | None:
        driver = make_driver(settings)

        async def ignore(_: dict[str, Any]) -> None:
            return None

        try:
            me = await driver.open(ignore)
        finally:
            await driver.close()
        username = me.get("username")
        return str(username) if username else None

    return asyncio.run(ask())


def build(app: Any) -> ChannelRuntime | None:
    """The server's hook: `app` has `.settings` and `.engine` (bot.bootstrap.App)."""
    settings: Settings = app.settings
    if settings.telegram_token is None:
        return None
    channel = TelegramChannel(app.engine, settings)
    return channel.runtime()
