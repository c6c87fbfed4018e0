"""A fake WeChat Official Account + WeCom API server on 127.0.0.1 (ephemeral port).

Real HTTP, so the real wechatpy clients (requests) and httpx talk to it unchanged. It
checks app ids, secrets and access tokens like WeChat does, records every call, and can be
told to fail: `fail_next(path, errcode, errmsg, times)` (e.g. 45015 "response out of time
limit" or 45047 "out of response count limit" on /cgi-bin/message/custom/send).

Endpoints: GET /cgi-bin/token, POST /cgi-bin/message/custom/send,
POST /cgi-bin/message/template/send, GET /cgi-bin/media/get (Official Account);
GET /cgi-bin/gettoken, POST /cgi-bin/message/send, POST /cgi-bin/webhook/send (WeCom).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-evidence-photo\xff\xd9"


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any  # parsed JSON, or None


@dataclass
class FakeWeChatConfig:
    app_id: str = "wx0000000000fake01"
    app_secret: str = "dummy-app-secret"
    corp_id: str = "ww0000000000fake01"
    corp_secret: str = "dummy-corp-secret"
    robot_keys: set[str] = field(default_factory=lambda: {"dummy-robot-key"})
    expires_in: int = 7200
    media: dict[str, bytes] = field(default_factory=dict)
    delay_seconds: float = 0.0  # added to every answer (slow network)
    token_delay_seconds: float = 0.0  # added to token answers (refresh races)


class FakeWeChatAPI:
    """Start with `start()` (or as a context manager); `base_url` is http://127.0.0.1:PORT."""

    def __init__(self, config: FakeWeChatConfig | None = None) -> None:
        self.config = config or FakeWeChatConfig()
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._failures: dict[str, deque[tuple[int, str]]] = defaultdict(deque)
        self._counter = itertools.count(1)
        self.mp_tokens: set[str] = set()
        self.work_tokens: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -----------------------------------------------------------------------
    def start(self) -> Self:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                api._serve(self, "GET")

            def do_POST(self) -> None:
                api._serve(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, path: str, errcode: int, errmsg: str = "", times: int = 1) -> None:
        with self._lock:
            for _ in range(times):
                self._failures[path].append((errcode, errmsg or f"error {errcode}"))

    def invalidate_tokens(self) -> None:
        """Make every issued token invalid (WeChat answers 40001), as after a reset."""
        with self._lock:
            self.mp_tokens.clear()
            self.work_tokens.clear()

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- serving -----------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw.decode("utf-8"))
            except ValueError:
                body = raw
        with self._lock:
            self.calls.append(Call(method, url.path, query, body))
        if self.config.delay_seconds:
            time.sleep(self.config.delay_seconds)
        status, content_type, payload = self._route(method, url.path, query, body)
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _json(self, data: dict[str, Any]) -> tuple[int, str, bytes]:
        return 200, "application/json; charset=utf-8", json.dumps(data).encode()

    def _error(self, errcode: int, errmsg: str) -> tuple[int, str, bytes]:
        return self._json({"errcode": errcode, "errmsg": errmsg})

    def _injected(self, path: str) -> tuple[int, str] | None:
        with self._lock:
            queue = self._failures.get(path)
            return queue.popleft() if queue else None

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, str, bytes]:
        cfg = self.config
        if path in {"/cgi-bin/token", "/cgi-bin/gettoken"} and cfg.token_delay_seconds:
            time.sleep(cfg.token_delay_seconds)
        if path == "/cgi-bin/token" and method == "GET":
            if query.get("appid") != cfg.app_id:
                return self._error(40013, "invalid appid")
            if query.get("secret") != cfg.app_secret:
                return self._error(40125, "invalid appsecret")
            token = f"MP_TOKEN_{next(self._counter)}"
            with self._lock:
                self.mp_tokens.add(token)
            return self._json({"access_token": token, "expires_in": cfg.expires_in})
        if path == "/cgi-bin/gettoken" and method == "GET":
            if query.get("corpid") != cfg.corp_id:
                return self._error(40013, "invalid corpid")
            if query.get("corpsecret") != cfg.corp_secret:
                return self._error(40001, "invalid secret")
            token = f"WORK_TOKEN_{next(self._counter)}"
            with self._lock:
                self.work_tokens.add(token)
            return self._json(
                {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": cfg.expires_in}
            )
        if path == "/cgi-bin/webhook/send" and method == "POST":
            if query.get("key") not in cfg.robot_keys:
                return self._error(93000, "invalid webhook url")
            injected = self._injected(path)
            if injected:
                return self._error(*injected)
            if not isinstance(body, dict) or body.get("msgtype") not in {"text", "markdown"}:
                return self._error(40008, "invalid message type")
            return self._error(0, "ok")

        mp_paths = {"/cgi-bin/message/custom/send", "/cgi-bin/message/template/send"}
        mp_paths.add("/cgi-bin/media/get")
        tokens = self.mp_tokens if path in mp_paths else self.work_tokens
        with self._lock:
            valid = query.get("access_token") in tokens
        if path in mp_paths | {"/cgi-bin/message/send"} and not valid:
            return self._error(40001, "invalid credential, access_token is invalid or not latest")

        if path == "/cgi-bin/message/custom/send" and method == "POST":
            injected = self._injected(path)
            if injected:
                return self._error(*injected)
            if not isinstance(body, dict) or not body.get("touser") or not body.get("msgtype"):
                return self._error(44002, "empty post data")
            return self._error(0, "ok")
        if path == "/cgi-bin/message/template/send" and method == "POST":
            injected = self._injected(path)
            if injected:
                return self._error(*injected)
            if not isinstance(body, dict) or not body.get("template_id"):
                return self._error(40037, "invalid template_id")
            return self._json({"errcode": 0, "errmsg": "ok", "msgid": next(self._counter)})
        if path == "/cgi-bin/media/get" and method == "GET":
            data = cfg.media.get(query.get("media_id", ""))
            if data is None:
                return self._error(40007, "invalid media_id")
            return 200, "image/jpeg", data
        if path == "/cgi-bin/message/send" and method == "POST":
            injected = self._injected(path)
            if injected:
                return self._error(*injected)
            if not isinstance(body, dict) or not body.get("agentid"):
                return self._error(40056, "invalid agentid")
            return self._json(
                {
                    "errcode": 0,
                    "errmsg": "ok",
                    "invaliduser": "",
                    "msgid": f"msg{next(self._counter)}",
                    "response_code": f"rc{next(self._counter)}",
                }
            )
        return 404, "text/plain", b"not found"
