"""`tousu serve` wiring: bot.server's ASGI app (uvicorn, lifespan, scheduler) runs the Telegram
channel's runtime (routes, start/stop, sender) and the scheduled dispatcher delivers the outbox."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr

from bot.bootstrap import build_app
from bot.handlers.telegram import TelegramChannel
from bot.handlers.tg_sender import RateLimiter
from bot.server import create_asgi
from bot.settings import Settings
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.harness import WEBHOOK_SECRET
from tests.telegram.test_contract import TEACHERS, Journey, file_case

pytestmark = pytest.mark.asyncio


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("driver", "mode"), [("ptb", "webhook"), ("aiogram", "polling")])
async def test_serve_runs_the_channel_and_delivers_the_outbox(
    tmp_path: Path, fake_api: FakeBotApi, driver: str, mode: str
) -> None:
    port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/t.db", pack="school", classifier="keywords",
        telegram_token=SecretStr(fake_api.token), telegram_api_base=fake_api.base_url,
        telegram_driver=driver,  # type: ignore[arg-type]
        telegram_mode=mode,  # type: ignore[arg-type]
        telegram_webhook_secret=SecretStr(WEBHOOK_SECRET),
        public_url=f"http://127.0.0.1:{port}", dispatch_interval_seconds=0.1,
    )
    app = build_app(settings)
    # What build(app) returns, with the per-chat limit relaxed: the scripted complainant
    # answers instantly, a person doesn't (build() itself is tested in test_tg_drivers).
    channel = TelegramChannel(app.engine, settings,
                              limiter=RateLimiter(chat_limit=1000, chat_period=1.0))
    asgi = create_asgi(app, runtimes=[channel.runtime()])
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, lifespan="on",
                                          log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        await fake_api.wait_for(lambda: server.started, 10, "uvicorn started")
        if mode == "webhook":
            assert fake_api.webhook_url == f"http://127.0.0.1:{port}/telegram/webhook"
        else:
            assert fake_api.calls_to("deleteWebhook")
        j = Journey(fake_api, app)
        for staff_id, user_id in TEACHERS.items():
            await j.say(fake_api.user(user_id, "Staff"), f"/start {app.invite(staff_id)}")
        number, _ = await file_case(j, fake_api.user(1001, "TgNick", "en-GB"))
        handler = TEACHERS[j.case(number).handler]
        # no manual dispatch: the server's scheduler delivers the assignment card
        await fake_api.wait_for(
            lambda: any(number in t for t in fake_api.texts_to(handler)), 10, "card")
    finally:
        server.should_exit = True
        await serving
    if mode == "webhook":
        assert fake_api.webhook_url is not None  # stopping doesn't drop the webhook
