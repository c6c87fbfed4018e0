"""The narrow interface between tousu and a Telegram driver (python-telegram-bot or aiogram).

Everything here speaks the Bot API's own JSON shapes as plain dicts and imports no chat
library, so both drivers share it:

- `parse_update`: a Bot API Update (dict) -> `ParsedUpdate` (an `Inbound` plus where to answer);
- `render_reply`: a `Reply` -> `ApiCall`s (sendMessage / sendPhoto / sendDocument with
  InlineKeyboardMarkup, a request_contact ReplyKeyboardMarkup or ReplyKeyboardRemove);
- `TelegramDriver`: what a driver offers (call a Bot API method, run an update through the
  library's dispatcher, getUpdates, set/delete the webhook, download a file);
- `ApiError` and subclasses: library errors translated by the driver;
- `TelegramBridge`: update -> dialog engine -> replies, plus the long-polling loop.

Polling is our own small loop over the driver's getUpdates rather than PTB's Updater or
aiogram's start_polling: both of those confirm an update (the next getUpdates offset) before
or regardless of its processing, so a crash or an engine failure would lose it. Here an update
is confirmed only once the engine has taken it; a redelivery is dropped by the engine's
(channel, update_id) dedupe.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.dialogs.types import Attachment, Inbound, Reply

log = logging.getLogger(__name__)

CHANNEL = "telegram"
MAX_TEXT = 4096  # Bot API limit for a message's text
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes

JSON = dict[str, Any]


# ----------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A Bot API call failed with an answer that retrying won't change (400, 404...)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ApiRetryAfter(ApiError):
    """429 Too Many Requests: flood control; try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, 429)
        self.retry_after = retry_after


class ApiForbidden(ApiError):
    """403: the bot was blocked by the user, kicked from the group, or the user is deactivated."""


class ApiChatGone(ApiError):
    """The chat can't be written to any more: not found, or migrated to a supergroup."""

    def __init__(self, message: str, new_chat_id: int | None = None) -> None:
        super().__init__(message, 400)
        self.new_chat_id = new_chat_id


class ApiTransient(ApiError):
    """Network trouble, a timeout or a 5xx; worth retrying."""


def classify_bad_request(description: str) -> ApiError:
    """Map a 400's description to ApiChatGone when it means the chat is unreachable."""
    text = description.lower()
    if "chat not found" in text or "user not found" in text or "peer_id_invalid" in text:
        return ApiChatGone(description)
    return ApiError(description, 400)


# ----------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class ApiCall:
    """One Bot API method call with JSON-shaped parameters (reply_markup as a dict)."""

    method: str  # "sendMessage", "sendPhoto", "sendDocument", "editMessageText", ...
    params: JSON = field(default_factory=dict)

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)


# ----------------------------------------------------------------------------- language


def map_language(code: str | None, default: str = "zh-CN") -> str:
    """Telegram language_code (IETF tag: "en", "en-US", "zh-hans", "zh-hant") -> "zh-CN"|"en"."""
    if not code:
        return default
    primary = code.replace("_", "-").split("-")[0].lower()
    if primary == "zh":
        return "zh-CN"
    if primary == "en":
        return "en"
    return default


_CONTACT_LABEL = {"zh-CN": "📱 分享我的手机号", "en": "📱 Share my phone number"}
_CONTACT_HINT = {
    "zh-CN": "也可以点击下方按钮分享手机号。",
    "en": "You can also share your phone number with the button below.",
}


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class ParsedUpdate:
    """An update the engine should see, and where and how to answer it."""

    inbound: Inbound
    chat_id: int  # where replies go (the private chat, or the group)
    private: bool
    callback_query_id: str | None = None
    pressed_message: JSON | None = None  # the message whose button was pressed
    pressed_label: str | None = None


_COMMAND = re.compile(
    r"^/(?P<cmd>[A-Za-z0-9_]{1,64})(?:@(?P<bot>[A-Za-z0-9_]{3,64}))?(?P<rest>.*)$", re.S
)


def normalise_command(text: str, bot_username: str | None) -> str | None:
    """Strip "@botname" from "/cmd@botname args". None when the command is for another bot."""
    match = _COMMAND.match(text)
    if not match or not match.group("bot"):
        return text
    if bot_username and match.group("bot").lower() != bot_username.lstrip("@").lower():
        return None
    return f"/{match.group('cmd')}{match.group('rest')}"


