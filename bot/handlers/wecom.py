"""WeCom (企业微信) for staff and manager groups.

- `WeComCallback` (`/wechat/wecom`): the app callback, always encrypted with the app's own
  token / EncodingAESKey / CorpID. Staff text, menu clicks and template-card button
  presses become `Inbound(channel="wecom", user_id=<WeCom userid>)`; a button press
  carries the pressed button's key as `Inbound.choice`. Answers go out through the app
  message API (so they can carry buttons); the callback itself answers at once.
- `WeComSender` (outbox channel "wecom"): replies with choices become a button template
  card (`button_interaction`, up to 6 buttons); longer texts go first as a text message;
  others a text card when the pack gives `wecom.case_url`, else text.
- `WeComRobotSender` (outbox channel "wecom_robot"): markdown to the manager group's
  robot webhook, with phone numbers (and ID numbers) masked.

Staff are mapped to WeCom userids in the pack (`staff[].wecom_userid`); a recipient that
is a staff id with a mapping is translated, anything else is taken as a userid.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import requests
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from wechatpy.exceptions import WeChatClientException

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
)
from bot.handlers.wechat_sender import chunk_text, render_reply
from bot.handlers.wechat_tokens import WorkClient
from bot.messaging import Outbound, RecipientUnreachable, TransientSendError

log = logging.getLogger(__name__)

MAX_BUTTONS = 6
TITLE_LIMIT = 26  # characters WeCom shows in a card's main title
CARD_SUBTITLE_LIMIT = 160  # characters WeCom shows in a card's sub_title_text
ROBOT_MARKDOWN_LIMIT = 4000  # bytes (WeCom: 4096)
UNREACHABLE = {60111, 81013, 60011, 301002}  # no such user / out of the app's visible range
RATE_LIMITED = {45009, 45033, 45011}
TASK_ID = re.compile(r"[^A-Za-z0-9_\-@]")

ALERT_TITLES = {
    "zh-CN": {
        "alert_overdue": "⏰ 超期提醒",
        "overdue": "⏰ 超期提醒",
        "alert_hot": "🔥 热点投诉",
        "alert_major": "🚨 重大投诉",
        "alert_tier": "🔥 投诉升级",
        "major_report": "🚨 重大投诉报告",
        "reopened": "↩️ 案件重开",
        "extension_requested": "🕒 延期申请",
        "digest": "📋 每日汇总",
        "replaced": "已提交",
        "more": "更多操作",
        "act_in_app": "（请在企业微信应用中处理）",
    },
    "en": {
        "alert_overdue": "⏰ Overdue",
        "overdue": "⏰ Overdue",
        "alert_hot": "🔥 Hot complaint",
        "alert_major": "🚨 Major complaint",
        "alert_tier": "🔥 Complaint escalated",
        "major_report": "🚨 Major complaint report",
        "reopened": "↩️ Case reopened",
        "extension_requested": "🕒 Extension requested",
        "digest": "📋 Daily digest",
        "replaced": "Sent",
        "more": "More actions",
        "act_in_app": "(Please act in the WeCom app.)",
    },
}

# 11-digit mainland mobiles (optionally +86), landlines with an area code, 18-digit IDs
_MOBILE = re.compile(r"(?<!\d)((?:\+?86[- ]?)?1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}[- ]?)(\d{3,4})(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?![\dXx])")


def mask_phones(text: str) -> str:
    """138****5678; 010-****5678; 110101********123X."""
    text = _ID_NUMBER.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}{'*' * len(m.group(2))}{m.group(3)}", text)


def _lang(locale: str | None) -> str:
    return "en" if (locale or "").lower().startswith("en") else "zh-CN"


def wecom_userids(pack_raw: Mapping[str, Any] | None) -> dict[str, str]:
    """staff id -> WeCom userid from the pack (`staff: [{id, wecom_userid}]`)."""
    found: dict[str, str] = {}
    for member in (pack_raw or {}).get("staff") or []:
        if isinstance(member, Mapping) and member.get("wecom_userid"):
            found[str(member["id"])] = str(member["wecom_userid"])
    return found


# -- callback --------------------------------------------------------------------------------
def map_wecom_message(msg: CallbackMessage) -> Inbound | None:
    """A staff member's message or action as an Inbound; None for events we don't act on."""
    base: dict[str, Any] = {"channel": "wecom", "user_id": msg.from_user}
    if msg.msg_type == "text":
        return Inbound(text=msg.get("Content") or "", update_id=msg.dedupe_key, **base)
    if msg.msg_type == "image":
        photo = Attachment(kind="photo", ref=msg.get("MediaId") or "", url=msg.get("PicUrl"))
        return Inbound(attachments=(photo,), update_id=msg.dedupe_key, **base)
    if msg.msg_type != "event":
        return None
    key = (msg.get("EventKey") or "").strip()
    if msg.event == "template_card_event" and key:
        task = msg.get("TaskId") or ""
        update_id = f"{msg.from_user}:{msg.create_time}:{task}"
        return Inbound(choice=key, update_id=update_id, **base)
    if msg.event == "click" and key:
        if key.startswith("/"):
            return Inbound(text=key, update_id=msg.dedupe_key, **base)
        return Inbound(choice=key, update_id=msg.dedupe_key, **base)
    if msg.event == "subscribe":
        return Inbound(text="/start", update_id=msg.dedupe_key, **base)
    return None  # enter_agent, view, location, unsubscribe, ...


class WeComCallback:
    """Starlette endpoints for the WeCom app callback."""

    def __init__(
        self,
        crypto: CallbackCrypto,
        engine: Engine,
        *,
        sender: WeComSender | None,
        budget: float = PASSIVE_BUDGET_SECONDS,
    ) -> None:
        if not crypto.enterprise:
            raise ValueError("WeCom callbacks need an enterprise CallbackCrypto")
        self.crypto = crypto
        self.sender = sender
        self.runner = DeadlineRunner(engine, self._deliver_late, budget=budget)
        self.stats = {"handled": 0, "late": 0, "rejected": 0}

    def routes(self, path: str = "/wechat/wecom") -> list[Route]:
        return [
            Route(path, self.verify, methods=["GET"]),
            Route(path, self.receive, methods=["POST"]),
        ]

    async def verify(self, request: Request) -> Response:
        query = CallbackQuery.from_mapping(request.query_params)
        try:
            return PlainTextResponse(self.crypto.verify_url(query))
        except (BadSignature, StaleTimestamp):
            return PlainTextResponse("forbidden", status_code=403)
        except CallbackError:
            return PlainTextResponse("bad request", status_code=400)

    async def receive(self, request: Request) -> Response:
        query = CallbackQuery.from_mapping(request.query_params)
        body = await request.body()
        try:
            msg = self.crypto.unwrap(query, body)
        except (BadSignature, StaleTimestamp) as exc:
            self.stats["rejected"] += 1
            log.warning("wecom callback refused: %s", exc)
            return PlainTextResponse("forbidden", status_code=403)
        except CallbackError as exc:
            self.stats["rejected"] += 1
            log.warning("wecom callback unreadable: %s", exc)
            return PlainTextResponse("bad request", status_code=400)
        inbound = map_wecom_message(msg)
        if inbound is None:
            return PlainTextResponse("")
        try:
            replies = await self.runner.run(inbound)
        except Exception:
            log.exception("dialog engine failed on wecom update %s", inbound.update_id)
            return PlainTextResponse("")
        if replies is None:
            self.stats["late"] += 1
        elif replies:
            self.stats["handled"] += 1
            self.runner.spawn(self._deliver(inbound, replies))
        return PlainTextResponse("")

    async def _deliver(self, inbound: Inbound, replies: list[Reply]) -> None:
        sender = self.sender
        if sender is None:
            log.error("wecom answer lost: no TOUSU_WECOM_SECRET / TOUSU_WECOM_AGENT_ID")
            return
        what = f"wecom answer {inbound.update_id}"
        await deliver_with_retries(lambda: sender.send_replies(inbound.user_id, replies), what)

    async def _deliver_late(self, inbound: Inbound, replies: list[Reply] | None) -> None:
        if replies:
            await self._deliver(inbound, replies)

    async def stop(self) -> None:
        await self.runner.drain()


# -- app messages ----------------------------------------------------------------------------
def classify_wecom(exc: BaseException) -> BaseException:
    if isinstance(exc, requests.RequestException):
        return TransientSendError(f"network: {type(exc).__name__}", retry_after=5)
    if isinstance(exc, WeChatClientException):
        if exc.errcode is None:
            return TransientSendError(f"HTTP error from WeCom: {exc}", retry_after=10)
        code = int(exc.errcode)
        if code in UNREACHABLE:
            return RecipientUnreachable(f"WeCom errcode {code}: {exc.errmsg}")
        if code in RATE_LIMITED:
            return TransientSendError(f"rate limited ({code})", retry_after=60)
        return TransientSendError(f"WeCom errcode {code}: {exc.errmsg}", retry_after=10)
    return exc


def _task_id(seed: str) -> str:
    return TASK_ID.sub("_", f"{seed}-{uuid.uuid4().hex[:12]}")[:128]


class WeComSender:
    """Outbox sender for channel "wecom": staff notifications through the app."""

    channel = "wecom"

    def __init__(
        self,
        client: WorkClient,
        agent_id: int,
        *,
        userids: Mapping[str, str] | None = None,
        case_url: str | None = None,
        locale: str = "zh-CN",
    ) -> None:
        self.client = client
        self.agent_id = agent_id
        self.userids = dict(userids or {})
        self.case_url = case_url
        self.locale = locale

    def userid(self, recipient: str) -> str:
        return self.userids.get(recipient, recipient)

    async def _post(self, userid: str, msg: dict[str, Any]) -> None:
        try:
            result = await asyncio.to_thread(
                self.client.message.send, self.agent_id, userid, msg=msg
            )
        except (WeChatClientException, requests.RequestException) as exc:
            raise classify_wecom(exc) from exc
        invalid = str((result or {}).get("invaliduser") or "")
        if invalid and userid in invalid.split("|"):
            raise RecipientUnreachable(f"WeCom user {userid!r} is not in the app's visible range")

    def card(self, reply: Reply, seed: str) -> dict[str, Any]:
        """A button_interaction template card; one button per choice (max 6)."""
        first, _, rest = reply.text.strip().partition("\n")
        if len(first) > TITLE_LIMIT:  # keep the whole line readable below a short title
            first, rest = first[: TITLE_LIMIT - 1] + "…", f"{first}\n{rest}"
        card: dict[str, Any] = {
            "card_type": "button_interaction",
            "main_title": {"title": first},
            "task_id": _task_id(seed),
            "button_list": [
                {"text": c.label[:10], "style": 1 if i == 0 else 2, "key": c.key}
                for i, c in enumerate(reply.choices[:MAX_BUTTONS])
            ],
            "replace_text": ALERT_TITLES[_lang(self.locale)]["replaced"],
        }
        if rest.strip():
            card["sub_title_text"] = rest.strip()[:CARD_SUBTITLE_LIMIT]
        return {"msgtype": "template_card", "template_card": card}

    async def _send_reply(
        self, userid: str, reply: Reply, seed: str, case_number: str | None
    ) -> None:
        if reply.choices:
            text = reply.text.strip()
            lines = text.splitlines()
            if len("\n".join(lines[1:])) > CARD_SUBTITLE_LIMIT:  # too long for a card
                for chunk in chunk_text(text):
                    await self._post(userid, {"msgtype": "text", "text": {"content": chunk}})
                text = "\n".join(lines[:2])  # the card keeps the heading
            groups = [
                reply.choices[i : i + MAX_BUTTONS]
                for i in range(0, len(reply.choices), MAX_BUTTONS)
            ]
            more = ALERT_TITLES[_lang(self.locale)]["more"]
            for n, group in enumerate(groups):  # WeCom allows 6 buttons a card
                heading = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
                card_text = text if n == 0 else f"{more}\n{heading}"
                await self._post(userid, self.card(Reply(card_text, group), f"{seed}-{n}"))
            return
        text = render_reply(reply, self.locale)
        if self.case_url and case_number and not reply.choices:
            first, _, rest = text.partition("\n")
            await self._post(
                userid,
                {
                    "msgtype": "textcard",
                    "textcard": {
                        "title": first[:128],
                        "description": (rest or first)[:512],
                        "url": self.case_url.format(case_number=case_number),
                        "btntxt": "详情" if _lang(self.locale) == "zh-CN" else "Details",
                    },
                },
            )
            return
        for chunk in chunk_text(text):
            await self._post(userid, {"msgtype": "text", "text": {"content": chunk}})

    async def send(self, message: Outbound) -> None:
        await self._send_reply(
            self.userid(message.recipient), message.reply, f"n{message.id}", message.case_number
        )

    async def send_replies(self, recipient: str, replies: Iterable[Reply]) -> None:
        userid = self.userid(recipient)
        for reply in replies:
            await self._send_reply(userid, reply, "r", None)


# -- the manager group's robot -----------------------------------------------------------------
class WeComRobotSender:
    """Outbox sender for channel "wecom_robot": markdown to a group-robot webhook."""

    channel = "wecom_robot"

    def __init__(
        self,
        default_key: str | None,
        *,
        api_base: str = "https://qyapi.weixin.qq.com",
        locale: str = "zh-CN",
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.default_key = default_key
        self.url = f"{api_base.rstrip('/')}/cgi-bin/webhook/send"
        self.locale = locale
        self._http = http
        self._own_http = http is None
        self.timeout = timeout
        self.sent = 0

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout)
        return self._http

    def markdown(self, message: Outbound) -> str:
        title = ALERT_TITLES[_lang(self.locale)].get(message.kind)
        lines = []
        if title:
            heading = f"**{title}**"
            if message.case_number:
                heading += f"  {message.case_number}"
            lines.append(heading)
        lines.append(render_reply(Reply(text=message.reply.text), self.locale))
        if message.reply.choices:  # a robot has no buttons
            lines.append(ALERT_TITLES[_lang(self.locale)]["act_in_app"])
        content = mask_phones("\n".join(lines))
        raw = content.encode()
        if len(raw) > ROBOT_MARKDOWN_LIMIT:
            content = raw[: ROBOT_MARKDOWN_LIMIT - 3].decode(errors="ignore") + "…"
        return content

    async def send(self, message: Outbound) -> None:
        recipient = message.recipient.strip()
        key = self.default_key if recipient in {"", "default", "managers"} else recipient
        if not key:
            raise RecipientUnreachable("no WeCom robot key (TOUSU_WECOM_ROBOT_KEY)")
        payload = {"msgtype": "markdown", "markdown": {"content": self.markdown(message)}}
        started = time.monotonic()
        try:
            response = await self._client().post(self.url, params={"key": key}, json=payload)
        except httpx.HTTPError as exc:
            raise TransientSendError(
                f"robot webhook: {type(exc).__name__}", retry_after=10
            ) from exc
        if response.status_code >= 500:
            raise TransientSendError(f"robot webhook HTTP {response.status_code}", retry_after=30)
        try:
            result = response.json()
        except ValueError:
            raise TransientSendError("robot webhook answered non-JSON", retry_after=30) from None
        code = int(result.get("errcode", -1))
        if code == 0:
            self.sent += 1
            log.debug("robot message sent in %.3fs", time.monotonic() - started)
            return
        if code in {93000, 93004, 40008}:  # bad key / robot removed / malformed
            raise RecipientUnreachable(f"robot webhook errcode {code}: {result.get('errmsg')}")
        if code in RATE_LIMITED:  # 20 messages a minute per robot
            raise TransientSendError("robot rate limited", retry_after=60)
        raise TransientSendError(
            f"robot webhook errcode {code}: {result.get('errmsg')}", retry_after=30
        )

    async def aclose(self) -> None:
        if self._http is not None and self._own_http:
            await self._http.aclose()
            self._http = None
