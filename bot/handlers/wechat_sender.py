"""Notifications to complainants on the Official Account (outbox channel "wechat").

WeChat's rules: a customer-service ("custom") message may be sent only within 48 hours of
the user's last message to us, and only a limited number of them per such message
(errcodes 45015 and 45047 when broken). Outside the window the only way is a template
message, configured per notification kind in the pack:

    wechat:
      templates:
        progress: TEMPLATE_ID                 # short form: first/keyword1..3/remark
        survey:
          id: TEMPLATE_ID
          url: "{public_url}/survey/{case_number}"   # optional link
          data: {character_string1: "{case_number}", thing2: "{summary}", time3: "{time}"}

Placeholders: {case_number} {summary} {text} {time} {prompt} {kind} {public_url}.
Without a link the template carries {prompt}: "reply to this account to continue", and
the reply opens a new 48-hour window (the revisit survey works both ways).

The user's last message time comes from a `LastSeenStore` that the callback route
touches for every verified message. wechatpy's client is synchronous: every call runs in
a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import requests
import sqlalchemy as sa
from wechatpy.exceptions import WeChatClientException

from bot.dialogs.types import Choice, Reply
from bot.handlers.wechat_tokens import MpClient
from bot.messaging import Outbound, RecipientUnreachable, TransientSendError
from core.clock import Clock, SystemClock

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=48)
WINDOW_SAFETY = timedelta(minutes=5)  # don't start a send that may land just after the close
TEXT_LIMIT_BYTES = 2000  # WeChat text messages: 2048 bytes

# errcodes (mp.weixin.qq.com global return codes)
OUT_OF_WINDOW = 45015  # response out of time limit
OUT_OF_QUOTA = 45047  # out of response count limit
UNREACHABLE = {40003, 43004, 43019, 43101}  # bad openid, unsubscribed, blacklisted, refused
MISCONFIGURED = {40037, 47001, 47003, 40036}  # bad template id / data: retrying won't help
RATE_LIMITED = {45009, 45011}

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "choose_hint": "请回复序号进行选择。",
        "voice": "抱歉，暂时无法识别语音。请用文字描述您的问题，谢谢！",
        "unknown": "抱歉，暂不支持这种消息。请发送文字或图片。",
        "error": "抱歉，系统暂时繁忙，请稍后再发一次。",
        "prompt": "回复本公众号即可继续办理。",
        "kind.progress": "投诉处理进展",
        "kind.extension": "处理期限延长",
        "kind.resolved": "投诉已处理",
        "kind.survey": "满意度回访",
    },
    "en": {
        "choose_hint": "Reply with a number to choose.",
        "voice": "Sorry, voice messages can't be understood yet. Please type your message.",
        "unknown": "Sorry, this kind of message isn't supported. Please send text or a photo.",
        "error": "Sorry, the system is busy. Please send your message again in a moment.",
        "prompt": "Reply to this account to continue.",
        "kind.progress": "Progress on your complaint",
        "kind.extension": "Deadline extended",
        "kind.resolved": "Your complaint was handled",
        "kind.survey": "Satisfaction survey",
    },
}


def text_for(
    key: str, locale: str | None, overrides: Mapping[str, Mapping[str, str]] | None = None
) -> str:
    """A short channel text; the pack's `texts: {locale: {wechat.<key>: ...}}` may override."""
    lang = "en" if (locale or "").lower().startswith("en") else "zh-CN"
    if overrides:
        custom = (overrides.get(lang) or {}).get(f"wechat.{key}")
        if custom:
            return custom
    return TEXTS[lang].get(key, TEXTS["zh-CN"].get(key, key))


def render_reply(reply: Reply, locale: str | None = None) -> str:
    """Text with the choices as numbered lines ("1. 满意"): WeChat text has no buttons."""
    lines = [reply.text.rstrip()] if reply.text else []
    if reply.choices:
        lines.append("")
        lines.extend(f"{i}. {choice.label}" for i, choice in enumerate(reply.choices, 1))
        lines.append(text_for("choose_hint", locale))
    for attachment in reply.attachments:
        if attachment.url:
            lines.append(attachment.url)
    return "\n".join(lines).strip()