def _display_name(user: JSON) -> str | None:
    parts = [user.get("first_name"), user.get("last_name")]
    name = " ".join(p for p in parts if p)
    return name or user.get("username") or None


def _attachments(message: JSON) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    photos = message.get("photo")
    if photos:  # several sizes of one photo; keep the largest
        best = max(
            photos, key=lambda p: (p.get("width", 0) * p.get("height", 0), p.get("file_size", 0))
        )
        found.append(Attachment(kind="photo", ref=best["file_id"], mime="image/jpeg"))
    document = message.get("document")
    if document:
        found.append(
            Attachment(
                kind="document",
                ref=document["file_id"],
                name=document.get("file_name"),
                mime=document.get("mime_type"),
            )
        )
    for kind in ("voice", "video", "audio", "video_note"):
        media = message.get(kind)
        if media:
            found.append(
                Attachment(
                    kind="voice" if kind == "voice" else "video" if kind != "audio" else "file",
                    ref=media["file_id"],
                    name=media.get("file_name"),
                    mime=media.get("mime_type"),
                )
            )
    return tuple(found)


def _button_label(message: JSON | None, data: str) -> str | None:
    markup = (message or {}).get("reply_markup") or {}
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if button.get("callback_data") == data:
                return str(button.get("text"))
    return None


def parse_update(update: JSON, bot_username: str | None = None) -> ParsedUpdate | None:
    """A Bot API Update -> what the engine sees, or None for updates tousu ignores
    (edits, channel posts, member changes, commands addressed to another bot)."""
    update_id = str(update["update_id"])
    query = update.get("callback_query")
    if query is not None:
        user = query["from"]
        message = query.get("message") or {}
        chat = message.get("chat") or {"id": user["id"], "type": "private"}
        private = chat.get("type") == "private"
        data = query.get("data")
        if data is None:  # a game or an inline-mode button; nothing for us
            return None
        return ParsedUpdate(
            inbound=Inbound(
                channel=CHANNEL,
                user_id=str(user["id"]),
                choice=data,
                update_id=update_id,
                language=user.get("language_code"),
                display_name=_display_name(user),
                chat_id=None if private else str(chat["id"]),
            ),
            chat_id=int(chat["id"]),
            private=private,
            callback_query_id=str(query["id"]),
            pressed_message=message or None,
            pressed_label=_button_label(message, data),
        )

    message = update.get("message")
    if message is None or "from" not in message:
        return None
    user = message["from"]
    if user.get("is_bot"):
        return None
    chat = message["chat"]
    private = chat.get("type") == "private"
    text = message.get("text") if message.get("text") is not None else message.get("caption")
    if text is not None and text.startswith("/"):
        text = normalise_command(text, bot_username)
        if text is None:
            return None
    contact_phone: str | None = None
    contact = message.get("contact")
    if contact is not None:
        # A request_contact button shares the sender's own contact (user_id = sender).
        # Someone else's contact card counts as a typed number, never as a verified phone.
        if contact.get("user_id") == user["id"]:
            contact_phone = str(contact["phone_number"])
        elif text is None:
            text = str(contact.get("phone_number", ""))
    attachments = _attachments(message)
    if text is None and contact_phone is None and not attachments:
        return None  # stickers, locations, service messages...
    return ParsedUpdate(
        inbound=Inbound(
            channel=CHANNEL,
            user_id=str(user["id"]),
            text=text,
            attachments=attachments,
            contact_phone=contact_phone,
            update_id=update_id,
            language=user.get("language_code"),
            display_name=_display_name(user),
            chat_id=None if private else str(chat["id"]),
        ),
        chat_id=int(chat["id"]),
        private=private,
    )


# ----------------------------------------------------------------------------- rendering


def is_group_chat(chat_id: int | str) -> bool:
    """Group and supergroup chat ids are negative; private chats are users' positive ids."""
    return str(chat_id).startswith("-")


