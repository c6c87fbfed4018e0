"""What the WeChat Official Account and WeCom callbacks share: the engine port and running it
under WeChat's five-second budget, with late answers delivered afterwards."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.dialogs.types import Inbound, Reply
from bot.messaging import RecipientUnreachable, TransientSendError

log = logging.getLogger(__name__)

PASSIVE_BUDGET_SECONDS = 4.5
LATE_ATTEMPTS = (0.0, 1.0, 4.0, 15.0)  # delays before each try of a late answer


class Engine(Protocol):
    def handle(self, inbound: Inbound) -> list[Reply]: ...


# -- engine calls under a deadline ---------------------------------------------------------
LateHandler = Callable[[Inbound, list[Reply] | None], Awaitable[None]]


@dataclass
class _Flight:
    task: asyncio.Task[list[Reply]]
    late: bool = False


@dataclass
class DeadlineRunner:
    """Run `engine.handle` in worker threads; answer within `budget` or hand over.

    `run` returns the replies, or None when the budget ran out: the task keeps going and
    `on_late(inbound, replies)` is awaited when it completes (`replies` None on failure).
    """

    engine: Engine
    on_late: LateHandler
    budget: float = PASSIVE_BUDGET_SECONDS
    workers: int = 16
    _inflight: dict[str, _Flight] = field(default_factory=dict)
    _background: set[asyncio.Task[Any]] = field(default_factory=set)
    _executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="wechat-engine")
        return self._executor

    async def _call(self, inbound: Inbound) -> list[Reply]:
        loop = asyncio.get_running_loop()
        return list(await loop.run_in_executor(self._pool(), self.engine.handle, inbound))

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Keep a reference to a background task until it is done."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def run(self, inbound: Inbound) -> list[Reply] | None:
        key = inbound.update_id or f"{inbound.user_id}:{time.monotonic_ns()}"
        flight = self._inflight.get(key)
        if flight is None:
            flight = _Flight(asyncio.ensure_future(self._call(inbound)))
            self._inflight[key] = flight
            flight.task.add_done_callback(lambda _t: self._finished(key, inbound))
        elif flight.late:
            return None  # a retry after we already said "success": the late path answers
        try:
            replies = await asyncio.wait_for(asyncio.shield(flight.task), self.budget)
        except TimeoutError:
            if flight.late:
                return None
            if flight.task.done():  # finished in the same tick as the timeout
                return flight.task.result()
            flight.late = True  # from now on `_finished` hands the answer to `on_late`
            return None
        return None if flight.late else replies

    def _finished(self, key: str, inbound: Inbound) -> None:
        flight = self._inflight.pop(key, None)
        if flight is None or not flight.late:
            return
        task = flight.task
        replies = None if task.cancelled() or task.exception() else task.result()
        if replies is None and not task.cancelled():
            log.error("late dialog answer failed for %s", key, exc_info=task.exception())
        self.spawn(self.on_late(inbound, replies))

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for in-flight answers and late deliveries (server shutdown)."""
        pending = [f.task for f in self._inflight.values()] + list(self._background)
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        if self._background:
            await asyncio.wait(list(self._background), timeout=timeout)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=False)
            self._executor = None


async def deliver_with_retries(
    send: Callable[[], Awaitable[None]], what: str, delays: tuple[float, ...] = LATE_ATTEMPTS
) -> bool:
    """Send now, retrying transient failures a few times; False if it never went out."""
    for attempt, delay in enumerate(delays, 1):
        if delay:
            await asyncio.sleep(delay)
        try:
            await send()
            return True
        except RecipientUnreachable as exc:
            log.warning("%s: recipient unreachable: %s", what, exc)
            return False
        except TransientSendError as exc:
            log.warning("%s: attempt %d failed: %s", what, attempt, exc)
    log.error("%s: giving up after %d attempts", what, len(delays))
    return False
