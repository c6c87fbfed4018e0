"""Telegram channel benchmark: both drivers, both modes, end to end against the fake Bot API.

    python bench/bench_telegram.py [--updates 1000] [--latency 200] [--engine real|echo]

For each driver (ptb, aiogram) and mode (polling, webhook):
- throughput: N users each send "/help" at once; updates/s = N / (last reply - first push);
- latency: one update at a time (no load); time from the update's arrival at the fake server
  to the fake receiving the bot's sendMessage, p50 and p99;
- limiter: the production limits (30 messages/s overall) on the same burst, messages/s sent.

`--engine real` (default) runs the real tousu App (SQLite in a temp dir, keyword classifier):
every update is one database transaction. `--engine echo` replaces it with a trivial engine
to show the adapter's own cost. Throughput and latency runs relax the rate limiter (the
production limits would cap everything at 30 messages/s, which the third figure shows).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402

from bot.dialogs.types import Inbound, Reply  # noqa: E402
from bot.handlers.tg_sender import RateLimiter  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.telegram.fake_bot_api import FakeBotApi  # noqa: E402
from tests.telegram.harness import WEBHOOK_SECRET, Harness  # noqa: E402

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=8)))


class EchoEngine:
    def __init__(self) -> None:
        self.seen: set[str] = set()

    def handle(self, inbound: Inbound) -> list[Reply]:
        if inbound.update_id in self.seen:
            return []
        self.seen.add(inbound.update_id or "")
        return [Reply(f"echo {inbound.text}")]


def make_engine(kind: str, settings: Settings) -> Any:
    if kind == "echo":
        return EchoEngine()
    from bot.bootstrap import build_app

    return build_app(settings).engine


def bench_settings(tmp: Path, fake: FakeBotApi, driver: str, mode: str, db: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp}/bench-{driver}-{mode}-{db}.db", pack="school", now=NOW,
        classifier="keywords", telegram_token=SecretStr(fake.token),
        telegram_api_base=fake.base_url, telegram_driver=driver,  # type: ignore[arg-type]
        telegram_mode=mode,  # type: ignore[arg-type]
        telegram_webhook_secret=SecretStr(WEBHOOK_SECRET), public_url="http://127.0.0.1:1",
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def first_reply_at(fake: FakeBotApi) -> dict[int, float]:
    """chat id -> when the fake received the first successful message to it."""
    seen: dict[int, float] = {}
    for call in fake.calls_to("sendMessage"):
        if call.status == 200 and call.chat_id is not None and call.chat_id not in seen:
            seen[call.chat_id] = call.at
    return seen


async def throughput(fake: FakeBotApi, n: int, base_user: int) -> tuple[float, int]:
    start = time.perf_counter()
    users = [base_user + i for i in range(n)]
    for uid in users:
        fake.user_text(fake.user(uid), "/help")
    await fake.wait_for(lambda: len(set(first_reply_at(fake)) & set(users)) >= n, 300,
                        "all replies")
    replies = first_reply_at(fake)
    end = max(replies[u] for u in users)
    return n / (end - start), n


async def latency(fake: FakeBotApi, n: int, base_user: int) -> list[float]:
    samples: list[float] = []
    for i in range(n):
        uid = base_user + i
        update = fake.user_text(fake.user(uid), "/help")
        await fake.wait_for(lambda uid=uid: uid in first_reply_at(fake), 30, "reply")  # type: ignore[misc]
        samples.append(first_reply_at(fake)[uid] - fake.pushed_at[update["update_id"]])
    return samples


async def run_one(driver: str, mode: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"driver": driver, "mode": mode}
    relaxed = RateLimiter(overall=((1_000_000, 1.0),), chat_limit=1000)
    with FakeBotApi() as fake:
        settings = bench_settings(tmp, fake, driver, mode, "relaxed")
        engine = make_engine(args.engine, settings)
        async with Harness(fake, engine, driver, mode, settings=settings, limiter=relaxed):
            await latency(fake, 20, 10_000_000)  # warm up: imports, connections, caches
            samples = await latency(fake, args.latency, 20_000_000)
            result["p50_ms"] = percentile(samples, 50) * 1000
            result["p99_ms"] = percentile(samples, 99) * 1000
            rate, _ = await throughput(fake, args.updates, 30_000_000)
            result["updates_per_s"] = rate
    with FakeBotApi() as fake:
        settings = bench_settings(tmp, fake, driver, mode, "limited")
        engine = make_engine(args.engine, settings)
        async with Harness(fake, engine, driver, mode, settings=settings,
                           limiter=RateLimiter()):
            n = args.limited
            start = time.perf_counter()
            users = [40_000_000 + i for i in range(n)]
            for uid in users:
                fake.user_text(fake.user(uid), "/help")
            await fake.wait_for(lambda: len(set(first_reply_at(fake)) & set(users)) >= n, 300)
            times = sorted(first_reply_at(fake)[u] for u in users)
            busiest = max(sum(1 for t in times if s <= t < s + 1.0) for s in times)
            result["limited_msgs_per_s"] = n / (times[-1] - start)
            result["limited_max_in_1s"] = busiest
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=1000, help="burst size for throughput")
    parser.add_argument("--latency", type=int, default=200, help="sequential latency samples")
    parser.add_argument("--limited", type=int, default=120, help="burst under real limits")
    parser.add_argument("--engine", choices=["real", "echo"], default="real")
    parser.add_argument("--drivers", default="ptb,aiogram")
    parser.add_argument("--modes", default="polling,webhook")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiogram").setLevel(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for driver in args.drivers.split(","):
            for mode in args.modes.split(","):
                row = await run_one(driver, mode, args, Path(tmp))
                rows.append(row)
                print(f"{driver:8} {mode:8} {row['updates_per_s']:8.0f} updates/s   "
                      f"p50 {row['p50_ms']:6.1f} ms   p99 {row['p99_ms']:6.1f} ms   "
                      f"limited {row['limited_msgs_per_s']:5.1f} msg/s "
                      f"(max {row['limited_max_in_1s']} in 1 s)", flush=True)
    print(f"\nengine={args.engine} updates={args.updates} latency samples={args.latency}")


if __name__ == "__main__":
    asyncio.run(main())