def inline_keyboard(reply: Reply) -> JSON:
    """Choices -> InlineKeyboardMarkup; short labels share a row, long ones get their own."""
    rows: list[list[JSON]] = []
    row: list[JSON] = []
    row_width = 0
    for choice in reply.choices:
        if len(choice.key.encode("utf-8")) > MAX_CALLBACK_DATA:
            raise ValueError(f"callback data over {MAX_CALLBACK_DATA} bytes: {choice.key!r}")
        button = {"text": choice.label, "callback_data": choice.key}
        width = len(choice.label)
        if row and (len(row) >= 3 or row_width + width > 24 or width > 12):
            rows.append(row)
            row, row_width = [], 0
        row.append(button)
        row_width += width
        if width > 12:
            rows.append(row)
            row, row_width = [], 0
    if row:
        rows.append(row)
    return {"inline_keyboard": rows}


def contact_keyboard(language: str) -> JSON:
    return {
        "keyboard": [
            [
                {
                    "text": _CONTACT_LABEL.get(language, _CONTACT_LABEL["zh-CN"]),
                    "request_contact": True,
                }
            ]
        ],
        "resize_keyboard": True,
        "one_time_keyboard": True,
    }


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text at line breaks (or hard) into chunks Telegram accepts."""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
        chunks.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    if rest:
        chunks.append(rest)
    return chunks


def _media_call(chat_id: int | str, attachment: Attachment, caption: str | None) -> ApiCall:
    photo = attachment.kind == "photo"
    source = attachment.ref if not attachment.url else attachment.url
    params: JSON = {"chat_id": chat_id, "photo" if photo else "document": source}
    if caption:
        params["caption"] = caption[:MAX_CAPTION]
    return ApiCall("sendPhoto" if photo else "sendDocument", params)


def render_reply(
    chat_id: int | str, reply: Reply, language: str = "zh-CN", private: bool | None = None
) -> list[ApiCall]:
    """A Reply -> the Bot API calls that show it in `chat_id`.

    Text goes first (split at 4096 chars) with the choices as an inline keyboard on the last
    part; `request_contact` adds a one-time reply keyboard with a request_contact button (in a
    follow-up message when the reply also has choices, since a message has one markup); a plain
    reply in a private chat removes any contact keyboard still showing; attachments follow as
    sendPhoto/sendDocument by file_id (or URL).
    """
    if private is None:
        private = not is_group_chat(chat_id)
    calls: list[ApiCall] = []
    parts = split_text(reply.text) if reply.text else []
    for index, part in enumerate(parts):
        params: JSON = {"chat_id": chat_id, "text": part}
        if index == len(parts) - 1:
            if reply.choices:
                params["reply_markup"] = inline_keyboard(reply)
            elif reply.request_contact and private:
                params["reply_markup"] = contact_keyboard(language)
            elif private:
                params["reply_markup"] = {"remove_keyboard": True}
        calls.append(ApiCall("sendMessage", params))
    if reply.request_contact and private and (reply.choices or not parts):
        calls.append(
            ApiCall(
                "sendMessage",
                {
                    "chat_id": chat_id,
                    "text": _CONTACT_HINT.get(language, _CONTACT_HINT["zh-CN"]),
                    "reply_markup": contact_keyboard(language),
                },
            )
        )
    for attachment in reply.attachments:
        calls.append(_media_call(chat_id, attachment, attachment.name))
    return calls


def render_pressed(parsed: ParsedUpdate) -> ApiCall | None:
    """After a press in a private chat: show the chosen label under the card, drop its buttons."""
    message = parsed.pressed_message
    if not message or "message_id" not in message:
        return None
    params: JSON = {"chat_id": parsed.chat_id, "message_id": message["message_id"]}
    text = message.get("text")
    if text is not None and parsed.pressed_label:
        params["text"] = f"{text}\n\n› {parsed.pressed_label}"[:MAX_TEXT]
        return ApiCall("editMessageText", params)
    return ApiCall("editMessageReplyMarkup", params)


# ----------------------------------------------------------------------------- drivers


UpdateCallback = Callable[[JSON], Awaitable[None]]


class TelegramDriver(Protocol):
    """What python-telegram-bot and aiogram each provide; nothing else touches the library."""

    name: str

    async def open(self, on_update: UpdateCallback) -> JSON:
        """Initialise the library (getMe) and route every update to `on_update`; -> the bot user."""
        ...

    async def close(self) -> None: ...

    async def call(self, call: ApiCall) -> Any:
        """Run one Bot API method; raise ApiRetryAfter / ApiForbidden / ApiChatGone /
        ApiTransient / ApiError."""
        ...

    async def feed(self, update: JSON) -> None:
        """Run an update through the library's dispatcher into `on_update`; re-raise its error."""
        ...

    async def get_updates(
        self, offset: int | None, timeout: int, limit: int = 100
    ) -> list[JSON]: ...

    async def set_webhook(self, url: str, secret_token: str) -> None: ...

    async def delete_webhook(self) -> None: ...

    async def download(self, file_id: str) -> bytes:
        """getFile, then fetch the file's bytes (evidence for staff)."""
        ...


