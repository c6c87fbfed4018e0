"""Benchmark: Official Account callbacks in safe (AES) mode: round trips/s, passive-reply p99.

    python bench/bench_wechat.py                      # echo engine: the channel's own cost
    python bench/bench_wechat.py --engine app         # the real dialog engine on SQLite
    python bench/bench_wechat.py -n 4000 -c 32

The server (uvicorn + the `/wechat/mp` route) runs in its own process on 127.0.0.1; the
client pre-builds every request as WeChat would (AES-encrypted, msg_signature) so only the
HTTP round trip is timed: verify → decrypt → parse → engine in a worker thread → passive
reply → encrypt. Every answer is checked to be an encrypted passive reply for its user.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "benchtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # dummy (WeChat's sample key)
APP_ID = "wx0000000000bench1"
ACCOUNT = "gh_0000bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EchoEngine:
    """Answers at once: measures the channel, not the dialog."""

    def handle(self, inbound: Any) -> list[Any]:
        from bot.dialogs.types import Choice, Reply

        return [Reply(f"收到：{inbound.text}", (Choice("a", "满意"), Choice("b", "不满意")))]


def serve(port: int, engine_kind: str, workdir: str) -> None:
    import logging

    import uvicorn
    from starlette.applications import Starlette

    from bot.handlers.wechat_crypto import CallbackCrypto
    from bot.handlers.wechat_mp import MpCallback
    from bot.handlers.wechat_sender import MemoryLastSeenStore, SqlLastSeenStore

    logging.disable(logging.WARNING)
    engine: Any
    last_seen: Any = MemoryLastSeenStore()
    if engine_kind == "app":
        from bot.bootstrap import build_app
        from bot.settings import Settings

        app = build_app(
            Settings(
                database_url=f"sqlite:///{workdir}/bench.db", pack="school", classifier="keywords"
            )
        )
        engine = app.engine
        last_seen = SqlLastSeenStore(app.db)
    else:
        engine = EchoEngine()
    callback = MpCallback(
        CallbackCrypto(TOKEN, AES_KEY, APP_ID), engine, sender=None, last_seen=last_seen
    )
    uvicorn.run(
        Starlette(routes=callback.routes()),
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
    )


def build_requests(n: int, users: int) -> list[tuple[dict[str, str], bytes, str]]:
    from wechatpy.crypto import PrpCrypto

    from bot.handlers.wechat_crypto import signature_of

    prp = PrpCrypto(base64.b64decode(AES_KEY + "="))
    out = []
    now = int(time.time())
    for i in range(n):
        openid = f"o_bench_user_{i % users:015d}"
        text = "/start" if i < users else f"第{i}条消息"
        xml = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{now}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
            f"<MsgId>{10**15 + i}</MsgId></xml>"
        )
        encrypt = prp.encrypt(xml, APP_ID).decode()
        nonce = str(100000 + i)
        params = {
            "timestamp": str(now),
            "nonce": nonce,
            "signature": signature_of(TOKEN, str(now), nonce),
            "msg_signature": signature_of(TOKEN, str(now), nonce, encrypt),
            "encrypt_type": "aes",
            "openid": openid,
        }
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ).encode()
        out.append((params, body, openid))
    return out


async def run_client(
    port: int, requests: list[tuple[dict[str, str], bytes, str]], concurrency: int
) -> tuple[float, list[float], int]:
    import httpx
    import xmltodict
    from wechatpy.crypto import WeChatCrypto

    url = f"http://127.0.0.1:{port}/wechat/mp"
    latencies: list[float] = []
    wrong = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(requests)):
        queue.put_nowait(i)
    checker = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:

        async def worker() -> None:
            nonlocal wrong
            while not queue.empty():
                i = queue.get_nowait()
                params, body, openid = requests[i]
                t0 = time.perf_counter()
                r = await http.post(url, params=params, content=body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200 or "<Encrypt>" not in r.text:
                    wrong += 1
                elif i % 97 == 0:  # spot-check: the reply decrypts and is for this user
                    outer = xmltodict.parse(r.text)["xml"]
                    inner = checker.decrypt_message(
                        r.text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
                    )
                    if openid not in inner:
                        wrong += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, wrong


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="requests (default 3000)")
    parser.add_argument("-c", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--users", type=int, default=200, help="distinct openids (default 200)")
    parser.add_argument("--engine", choices=["echo", "app"], default="echo")
    args = parser.parse_args()

    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench_wechat_")
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(port, args.engine, workdir), daemon=True
    )
    server.start()
    try:
        wait_for_port(port)
        requests = build_requests(args.n + 200, args.users)
        warmup, measured = requests[:200], requests[200:]
        asyncio.run(run_client(port, warmup, args.c))
        elapsed, latencies, wrong = asyncio.run(run_client(port, measured, args.c))
    finally:
        server.terminate()
        server.join(5)
    latencies.sort()
    ms = [x * 1000 for x in latencies]

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(p * len(ms)))]

    print(
        f"engine={args.engine} requests={len(ms)} concurrency={args.c} "
        f"users={args.users} cpus={os.cpu_count()} python={sys.version.split()[0]}"
    )
    print(f"round trips/s: {len(ms) / elapsed:,.0f}")
    print(
        f"latency ms: p50 {pct(0.50):.1f}  p90 {pct(0.90):.1f}  p99 {pct(0.99):.1f}  "
        f"max {ms[-1]:.1f}  mean {statistics.fmean(ms):.1f}"
    )
    print(f"bad answers: {wrong}")
    if wrong:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