def chunk_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """Split on line boundaries into pieces of at most `limit` UTF-8 bytes."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line.encode()) > limit:  # a single huge line: cut by characters
            cut = len(line.encode()[:limit].decode(errors="ignore"))  # whole characters
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def render_replies(replies: Iterable[Reply], locale: str | None = None) -> list[str]:
    """All replies as few text messages as the size limit allows."""
    text = "\n\n".join(r for r in (render_reply(x, locale) for x in replies) if r)
    return chunk_text(text) if text else []


# -- the 48-hour window ------------------------------------------------------------------
class LastSeenStore(Protocol):
    """When a user last sent us something (opens WeChat's 48-hour window)."""

    def touch(self, channel: str, user_id: str, at: datetime) -> None: ...

    def get(self, channel: str, user_id: str) -> datetime | None: ...

    def forget(self, channel: str, user_id: str) -> None: ...


class MemoryLastSeenStore:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], datetime] = {}

    def touch(self, channel: str, user_id: str, at: datetime) -> None:
        key = (channel, user_id)
        if key not in self._data or self._data[key] < at:
            self._data[key] = at

    def get(self, channel: str, user_id: str) -> datetime | None:
        return self._data.get((channel, user_id))

    def forget(self, channel: str, user_id: str) -> None:
        self._data.pop((channel, user_id), None)


last_seen_metadata = sa.MetaData()
last_seen_table = sa.Table(
    "wechat_last_seen",
    last_seen_metadata,
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.String(128), primary_key=True),
    sa.Column("seen_at", sa.Float, nullable=False),  # unix time: portable across databases
)


class SqlLastSeenStore:
    """Last-seen times in the application database (SQLAlchemy Core, table created if missing)."""

    def __init__(self, engine: sa.Engine, create: bool = True) -> None:
        self.engine = engine
        if create:
            last_seen_metadata.create_all(engine, checkfirst=True)

    def touch(self, channel: str, user_id: str, at: datetime) -> None:
        stamp = at.timestamp()
        t = last_seen_table
        where = (t.c.channel == channel) & (t.c.user_id == user_id)
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(t.c.seen_at).where(where)).first()
            if exists is None:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            sa.insert(t).values(channel=channel, user_id=user_id, seen_at=stamp)
                        )
                    return
                except sa.exc.IntegrityError:
                    pass
            conn.execute(sa.update(t).where(where & (t.c.seen_at < stamp)).values(seen_at=stamp))

    def get(self, channel: str, user_id: str) -> datetime | None:
        t = last_seen_table
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(t.c.seen_at).where((t.c.channel == channel) & (t.c.user_id == user_id))
            ).first()
        return None if row is None else datetime.fromtimestamp(row.seen_at, UTC)

    def forget(self, channel: str, user_id: str) -> None:
        t = last_seen_table
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t).where((t.c.channel == channel) & (t.c.user_id == user_id)))


# -- templates -----------------------------------------------------------------------------
DEFAULT_TEMPLATE_DATA = {
    "first": "{summary}",
    "keyword1": "{case_number}",
    "keyword2": "{text}",
    "keyword3": "{time}",
    "remark": "{prompt}",
}


@dataclass(frozen=True)
class TemplateSpec:
    template_id: str
    data: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATE_DATA))
    url: str | None = None


def template_specs(pack_raw: Mapping[str, Any] | None) -> dict[str, TemplateSpec]:
    """`wechat.templates` of the pack: kind -> template id, or {id, data, url}."""
    section = ((pack_raw or {}).get("wechat") or {}).get("templates") or {}
    specs: dict[str, TemplateSpec] = {}
    for kind, value in section.items():
        if isinstance(value, str):
            specs[str(kind)] = TemplateSpec(value)
        elif isinstance(value, Mapping) and value.get("id"):
            specs[str(kind)] = TemplateSpec(
                template_id=str(value["id"]),
                data={
                    str(k): str(v) for k, v in (value.get("data") or DEFAULT_TEMPLATE_DATA).items()
                },
                url=str(value["url"]) if value.get("url") else None,
            )
        else:
            raise ValueError(f"wechat.templates.{kind}: give a template id or {{id, data, url}}")
    return specs


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def _limit(field_name: str, value: str) -> str:
    """WeChat's newer template fields have short limits (thing: 20 chars, phrase: 5)."""
    limits = {"thing": 20, "phrase": 5, "character_string": 32, "car_number": 8}
    for prefix, size in limits.items():
        if field_name.startswith(prefix) and len(value) > size:
            return value[: size - 1] + "…"
    return value


RememberChoices = Callable[[str, str, Sequence[Choice]], None]  # DialogEngine.remember_choices