class ReplyEngine(Protocol):
    def handle(self, inbound: Inbound) -> list[Reply]: ...


class Limiter(Protocol):
    async def acquire(self, chat_id: str, max_wait: float = ...) -> None: ...

    def pause(self, chat_id: str, seconds: float) -> None: ...


# ----------------------------------------------------------------------------- bridge


@dataclass
class BridgeStats:
    updates: int = 0
    ignored: int = 0
    failures: int = 0
    replies_lost: int = 0


class TelegramBridge:
    """Update -> engine -> replies, shared by both drivers and both modes.

    An update is handled under a per-chat lock so one person's messages are taken in order.
    An engine failure propagates (the webhook answers 500, polling keeps the update unconfirmed)
    so Telegram delivers the update again; failures to send a reply are logged, not raised:
    the engine has already committed, so a redelivery would be dropped as a duplicate.
    """

    def __init__(
        self,
        engine: ReplyEngine,
        driver: TelegramDriver,
        limiter: Limiter | None = None,
        *,
        bot_username: str | None = None,
        default_language: str = "zh-CN",
        poll_timeout: int = 25,
        edit_pressed: bool = True,
    ) -> None:
        self.engine = engine
        self.driver = driver
        self.limiter = limiter
        self.bot_username = bot_username
        self.default_language = default_language
        self.poll_timeout = poll_timeout
        self.edit_pressed = edit_pressed
        self.stats = BridgeStats()
        self._locks: dict[int, asyncio.Lock] = {}
        self._poll_task: asyncio.Task[None] | None = None
        self._fetch: asyncio.Future[list[JSON]] | None = None
        self._stopping = False

    # -- one update

    async def handle_update(self, update: JSON) -> None:
        parsed = parse_update(update, self.bot_username)
        if parsed is None:
            self.stats.ignored += 1
            return
        lock = self._locks.setdefault(parsed.chat_id, asyncio.Lock())
        async with lock:
            try:
                replies = await asyncio.to_thread(self.engine.handle, parsed.inbound)
            except Exception:
                self.stats.failures += 1
                if parsed.callback_query_id:
                    await self._quietly(
                        ApiCall(
                            "answerCallbackQuery", {"callback_query_id": parsed.callback_query_id}
                        )
                    )
                raise
            self.stats.updates += 1
            if parsed.callback_query_id:
                await self._quietly(
                    ApiCall("answerCallbackQuery", {"callback_query_id": parsed.callback_query_id})
                )
                # A new keyboard supersedes the pressed one: mark the choice, drop its buttons.
                # Otherwise the pressed card keeps them (a case card's other actions stay
                # usable); in groups cards are never edited (several managers share them).
                superseded = any(reply.choices for reply in replies)
                if superseded and parsed.private and self.edit_pressed:
                    edit = render_pressed(parsed)
                    if edit is not None:
                        await self._quietly(edit)
            language = map_language(parsed.inbound.language, self.default_language)
            for reply in replies:
                for call in render_reply(parsed.chat_id, reply, language, parsed.private):
                    if not await self._send(call):
                        return
        if not lock.locked() and len(self._locks) > 10_000:
            self._locks.pop(parsed.chat_id, None)

    async def _quietly(self, call: ApiCall) -> None:
        """Cosmetic calls (answer a query, edit a pressed card): failures don't matter."""
        try:
            await self.driver.call(call)
        except ApiError as exc:
            log.debug("telegram %s failed: %s", call.method, exc)

    async def _send(self, call: ApiCall, attempts: int = 4) -> bool:
        """Send one part of a direct reply within the rate limits; False if the chat is gone."""
        chat = call.chat_id or ""
        for attempt in range(attempts):
            if self.limiter is not None:
                await self.limiter.acquire(chat, 30.0)
            try:
                await self.driver.call(call)
                return True
            except ApiRetryAfter as exc:
                if self.limiter is not None:
                    self.limiter.pause(chat, exc.retry_after)
                else:
                    await asyncio.sleep(exc.retry_after)
            except ApiTransient as exc:
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
                log.warning("telegram %s to %s failed, retrying: %s", call.method, chat, exc)
            except (ApiForbidden, ApiChatGone) as exc:
                log.info("telegram chat %s unreachable: %s", chat, exc)
                self.stats.replies_lost += 1
                return False
            except ApiError as exc:
                log.error("telegram %s to %s rejected: %s", call.method, chat, exc)
                self.stats.replies_lost += 1
                return True
        self.stats.replies_lost += 1
        log.error("telegram %s to %s gave up after %d attempts", call.method, chat, attempts)
        return True

    # -- long polling

    async def start_polling(self) -> None:
        if self._poll_task is not None:
            return
        self._stopping = False
        await self.driver.delete_webhook()
        self._poll_task = asyncio.create_task(self._poll_loop(), name="telegram-polling")

    async def stop_polling(self, grace: float = 30.0) -> None:
        """Stop fetching; let updates being handled finish (they were not confirmed yet)."""
        task, self._poll_task = self._poll_task, None
        if task is None:
            return
        self._stopping = True
        if self._fetch is not None and not self._fetch.done():
            self._fetch.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
        except Exception:  # noqa: BLE001 - the loop already logged it
            pass

    async def _poll_loop(self) -> None:
        offset: int | None = None
        failures = 0
        while not self._stopping:
            self._fetch = asyncio.ensure_future(self.driver.get_updates(offset, self.poll_timeout))
            try:
                updates = await self._fetch
            except asyncio.CancelledError:
                if self._stopping:
                    return
                raise
            except ApiRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except ApiError as exc:  # network trouble, 5xx, 409 while a webhook is set...
                failures += 1
                delay = min(0.5 * 2 ** min(failures, 6), 30.0)
                log.warning("telegram getUpdates failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            finally:
                self._fetch = None
            failures = 0
            if not updates:
                continue
            offset = await self._process_batch(updates, offset)

    async def _process_batch(self, updates: list[JSON], offset: int | None) -> int | None:
        """Handle a batch (chats in parallel, each chat in order); -> the offset confirming
        what was handled. An update that keeps failing is confirmed after 5 tries, so one
        poisonous update can't stall the bot."""
        by_chat: dict[Any, list[JSON]] = {}
        for update in updates:
            by_chat.setdefault(_chat_key(update), []).append(update)
        failed: list[int] = []

        async def run(chat_updates: Iterable[JSON]) -> None:
            for update in chat_updates:
                for attempt in range(5):
                    try:
                        await asyncio.shield(self.driver.feed(update))
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001
                        log.exception(
                            "telegram update %s failed (try %d)",
                            update.get("update_id"),
                            attempt + 1,
                        )
                        if self._stopping:
                            failed.append(int(update["update_id"]))
                            return
                        await asyncio.sleep(min(0.2 * 2**attempt, 3.0))

        await asyncio.gather(*(run(chat_updates) for chat_updates in by_chat.values()))
        if failed:  # stopping: leave the failed update (and later ones) unconfirmed
            first = min(failed)
            done = [int(u["update_id"]) for u in updates if int(u["update_id"]) < first]
            return max(done) + 1 if done else offset
        return max(int(u["update_id"]) for u in updates) + 1


def _chat_key(update: JSON) -> Any:
    for kind in ("message", "edited_message", "channel_post"):
        if kind in update:
            return (update[kind].get("chat") or {}).get("id")
    query = update.get("callback_query")
    if query is not None:
        return ((query.get("message") or {}).get("chat") or {}).get("id", query["from"]["id"])
    return update.get("update_id")
