"""`tousu serve`: one ASGI app (uvicorn) with every configured channel, the scheduler and the
outbox dispatcher.

Scheduled jobs take no business arguments: the sweep job runs every time-driven step that is
due, the dispatch job delivers due outbox rows. Both are safe to run in several processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.bootstrap import App, build_app
from bot.channels import ChannelRuntime

log = logging.getLogger(__name__)
CHANNEL_MODULES = ("bot.handlers.telegram", "bot.handlers.wechat")


def build_channels(app: App) -> list[ChannelRuntime]:
    runtimes: list[ChannelRuntime] = []
    for name in CHANNEL_MODULES:
        module = importlib.import_module(name)
        runtime = module.build(app)
        if runtime is not None:
            runtimes.append(runtime)
            log.info("channel %s configured", runtime.name)
    return runtimes


def create_asgi(app: App, runtimes: list[ChannelRuntime] | None = None,
                scheduler: bool = True) -> Starlette:
    runtimes = build_channels(app) if runtimes is None else runtimes
    for runtime in runtimes:
        for sender in runtime.senders:
            app.dispatcher.register(sender)
    sched = AsyncIOScheduler(timezone="UTC")
    dispatch_lock = asyncio.Lock()

    async def dispatch_job() -> None:
        if dispatch_lock.locked():
            return
        async with dispatch_lock:
            while await app.dispatcher.dispatch_once() > 0:
                pass

    async def sweep_job() -> None:
        report = await asyncio.to_thread(app.sweeper.run_once, 1000, False)
        if report.steps:
            log.info("sweep: %s case(s), %s step(s)", report.cases, report.steps)
        await dispatch_job()

    async def digest_job() -> None:
        if await asyncio.to_thread(app.sweeper.run_digests):
            await dispatch_job()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        for runtime in runtimes:
            if runtime.start is not None:
                await runtime.start()
        if scheduler:
            s = app.settings
            # coalesce + max_instances=1: a backlog after downtime runs once, not once per tick
            sched.add_job(dispatch_job, "interval", seconds=s.dispatch_interval_seconds,
                          id="dispatch", coalesce=True, max_instances=1)
            sched.add_job(sweep_job, "interval", seconds=s.sweep_interval_seconds, id="sweep",
                          coalesce=True, max_instances=1, next_run_time=app.clock.now())
            sched.add_job(digest_job, "interval", seconds=300, id="digests", coalesce=True,
                          max_instances=1, next_run_time=app.clock.now())
            sched.start()
        try:
            yield
        finally:
            if scheduler:
                sched.shutdown(wait=False)
            for runtime in reversed(runtimes):
                if runtime.stop is not None:
                    await runtime.stop()

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "pack": app.pack.id,
                             "channels": [r.name for r in runtimes],
                             "pending_outbox": await asyncio.to_thread(
                                 app.outbox.pending_count)})

    routes: list[Any] = [Route("/healthz", health)]
    for runtime in runtimes:
        routes.extend(runtime.routes)
    return Starlette(routes=routes, lifespan=lifespan)


def run() -> None:
    import uvicorn

    app = build_app()
    asgi = create_asgi(app)
    uvicorn.run(asgi, host=app.settings.host, port=app.settings.port,
                log_level=app.settings.log_level.lower())
