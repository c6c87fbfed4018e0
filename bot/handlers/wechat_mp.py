"""Official Account callback (`/wechat/mp`): verification, messages, passive replies.

WeChat waits five seconds for an answer and otherwise retries (three times, same MsgId).
Each message goes to the dialog engine in a worker thread; if the engine answers within
`budget` (4.5 s) the answer goes back as a passive reply (one text message, choices as
numbered lines). Otherwise the route answers "success" at once and the still-running
task sends the answer through the customer-service API when it completes, so a slow
answer is late but not lost. Retries of a message still in flight join the first task;
retries of one just answered get the same passive reply again; the engine's own dedupe
by (channel, update_id) covers retries that reach another process.

Nothing is recorded (no engine call, no last-seen time) before the signature and the
timestamp have been checked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from wechatpy.replies import TextReply

from bot.dialogs.types import Attachment, Inbound, Reply
from bot.handlers.wechat_common import (
    PASSIVE_BUDGET_SECONDS,
    DeadlineRunner,
    Engine,
    deliver_with_retries,
)
from bot.handlers.wechat_crypto import (
    BadSignature,
    CallbackCrypto,
    CallbackError,
    CallbackMessage,
    CallbackQuery,
    StaleTimestamp,
    cdata_safe,
)
from bot.handlers.wechat_sender import LastSeenStore, WeChatSender, render_replies, text_for
from bot.handlers.wechat_tokens import MpClient
from core.clock import Clock, SystemClock

log = logging.getLogger(__name__)

ANSWER_CACHE_SECONDS = 60.0

# Menu-click event keys -> dialog commands; the pack's `wechat.menu` adds or overrides.
DEFAULT_MENU = {
    "START": "/start",
    "NEW": "/start",
    "COMPLAIN": "/start",
    "STATUS": "/status",
    "MYCASES": "/mycases",
    "CANCEL": "/cancel",
    "HELP": "/help",
    "BACK": "/back",
}
WINDOW_EVENTS = {"subscribe", "subscribe_scan", "scan", "click"}  # events that open 48 h



# -- message -> Inbound ------------------------------------------------------------------
@dataclass(frozen=True)
class Mapped:
    """What to do with a callback message: ask the engine, answer locally, or ignore."""

    inbound: Inbound | None = None
    local_text_key: str | None = None  # a channel text ("voice", "unknown")

    @property
    def ignore(self) -> bool:
        return self.inbound is None and self.local_text_key is None


def map_message(
    msg: CallbackMessage,
    *,
    channel: str = "wechat",
    voice_recognition: bool = False,
    menu: Mapping[str, str] | None = None,
) -> Mapped:
    """Translate a parsed callback into an `Inbound` (or a local answer, or nothing)."""
    base: dict[str, Any] = {
        "channel": channel,
        "user_id": msg.from_user,
        "update_id": msg.dedupe_key,
    }
    kind = msg.msg_type
    if kind == "text":
        return Mapped(Inbound(text=msg.get("Content") or "", **base))
    if kind == "image":
        media_id = msg.get("MediaId") or ""
        photo = Attachment(kind="photo", ref=media_id, url=msg.get("PicUrl"), mime="image/jpeg")
        return Mapped(Inbound(attachments=(photo,), **base))
    if kind in {"video", "shortvideo"}:
        video = Attachment(kind="video", ref=msg.get("MediaId") or "")
        return Mapped(Inbound(attachments=(video,), **base))
    if kind == "voice":
        recognition = (msg.get("Recognition") or "").strip()
        if voice_recognition and recognition:
            return Mapped(Inbound(text=recognition, **base))
        return Mapped(local_text_key="voice")
    if kind == "location" and msg.get("Label"):
        return Mapped(Inbound(text=msg.get("Label"), **base))
    if kind == "event":
        return _map_event(msg, base, {**DEFAULT_MENU, **(menu or {})})
    return Mapped(local_text_key="unknown")


def _map_event(msg: CallbackMessage, base: dict[str, Any], menu: Mapping[str, str]) -> Mapped:
    event = msg.event or ""
    if event == "subscribe":  # also "qrscene_..." subscriptions
        return Mapped(Inbound(text="/start", **base))
    if event == "click":
        key = (msg.get("EventKey") or "").strip()
        command = key if key.startswith("/") else menu.get(key.upper(), "/help")
        return Mapped(Inbound(text=command, **base))
    # unsubscribe, view, scan, location reports, template-send results: no answer
    return Mapped()


# -- the route -------------------------------------------------------------------------------
class MpCallback:
    """Starlette endpoints for the Official Account callback."""

    channel = "wechat"

    def __init__(
        self,
        crypto: CallbackCrypto,
        engine: Engine,
        *,
        sender: WeChatSender | None,
        last_seen: LastSeenStore,
        clock: Clock | None = None,
        voice_recognition: bool = False,
        menu: Mapping[str, str] | None = None,
        locale: str = "zh-CN",
        texts: Mapping[str, Mapping[str, str]] | None = None,
        budget: float = PASSIVE_BUDGET_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.crypto = crypto
        self.sender = sender
        self.last_seen = last_seen
        self.clock: Clock = clock or SystemClock()
        self.voice_recognition = voice_recognition
        self.menu = dict(menu or {})
        self.locale = locale
        self.texts = texts
        self.wall_clock = wall_clock
        self.runner = DeadlineRunner(engine, self._deliver_late, budget=budget)
        self._answers: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self.stats = {"passive": 0, "late": 0, "rejected": 0, "duplicates": 0}

    def routes(self, path: str = "/wechat/mp") -> list[Route]:
        return [
            Route(path, self.verify, methods=["GET"]),
            Route(path, self.receive, methods=["POST"]),
        ]

    # -- GET -------------------------------------------------------------------------------
    async def verify(self, request: Request) -> Response:
        query = CallbackQuery.from_mapping(request.query_params)
        try:
            echo = self.crypto.verify_url(query)
        except (BadSignature, StaleTimestamp):
            return PlainTextResponse("forbidden", status_code=403)
        except CallbackError:
            return PlainTextResponse("bad request", status_code=400)
        return PlainTextResponse(echo)

    # -- POST ------------------------------------------------------------------------------
    async def receive(self, request: Request) -> Response:
        query = CallbackQuery.from_mapping(request.query_params)
        body = await request.body()
        try:
            msg = self.crypto.unwrap(query, body)
        except (BadSignature, StaleTimestamp) as exc:
            self.stats["rejected"] += 1
            log.warning("wechat callback refused: %s", exc)
            return PlainTextResponse("forbidden", status_code=403)
        except CallbackError as exc:
            self.stats["rejected"] += 1
            log.warning("wechat callback unreadable: %s", exc)
            return PlainTextResponse("bad request", status_code=400)

        await self._note_seen(msg)
        mapped = map_message(
            msg, channel=self.channel, voice_recognition=self.voice_recognition, menu=self.menu
        )
        if mapped.ignore:
            return self._success()
        if mapped.local_text_key:
            text = text_for(mapped.local_text_key, self.locale, self.texts)
            return self._passive(msg, query, text)
        assert mapped.inbound is not None
        return await self._answer(msg, query, mapped.inbound)

    async def _answer(
        self, msg: CallbackMessage, query: CallbackQuery, inbound: Inbound
    ) -> Response:
        key = msg.dedupe_key
        cached = self._cached_answer(key)
        if cached is not None:
            self.stats["duplicates"] += 1
            return self._passive(msg, query, cached)
        try:
            replies = await self.runner.run(inbound)
        except Exception:
            log.exception("dialog engine failed on wechat update %s", key)
            return self._passive(msg, query, text_for("error", self.locale, self.texts))
        if replies is None:
            self.stats["late"] += 1
            return self._success()
        chunks = render_replies(replies, self.locale)
        if not chunks:  # a duplicate the engine dropped, or nothing to say
            return self._success()
        self._remember(key, chunks[0])
        if len(chunks) > 1:
            self.runner.spawn(self._send_rest(inbound.user_id, chunks[1:]))
        self.stats["passive"] += 1
        return self._passive(msg, query, chunks[0])

    async def _note_seen(self, msg: CallbackMessage) -> None:
        if msg.msg_type == "event" and msg.event == "unsubscribe":
            await asyncio.to_thread(self.last_seen.forget, self.channel, msg.from_user)
        elif msg.msg_type != "event" or msg.event in WINDOW_EVENTS:
            await asyncio.to_thread(
                self.last_seen.touch, self.channel, msg.from_user, self.clock.now()
            )

    # -- responses -------------------------------------------------------------------------
    @staticmethod
    def _success() -> Response:
        return PlainTextResponse("success")

    def _passive(self, msg: CallbackMessage, query: CallbackQuery, text: str) -> Response:
        reply = TextReply(
            source=msg.to_user,
            target=msg.from_user,
            content=cdata_safe(text),
            time=int(self.wall_clock()),
        )
        xml = self.crypto.wrap(reply.render(), query)
        return Response(xml, media_type="application/xml")

    def _cached_answer(self, key: str) -> str | None:
        now = time.monotonic()
        while self._answers and next(iter(self._answers.values()))[0] < now:
            self._answers.popitem(last=False)
        hit = self._answers.get(key)
        return hit[1] if hit else None

    def _remember(self, key: str, text: str) -> None:
        self._answers[key] = (time.monotonic() + ANSWER_CACHE_SECONDS, text)
        while len(self._answers) > 10_000:
            self._answers.popitem(last=False)

    # -- late and overflow delivery through the customer-service API ------------------------
    async def _send_rest(self, openid: str, chunks: list[str]) -> None:
        await asyncio.sleep(1.0)  # let the passive reply arrive first
        await self._deliver(openid, [Reply(text=c) for c in chunks], "wechat overflow")

    async def _deliver_late(self, inbound: Inbound, replies: list[Reply] | None) -> None:
        if replies is None:
            replies = [Reply(text=text_for("error", self.locale, self.texts))]
        if replies:
            await self._deliver(inbound.user_id, replies, f"wechat late answer {inbound.update_id}")

    async def _deliver(self, openid: str, replies: list[Reply], what: str) -> None:
        sender = self.sender
        if sender is None:
            log.error("%s lost: no TOUSU_WECHAT_APP_SECRET, so no customer-service API", what)
            return
        await deliver_with_retries(lambda: sender.send_replies(openid, replies), what)

    async def stop(self) -> None:
        await self.runner.drain()


class WeChatMedia:
    """Download temporary media (evidence photos) before WeChat drops them after 3 days."""

    def __init__(self, client: MpClient) -> None:
        self.client = client

    async def fetch(self, media_id: str) -> tuple[bytes, str]:
        """(content, mime type); raises TransientSendError / RecipientUnreachable-like errors."""
        response = await asyncio.to_thread(self.client.media.download, media_id)
        content_type = response.headers.get("Content-Type", "application/octet-stream")
        return bytes(response.content), content_type.split(";")[0].strip()