# -- the sender ----------------------------------------------------------------------------
def classify(exc: BaseException) -> BaseException:
    """wechatpy / requests failure -> TransientSendError or RecipientUnreachable."""
    if isinstance(exc, requests.RequestException):
        return TransientSendError(f"network: {type(exc).__name__}", retry_after=5)
    if isinstance(exc, WeChatClientException):
        code = exc.errcode
        if code is None:
            return TransientSendError(f"HTTP error from WeChat: {exc}", retry_after=10)
        code = int(code)
        if code in UNREACHABLE:
            return RecipientUnreachable(f"WeChat errcode {code}: {exc.errmsg}")
        if code in MISCONFIGURED:
            log.error("WeChat rejects the message as misconfigured: %s %s", code, exc.errmsg)
            return RecipientUnreachable(f"misconfigured ({code}): {exc.errmsg}")
        if code in RATE_LIMITED:
            return TransientSendError(f"rate limited ({code})", retry_after=60)
        return TransientSendError(f"WeChat errcode {code}: {exc.errmsg}", retry_after=10)
    return exc


class WeChatSender:
    """Outbox sender for channel "wechat": custom message in the window, template outside."""

    channel = "wechat"

    def __init__(
        self,
        client: MpClient,
        last_seen: LastSeenStore,
        *,
        clock: Clock | None = None,
        templates: Mapping[str, TemplateSpec] | None = None,
        locale: str = "zh-CN",
        timezone_name: str = "Asia/Shanghai",
        public_url: str | None = None,
        texts: Mapping[str, Mapping[str, str]] | None = None,
        remember_choices: RememberChoices | None = None,
    ) -> None:
        self.client = client
        self.remember_choices = remember_choices
        self.last_seen = last_seen
        self.clock: Clock = clock or SystemClock()
        self.templates = dict(templates or {})
        self.locale = locale
        self.tz = ZoneInfo(timezone_name)
        self.public_url = (public_url or "").rstrip("/")
        self.texts = texts
        self.custom_sent = 0
        self.templates_sent = 0

    async def in_window(self, openid: str) -> bool:
        seen = await asyncio.to_thread(self.last_seen.get, self.channel, openid)
        if seen is None:
            return False
        return self.clock.now() - seen < WINDOW - WINDOW_SAFETY

    async def send(self, message: Outbound) -> None:
        await self._send(message)
        if message.reply.choices and self.remember_choices is not None:
            # choices went out as numbered lines: let "1" / "满意" in the user's answer pick one
            await asyncio.to_thread(
                self.remember_choices, self.channel, message.recipient, message.reply.choices
            )

    async def _send(self, message: Outbound) -> None:
        openid = message.recipient
        if await self.in_window(openid):
            try:
                await self.send_custom(openid, [message.reply])
                return
            except WeChatClientException as exc:
                if exc.errcode not in (OUT_OF_WINDOW, OUT_OF_QUOTA):
                    raise classify(exc) from exc
                log.info("custom message refused (%s); falling back to a template", exc.errcode)
            except requests.RequestException as exc:
                raise classify(exc) from exc
        await self.send_template(message)

    async def send_custom(self, openid: str, replies: Iterable[Reply]) -> None:
        """Customer-service text messages; wechatpy exceptions propagate unchanged."""
        for chunk in render_replies(replies, self.locale):
            await asyncio.to_thread(self.client.message.send_text, openid, chunk)
            self.custom_sent += 1

    async def send_replies(self, openid: str, replies: Iterable[Reply]) -> None:
        """Late dialog answers (after the passive-reply budget): custom messages only."""
        try:
            await self.send_custom(openid, replies)
        except (WeChatClientException, requests.RequestException) as exc:
            raise classify(exc) from exc

    def _context(self, message: Outbound) -> dict[str, str]:
        text = render_reply(message.reply, self.locale)
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        return _Blank(
            case_number=message.case_number or "",
            text=text,
            summary=first_line,
            time=self.clock.now().astimezone(self.tz).strftime("%Y-%m-%d %H:%M"),
            prompt=text_for("prompt", self.locale, self.texts),
            kind=text_for(f"kind.{message.kind}", self.locale, self.texts),
            public_url=self.public_url,
        )

    async def send_template(self, message: Outbound) -> None:
        spec = self.templates.get(message.kind)
        if spec is None:
            raise RecipientUnreachable(
                f"outside WeChat's 48-hour window and no template for kind {message.kind!r} "
                "(pack: wechat.templates)"
            )
        ctx = self._context(message)
        data = {
            name: {"value": _limit(name, fmt.format_map(ctx))} for name, fmt in spec.data.items()
        }
        url = spec.url.format_map(ctx) if spec.url else None
        if url and not url.startswith(("http://", "https://")):
            url = None  # {public_url} was not configured
        try:
            await asyncio.to_thread(
                self.client.message.send_template, message.recipient, spec.template_id, data, url
            )
        except (WeChatClientException, requests.RequestException) as exc:
            raise classify(exc) from exc
        self.templates_sent += 1
