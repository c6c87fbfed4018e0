"""aiogram 3 driver: a `Bot` on a custom `AiohttpSession` (TOUSU_TELEGRAM_API_BASE), a
Dispatcher with FSM disabled and one router whose handlers hand updates to tousu's bridge."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    TelegramObject,
    Update,
)

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


def translate(exc: TelegramAPIError) -> ApiError:
    """aiogram's exceptions -> the adapter's."""
    if isinstance(exc, TelegramRetryAfter):
        return ApiRetryAfter(str(exc), float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        return ApiForbidden(str(exc), 403)
    if isinstance(exc, TelegramMigrateToChat):
        return ApiChatGone(str(exc), new_chat_id=exc.migrate_to_chat_id)
    if isinstance(exc, TelegramBadRequest):
        return classify_bad_request(exc.message)
    if isinstance(exc, (TelegramNetworkError, TelegramServerError, TelegramConflictError)):
        return ApiTransient(str(exc))
    return ApiError(str(exc))


def dump(obj: TelegramObject) -> JSON:
    """An aiogram object -> its Bot API JSON shape ("from", not "from_user")."""
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)


def _markup(data: JSON | None) -> Any:
    if not data:
        return None
    if "inline_keyboard" in data:
        return InlineKeyboardMarkup.model_validate(data)
    if "keyboard" in data:
        return ReplyKeyboardMarkup.model_validate(data)
    if data.get("remove_keyboard"):
        return ReplyKeyboardRemove.model_validate(data)
    raise ValueError(f"unknown reply_markup {data!r}")


class AiogramDriver:
    """`TelegramDriver` on aiogram."""

    name = "aiogram"

    def __init__(self, token: str, api_base: str = "https://api.telegram.org") -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
        self.bot = Bot(token, session=session)
        self.dp = Dispatcher(disable_fsm=True)  # dialog state lives in tousu's database
        self.router = Router(name="tousu")
        self.router.message.register(self._on_event)
        self.router.callback_query.register(self._on_event)
        self.dp.include_router(self.router)
        self._callback: UpdateCallback | None = None

    async def open(self, on_update: UpdateCallback) -> JSON:
        self._callback = on_update
        try:
            me = await self.bot.get_me()
        except TelegramAPIError as exc:
            raise translate(exc) from exc
        return dump(me)

    async def close(self) -> None:
        await self.bot.session.close()

    async def _on_event(self, event: TelegramObject, event_update: Update) -> None:
        assert self._callback is not None
        await self._callback(dump(event_update))

    async def feed(self, update: JSON) -> None:
        parsed = Update.model_validate(update, context={"bot": self.bot})
        await self.dp.feed_update(self.bot, parsed)  # handler errors propagate

    async def get_updates(self, offset: int | None, timeout: int, limit: int = 100) -> list[JSON]:
        try:
            updates = await self.bot.get_updates(
                offset=offset,
                timeout=timeout,
                limit=limit,
                allowed_updates=ALLOWED_UPDATES,
                request_timeout=timeout + 10,
            )
        except TelegramAPIError as exc:
            raise translate(exc) from exc
        return [dump(u) for u in updates]

    async def set_webhook(self, url: str, secret_token: str) -> None:
        try:
            await self.bot.set_webhook(
                url, secret_token=secret_token, allowed_updates=ALLOWED_UPDATES
            )
        except TelegramAPIError as exc:
            raise translate(exc) from exc

    async def delete_webhook(self) -> None:
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
        except TelegramAPIError as exc:
            raise translate(exc) from exc

    async def download(self, file_id: str) -> bytes:
        try:
            file = await self.bot.get_file(file_id)
            if not file.file_path:
                raise ApiError(f"no file_path for {file_id}")
            data = await self.bot.download_file(file.file_path)
        except TelegramAPIError as exc:
            raise translate(exc) from exc
        if data is None:
            raise ApiError(f"empty download for {file_id}")
        return data.read()

    async def call(self, call: ApiCall) -> Any:
        p = dict(call.params)
        bot = self.bot
        try:
            if call.method == "sendMessage":
                result: Any = await bot.send_message(
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
                raise ApiError(f"method {call.method} not supported by the aiogram driver")
        except TelegramAPIError as exc:
            raise translate(exc) from exc
        if isinstance(result, Message):
            return dump(result)
        return result
