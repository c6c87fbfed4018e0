"""python-telegram-bot 22 driver: an `Application` without Updater, persistence or
ConversationHandler; one TypeHandler hands every update to tousu's bridge."""

from __future__ import annotations

import contextvars
import datetime as dtm
import warnings
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.handlers.tg_adapter import (
    JSON,
    ApiCall,
    ApiChatGone,
    ApiError,
    ApiForbidden,
    ApiRetryAfter,
    ApiTransient,
    UpdateCallback,
    classify_bad_request,
)

ALLOWED_UPDATES = ["message", "callback_query"]

_errors: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "tousu_ptb_errors", default=None
)


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # int retry_after is deprecated in favour of timedelta
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def translate(exc: TelegramError) -> ApiError:
    """PTB's exceptions -> the adapter's. BadRequest subclasses NetworkError: test it first."""
    if isinstance(exc, RetryAfter):
        return ApiRetryAfter(str(exc), _retry_seconds(exc))
    if isinstance(exc, Forbidden):
        return ApiForbidden(str(exc), 403)
    if isinstance(exc, ChatMigrated):
        return ApiChatGone(str(exc), new_chat_id=exc.new_chat_id)
    if isinstance(exc, BadRequest):
        return classify_bad_request(exc.message)
    if isinstance(exc, (NetworkError, Conflict)):
        return ApiTransient(str(exc))
    return ApiError(str(exc))


def _markup(data: JSON | None) -> Any:
    if not data:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
                for row in data["inline_keyboard"]
            ]
        )
    if "keyboard" in data:
        return ReplyKeyboardMarkup(
            [
                [KeyboardButton(b["text"], request_contact=b.get("request_contact")) for b in row]
                for row in data["keyboard"]
            ],
            resize_keyboard=data.get("resize_keyboard"),
            one_time_keyboard=data.get("one_time_keyboard"),
        )
    if data.get("remove_keyboard"):
        return ReplyKeyboardRemove(selective=data.get("selective"))
    raise ValueError(f"unknown reply_markup {data!r}")


def _result(value: Any) -> Any:
    if isinstance(value, Message):
        return value.to_dict()
    return value


class PtbDriver:
    """`TelegramDriver` on python-telegram-bot."""

    name = "ptb"

    def __init__(self, token: str, api_base: str = "https://api.telegram.org") -> None:
        base = api_base.rstrip("/")
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .updater(None)
            .build()
        )
        self._callback: UpdateCallback | None = None

    @property
    def bot(self) -> Bot:
        bot: Bot = self.app.bot
        return bot

    async def open(self, on_update: UpdateCallback) -> JSON:
        if self._callback is None:
            self.app.add_handler(TypeHandler(Update, self._on_update))
        self._callback = on_update
        try:
            await self.app.initialize()  # getMe
        except TelegramError as exc:
            raise translate(exc) from exc
        return self.bot.bot.to_dict()

    async def close(self) -> None:
        if self.app._initialized:  # noqa: SLF001 - shutdown() refuses an uninitialised app
            await self.app.shutdown()

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self._callback is not None
        try:
            await self._callback(update.to_dict())
        except Exception as exc:  # PTB would swallow it; hand it back to feed()
            box = _errors.get()
            if box is None:
                raise
            box.append(exc)

    async def feed(self, update: JSON) -> None:
        parsed = Update.de_json(update, self.bot)
        box: list[BaseException] = []
        token = _errors.set(box)
        try:
            await self.app.process_update(parsed)
        finally:
            _errors.reset(token)
        if box:
            raise box[0]

    async def get_updates(self, offset: int | None, timeout: int, limit: int = 100) -> list[JSON]:
        try:
            updates = await self.bot.get_updates(
                offset=offset,
                timeout=timeout,
                limit=limit,
                allowed_updates=ALLOWED_UPDATES,
                read_timeout=timeout + 10,
            )
        except TelegramError as exc:
            raise translate(exc) from exc
        return [u.to_dict() for u in updates]

    async def set_webhook(self, url: str, secret_token: str) -> None:
        try:
            await self.bot.set_webhook(
                url, secret_token=secret_token, allowed_updates=ALLOWED_UPDATES
            )
        except TelegramError as exc:
            raise translate(exc) from exc

    async def delete_webhook(self) -> None:
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
        except TelegramError as exc:
            raise translate(exc) from exc

    async def download(self, file_id: str) -> bytes:
        try:
            file = await self.bot.get_file(file_id)
            return bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            raise translate(exc) from exc

    async def call(self, call: ApiCall) -> Any:
        p = dict(call.params)
        bot = self.bot
        try:
            result: Any
            if call.method == "sendMessage":
                result = await bot.send_message(
                    p["chat_id"], p["text"], reply_markup=_markup(p.get("reply_markup"))
                )
            elif call.method == "sendPhoto":
                result = await bot.send_photo(
                    p["chat_id"],
                    p["photo"],
                    caption=p.get("caption"),
                    reply_markup=_markup(p.get("reply_markup")),
                )
            elif call.method == "sendDocument":
                result = await bot.send_document(
                    p["chat_id"],
                    p["document"],
                    caption=p.get("caption"),
                    reply_markup=_markup(p.get("reply_markup")),
                )
            elif call.method == "editMessageText":
                result = await bot.edit_message_text(
                    p["text"],
                    chat_id=p["chat_id"],
                    message_id=p["message_id"],
                    reply_markup=_markup(p.get("reply_markup")),
                )
            elif call.method == "editMessageReplyMarkup":
                result = await bot.edit_message_reply_markup(
                    chat_id=p["chat_id"],
                    message_id=p["message_id"],
                    reply_markup=_markup(p.get("reply_markup")),
                )
            elif call.method == "answerCallbackQuery":
                result = await bot.answer_callback_query(
                    p["callback_query_id"], text=p.get("text"), show_alert=p.get("show_alert")
                )
            else:
                result = await bot.do_api_request(call.method, api_kwargs=p)
        except TelegramError as exc:
            raise translate(exc) from exc
        return _result(result)
