"""A fake Telegram Bot API server for tests and benchmarks.

A real HTTP server (aiohttp.web) on 127.0.0.1 with an ephemeral port, running in its own
thread and event loop, speaking the Bot API's HTTP and JSON: `/bot<token>/<method>` (JSON,
urlencoded or multipart bodies; methods case-insensitive) and `/file/bot<token>/<path>`.

It keeps unconfirmed updates for getUpdates (offset confirms, long-poll timeout waits), and
once setWebhook is called POSTs them to the webhook with X-Telegram-Bot-Api-Secret-Token,
redelivering until the webhook answers 2xx (in order per chat). It records every call, keeps
the messages it "sent" so they can be edited and pressed, serves getFile and file downloads,
and can be told to answer 429 (with retry_after), 403 (bot blocked) or 5xx.

Tests talk to it from their own thread through the thread-safe helpers: `user_text`,
`user_press`, `user_contact`, `user_photo`, `user_document`, `push_update`, `messages_to`,
`wait_for`, `block`, `flood`, `fail`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

JSON = dict[str, Any]

_JSON_FIELDS = {
    "reply_markup", "allowed_updates", "entities", "caption_entities", "media",
    "link_preview_options", "reply_parameters", "commands", "scope",
}
_INT_FIELDS = {
    "chat_id", "message_id", "offset", "limit", "timeout", "max_connections", "from_chat_id",
    "cache_time", "user_id",
}
_BOOL_FIELDS = {
    "show_alert", "drop_pending_updates", "disable_notification", "protect_content",
    "disable_web_page_preview", "allow_sending_without_reply",
}
SEND_METHODS = {"sendmessage", "sendphoto", "senddocument", "sendvoice", "sendvideo",
                "sendaudio", "sendmediagroup", "sendchataction"}
EDIT_METHODS = {"editmessagetext", "editmessagereplymarkup", "editmessagecaption",
                "deletemessage"}


@dataclass
class Call:
    """One Bot API request the server answered."""

    method: str  # as the client spelled it
    params: JSON
    status: int
    result: Any
    at: float = field(default_factory=time.perf_counter)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return value if isinstance(value, int) else None


@dataclass
class _Fault:
    status: int
    description: str
    times: int
    method: str | None = None
    chat_id: int | None = None
    retry_after: int | None = None


class FakeBotApi:
    """The fake server. Use as a context manager or call start()/stop()."""

    def __init__(self, token: str = "123456:TEST", username: str = "tousu_test_bot") -> None:
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.username = username
        self.port = 0
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._wake: asyncio.Event | None = None
        self._client: ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._closing = False
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def reset(self) -> None:
        with self._lock:
            self.pending: list[JSON] = []  # unconfirmed updates, in order
            self.pushed_at: dict[int, float] = {}  # update_id -> perf_counter when queued
            self.confirmed: set[int] = set()
            self.calls: list[Call] = []
            self.messages: dict[tuple[int, int], JSON] = {}
            self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
            self.queries: dict[str, JSON] = {}
            self.answered: set[str] = set()
            self.faults: list[_Fault] = []
            self.blocked: set[int] = set()
            self.webhook_url: str | None = None
            self.webhook_secret: str | None = None
            self.webhook_max_connections = 40
            self.webhook_posts: list[tuple[int, int, float]] = []  # (update_id, status, at)
            self._inflight: set[int] = set()
            self._retry_at: dict[int, float] = {}

    def start(self) -> FakeBotApi:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as exc:  # noqa: BLE001
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-bot-api", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _startup(self) -> None:
        self._wake = asyncio.Event()
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5,
                                      handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server  # noqa: SLF001 - the only way to learn the ephemeral port
        assert server is not None and server.sockets
        self.port = int(server.sockets[0].getsockname()[1])
        self._client = ClientSession(timeout=ClientTimeout(total=60))
        self._webhook_task = asyncio.create_task(self._webhook_loop())

    async def _shutdown(self) -> None:
        self._closing = True
        if self._wake is not None:
            self._wake.set()  # long polls answer at once
        if self._webhook_task is not None:
            await asyncio.wait({self._webhook_task}, timeout=1)
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _sleep_or_wake(self, timeout: float) -> None:
        assert self._wake is not None
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=timeout)
        finally:
            waiter.cancel()

    def _notify(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    # ------------------------------------------------------------------ faults

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sends to this chat answer 403."""
        with self._lock:
            self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        with self._lock:
            self.blocked.discard(chat_id)

    def flood(self, retry_after: int, times: int = 1, method: str | None = None,
              chat_id: int | None = None) -> None:
        """The next `times` matching calls answer 429 with parameters.retry_after."""
        with self._lock:
            self.faults.append(_Fault(429, f"Too Many Requests: retry after {retry_after}",
                                      times, method and method.lower(), chat_id, retry_after))

    def fail(self, status: int = 500, times: int = 1, method: str | None = None,
             chat_id: int | None = None) -> None:
        """The next `times` matching calls answer `status` (e.g. 500, 502)."""
        with self._lock:
            self.faults.append(_Fault(status, "Internal Server Error", times,
                                      method and method.lower(), chat_id))

    # ------------------------------------------------------------------ users' side

    @staticmethod
    def user(user_id: int, first_name: str = "Test", language_code: str | None = "zh-hans",
             username: str | None = None) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        if username:
            user["username"] = username
        return user

    @staticmethod
    def chat_of(user: JSON) -> JSON:
        return {"id": user["id"], "type": "private", "first_name": user["first_name"]}

    @staticmethod
    def group(chat_id: int, title: str = "Managers") -> JSON:
        return {"id": chat_id, "type": "supergroup" if str(chat_id).startswith("-100")
                else "group", "title": title}

    def push_update(self, update: JSON) -> JSON:
        """Queue an update (an `update_id` is assigned if missing; reuse one to redeliver)."""
        with self._lock:
            if "update_id" not in update:
                update = {"update_id": next(self._update_ids), **update}
            self.pending.append(update)
            self.pushed_at.setdefault(update["update_id"], time.perf_counter())
        self._notify()
        return update

    def _next_message_id(self, chat_id: int) -> int:
        with self._lock:
            counter = self._message_ids.setdefault(chat_id, itertools.count(1))
            return next(counter)

    def _user_message(self, user: JSON, chat: JSON | None, **content: Any) -> JSON:
        chat = chat or self.chat_of(user)
        message = {
            "message_id": self._next_message_id(chat["id"]),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        return self.push_update({"message": message})

    def user_text(self, user: JSON, text: str, chat: JSON | None = None) -> JSON:
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        extra: JSON = {"entities": entities} if entities else {}
        return self._user_message(user, chat, text=text, **extra)

    def user_contact(self, user: JSON, phone: str, own: bool = True) -> JSON:
        contact = {"phone_number": phone, "first_name": user["first_name"]}
        if own:
            contact["user_id"] = user["id"]
        return self._user_message(user, None, contact=contact)

    def add_file(self, content: bytes, path: str) -> str:
        """Store a file as Telegram would after an upload; -> its file_id."""
        with self._lock:
            file_id = f"FILE{next(self._file_ids):06d}-{path.rsplit('/', 1)[-1]}"
            self.files[file_id] = (path, content)
            return file_id

    def user_photo(self, user: JSON, content: bytes = b"\xff\xd8fake-jpeg",
                   caption: str | None = None) -> JSON:
        small = self.add_file(content[:8], "photos/small.jpg")
        big = self.add_file(content, "photos/big.jpg")
        photo = [
            {"file_id": small, "file_unique_id": small[:10], "width": 90, "height": 60,
             "file_size": 8},
            {"file_id": big, "file_unique_id": big[:10], "width": 1280, "height": 853,
             "file_size": len(content)},
        ]
        extra: JSON = {"caption": caption} if caption else {}
        return self._user_message(user, None, photo=photo, **extra)

    def user_document(self, user: JSON, content: bytes, name: str = "evidence.pdf",
                      mime: str = "application/pdf") -> JSON:
        file_id = self.add_file(content, f"documents/{name}")
        document = {"file_id": file_id, "file_unique_id": file_id[:10], "file_name": name,
                    "mime_type": mime, "file_size": len(content)}
        return self._user_message(user, None, document=document)

    def user_press(self, user: JSON, message: JSON, data: str) -> JSON:
        """`user` presses the inline button with callback_data `data` under `message`."""
        buttons = [b for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
                   for b in row]
        if not any(b.get("callback_data") == data for b in buttons):
            raise AssertionError(f"no button {data!r} under message {message.get('text')!r}")
        with self._lock:
            query_id = f"Q{next(self._query_ids)}"
        query = {"id": query_id, "from": user, "message": message, "data": data,
                 "chat_instance": str(message["chat"]["id"])}
        with self._lock:
            self.queries[query_id] = query
        return self.push_update({"callback_query": query})

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method.lower() == method.lower()]

    def messages_to(self, chat_id: int) -> list[JSON]:
        """The bot's messages in a chat as they are now (edits applied), oldest first."""
        with self._lock:
            found = [m for (chat, _), m in self.messages.items() if chat == chat_id]
        return sorted(found, key=lambda m: m["message_id"])

    def texts_to(self, chat_id: int) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.messages_to(chat_id)]

    def last_with_buttons(self, chat_id: int) -> JSON | None:
        for message in reversed(self.messages_to(chat_id)):
            if (message.get("reply_markup") or {}).get("inline_keyboard"):
                return message
        return None

    def is_confirmed(self, update_id: int) -> bool:
        with self._lock:
            return update_id in self.confirmed

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0,
                       what: str = "condition") -> Any:
        """Poll `predicate` (from the test's loop) until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.01)

    async def wait_messages(self, chat_id: int, count: int, timeout: float = 10.0) -> list[JSON]:
        await self.wait_for(lambda: len(self.messages_to(chat_id)) >= count, timeout,
                            f"{count} messages to {chat_id}")
        return self.messages_to(chat_id)

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    def _decode(name: str, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if name in _JSON_FIELDS:
            return json.loads(value)
        if name in _INT_FIELDS:
            try:
                return int(value)
            except ValueError:
                return value  # "@channelusername"
        if name in _BOOL_FIELDS:
            return value.lower() == "true"
        return value

    async def _params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.content_type == "application/json" and request.can_read_body:
            body = await request.json()
            params.update(body or {})
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    params[key] = self.add_file(content, f"uploads/{value.filename}")
                else:
                    params[key] = value
        return {k: self._decode(k, v) for k, v in params.items()}

    @staticmethod
    def _error(status: int, description: str, parameters: JSON | None = None) -> web.Response:
        body: JSON = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        with self._lock:
            for file_path, content in self.files.values():
                if file_path == path:
                    return web.Response(body=content, content_type="application/octet-stream")
        return web.Response(status=404)

    async def _handle_method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        name = method.lower()
        try:
            params = await self._params(request)
        except (ValueError, json.JSONDecodeError) as exc:
            return self._error(400, f"Bad Request: can't parse parameters: {exc}")
        except ConnectionResetError:  # the client went away mid-request (it was stopped)
            return web.Response(status=499)
        status, result, extra = await self._dispatch(name, params)
        with self._lock:
            self.calls.append(Call(method, params, status, result))
        if status != 200:
            return self._error(status, str(result), extra)
        return web.json_response({"ok": True, "result": result})

    def _fault_for(self, name: str, params: JSON) -> _Fault | None:
        chat_id = params.get("chat_id")
        with self._lock:
            if name in SEND_METHODS | EDIT_METHODS and chat_id in self.blocked:
                return _Fault(403, "Forbidden: bot was blocked by the user", 1)
            for fault in self.faults:
                if fault.times <= 0:
                    continue
                if fault.method and fault.method != name:
                    continue
                if fault.chat_id is not None and fault.chat_id != chat_id:
                    continue
                if fault.method is None and name in {"getupdates", "getme"}:
                    continue  # untargeted faults hit the calls a bot makes, not polling
                fault.times -= 1
                return fault
        return None

    async def _dispatch(self, name: str, p: JSON) -> tuple[int, Any, JSON | None]:
        fault = self._fault_for(name, p)
        if fault is not None:
            extra = {"retry_after": fault.retry_after} if fault.retry_after else None
            return fault.status, fault.description, extra
        handler = getattr(self, f"_m_{name}", None)
        if handler is None:
            return 404, "Not Found: method not found", None
        try:
            result = handler(p)
            if asyncio.iscoroutine(result):
                result = await result
        except _ApiFail as exc:
            return exc.status, exc.description, None
        return 200, result, None

    # ------------------------------------------------------------------ methods

    def _bot_user(self) -> JSON:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Tousu", "username": self.username}

    def _m_getme(self, p: JSON) -> JSON:
        return {**self._bot_user(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def _m_logout(self, p: JSON) -> bool:
        return True

    def _m_close(self, p: JSON) -> bool:
        return True

    async def _m_getupdates(self, p: JSON) -> list[JSON]:
        with self._lock:
            if self.webhook_url:
                raise _ApiFail(409, "Conflict: can't use getUpdates method while webhook is "
                                    "active; use deleteWebhook to delete the webhook first")
        offset = p.get("offset")
        limit = min(int(p.get("limit") or 100), 100)
        timeout = float(p.get("timeout") or 0)
        allowed = p.get("allowed_updates")
        if offset:
            self._confirm_below(int(offset))
        assert self._loop is not None and self._wake is not None
        deadline = self._loop.time() + timeout
        while True:
            self._wake.clear()
            with self._lock:
                batch = [u for u in self.pending
                         if not allowed or any(k in u for k in allowed)][:limit]
            remaining = deadline - self._loop.time()
            if batch or remaining <= 0 or self._closing:
                return batch
            await self._sleep_or_wake(remaining)

    def _confirm_below(self, offset: int) -> None:
        with self._lock:
            keep = []
            for update in self.pending:
                if update["update_id"] < offset:
                    self.confirmed.add(update["update_id"])
                else:
                    keep.append(update)
            self.pending = keep

    def _m_setwebhook(self, p: JSON) -> bool:
        url = p.get("url") or None
        with self._lock:
            self.webhook_url = url
            self.webhook_secret = p.get("secret_token")
            self.webhook_max_connections = int(p.get("max_connections") or 40)
            if p.get("drop_pending_updates"):
                self.pending.clear()
        self._notify()
        return True

    def _m_deletewebhook(self, p: JSON) -> bool:
        with self._lock:
            self.webhook_url = None
            self.webhook_secret = None
            if p.get("drop_pending_updates"):
                self.pending.clear()
        return True

    def _m_getwebhookinfo(self, p: JSON) -> JSON:
        with self._lock:
            return {"url": self.webhook_url or "", "has_custom_certificate": False,
                    "pending_update_count": len(self.pending),
                    "max_connections": self.webhook_max_connections}

    def _chat(self, chat_id: Any) -> JSON:
        if not isinstance(chat_id, int):
            raise _ApiFail(400, "Bad Request: chat not found")
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "User"}
        return self.group(chat_id)

    def _store(self, chat_id: Any, content: JSON) -> JSON:
        chat = self._chat(chat_id)
        message: JSON = {"message_id": self._next_message_id(chat["id"]), "from": self._bot_user(),
                         "chat": chat, "date": int(time.time()), **content}
        with self._lock:
            self.messages[(chat["id"], message["message_id"])] = message
        return message

    @staticmethod
    def _inline(p: JSON) -> JSON:
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            for row in markup["inline_keyboard"]:
                for button in row:
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(data.encode()) <= 64:
                        raise _ApiFail(400, "Bad Request: BUTTON_DATA_INVALID")
            return {"reply_markup": markup}
        return {}

    def _m_sendmessage(self, p: JSON) -> JSON:
        text = p.get("text")
        if not text:
            raise _ApiFail(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise _ApiFail(400, "Bad Request: message is too long")
        return self._store(p.get("chat_id"), {"text": text, **self._inline(p)})

    def _file_ref(self, value: Any, kind: str) -> JSON:
        if not isinstance(value, str):
            raise _ApiFail(400, f"Bad Request: there is no {kind} in the request")
        with self._lock:
            known = value in self.files
        if not known and not value.startswith(("http://", "https://")):
            raise _ApiFail(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return {"file_id": value, "file_unique_id": value[:10]}

    def _m_sendphoto(self, p: JSON) -> JSON:
        ref = self._file_ref(p.get("photo"), "photo")
        content: JSON = {"photo": [{**ref, "width": 1280, "height": 853}], **self._inline(p)}
        if p.get("caption"):
            content["caption"] = p["caption"]
        return self._store(p.get("chat_id"), content)

    def _m_senddocument(self, p: JSON) -> JSON:
        ref = self._file_ref(p.get("document"), "document")
        content: JSON = {"document": ref, **self._inline(p)}
        if p.get("caption"):
            content["caption"] = p["caption"]
        return self._store(p.get("chat_id"), content)

    def _m_sendchataction(self, p: JSON) -> bool:
        self._chat(p.get("chat_id"))
        return True

    def _existing(self, p: JSON) -> JSON:
        key = (p.get("chat_id"), p.get("message_id"))
        with self._lock:
            message = self.messages.get(key)  # type: ignore[arg-type]
        if message is None:
            raise _ApiFail(400, "Bad Request: message to edit not found")
        return message

    def _m_editmessagetext(self, p: JSON) -> JSON:
        message = self._existing(p)
        markup = self._inline(p)
        if message.get("text") == p.get("text") and message.get("reply_markup") == markup.get(
            "reply_markup"
        ):
            raise _ApiFail(400, "Bad Request: message is not modified")
        with self._lock:
            message["text"] = p.get("text")
            message.pop("reply_markup", None)
            message.update(markup)
            message["edit_date"] = int(time.time())
        return message

    def _m_editmessagereplymarkup(self, p: JSON) -> JSON:
        message = self._existing(p)
        markup = self._inline(p)
        if message.get("reply_markup") == markup.get("reply_markup"):
            raise _ApiFail(400, "Bad Request: message is not modified")
        with self._lock:
            message.pop("reply_markup", None)
            message.update(markup)
            message["edit_date"] = int(time.time())
        return message

    def _m_deletemessage(self, p: JSON) -> bool:
        key = (p.get("chat_id"), p.get("message_id"))
        with self._lock:
            if self.messages.pop(key, None) is None:  # type: ignore[arg-type]
                raise _ApiFail(400, "Bad Request: message to delete not found")
        return True

    def _m_answercallbackquery(self, p: JSON) -> bool:
        query_id = str(p.get("callback_query_id"))
        with self._lock:
            if query_id not in self.queries or query_id in self.answered:
                raise _ApiFail(400, "Bad Request: query is too old and response timeout "
                                    "expired or query ID is invalid")
            self.answered.add(query_id)
        return True

    def _m_getfile(self, p: JSON) -> JSON:
        file_id = str(p.get("file_id"))
        with self._lock:
            found = self.files.get(file_id)
        if found is None:
            raise _ApiFail(400, "Bad Request: invalid file_id")
        path, content = found
        return {"file_id": file_id, "file_unique_id": file_id[:10], "file_size": len(content),
                "file_path": path}

    # ------------------------------------------------------------------ webhook delivery

    @staticmethod
    def _chat_key(update: JSON) -> Any:
        for kind in ("message", "edited_message"):
            if kind in update:
                return update[kind]["chat"]["id"]
        if "callback_query" in update:
            return update["callback_query"]["message"]["chat"]["id"]
        return update["update_id"]

    async def _webhook_loop(self) -> None:
        assert self._wake is not None and self._loop is not None
        while not self._closing:
            chosen: list[JSON] = []
            with self._lock:
                url, secret = self.webhook_url, self.webhook_secret
                if url:
                    now = self._loop.time()
                    busy: set[Any] = set()
                    for update in self.pending:
                        uid, chat = update["update_id"], self._chat_key(update)
                        waiting = self._retry_at.get(uid, 0.0) > now
                        if uid in self._inflight or waiting or chat in busy:
                            busy.add(chat)
                            continue
                        if len(self._inflight) + len(chosen) >= self.webhook_max_connections:
                            break
                        busy.add(chat)
                        chosen.append(update)
                    self._inflight.update(u["update_id"] for u in chosen)
            for update in chosen:
                asyncio.create_task(self._post(url or "", secret, update))
            self._wake.clear()
            await self._sleep_or_wake(0.05)

    async def _post(self, url: str, secret: str | None, update: JSON) -> None:
        assert self._client is not None and self._loop is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        status = 0
        try:
            async with self._client.post(url, json=update, headers=headers) as response:
                status = response.status
                await response.read()
        except Exception:  # noqa: BLE001 - a refused connection is a failed delivery
            status = 0
        uid = update["update_id"]
        with self._lock:
            self.webhook_posts.append((uid, status, time.perf_counter()))
            self._inflight.discard(uid)
            if 200 <= status < 300:
                self.pending = [u for u in self.pending if u is not update]
                self.confirmed.add(uid)
                self._retry_at.pop(uid, None)
            else:
                self._retry_at[uid] = self._loop.time() + 0.2
        self._notify()


class _ApiFail(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
