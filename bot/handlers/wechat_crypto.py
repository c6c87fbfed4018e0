"""WeChat / WeCom callback security: verify → decrypt → parse, three small steps.

Built on wechatpy's message crypto (`WXBizMsgCrypt` as WeChat documents it). Each step
raises its own exception so the route can answer 403 (not WeChat), 400 (garbage) or
process the message:

- `verify`: the signature (plain mode: sha1 of token, timestamp, nonce; encrypted modes:
  msg_signature over the ciphertext as well) and the timestamp, which must be within five
  minutes of the wall clock (replays of captured requests are refused).
- `decrypt`: AES-256-CBC with the EncodingAESKey; the embedded AppID / CorpID must match.
- `parse`: the XML document into a flat `CallbackMessage`.

Modes of the Official Account: plain (no `encrypt_type`), compatible and safe (both
`encrypt_type=aes`; compatible also carries the plaintext fields, which we ignore and
read the authenticated ciphertext instead). WeCom callbacks are always encrypted.
"""

from __future__ import annotations

import hmac
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.parsers.expat import ExpatError

import xmltodict
from wechatpy.crypto import PrpCrypto as _MpPrpCrypto
from wechatpy.crypto import WeChatCrypto as _MpCrypto
from wechatpy.enterprise.crypto import PrpCrypto as _WorkPrpCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as _WorkCrypto
from wechatpy.exceptions import WeChatException
from wechatpy.utils import WeChatSigner

REPLAY_WINDOW_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024


class CallbackError(Exception):
    """A callback request we will not process."""


class BadSignature(CallbackError):
    """The signature does not match: not from WeChat (answer 403)."""


class StaleTimestamp(CallbackError):
    """The timestamp is missing or more than five minutes off: a replay (answer 403)."""


class DecryptError(CallbackError):
    """Signed correctly but the ciphertext does not decrypt to our AppID / CorpID."""


class MalformedMessage(CallbackError):
    """The body is not a WeChat XML document (answer 400)."""


@dataclass(frozen=True)
class CallbackQuery:
    """The query string WeChat puts on every callback."""

    timestamp: str = ""
    nonce: str = ""
    signature: str = ""  # plain-mode signature (always present on the Official Account)
    msg_signature: str = ""  # encrypted modes (and every WeCom callback)
    encrypt_type: str = ""  # "aes" in compatible and safe mode
    echostr: str = ""  # URL verification (GET)

    @classmethod
    def from_mapping(cls, params: Mapping[str, str]) -> CallbackQuery:
        return cls(
            timestamp=params.get("timestamp", ""),
            nonce=params.get("nonce", ""),
            signature=params.get("signature", ""),
            msg_signature=params.get("msg_signature", ""),
            encrypt_type=params.get("encrypt_type", "").lower(),
            echostr=params.get("echostr", ""),
        )

    @property
    def encrypted(self) -> bool:
        return self.encrypt_type == "aes"


@dataclass(frozen=True)
class CallbackMessage:
    """One parsed callback document (a message or an event), fields as WeChat names them."""

    msg_type: str  # "text", "image", "voice", "event", ...
    from_user: str  # openid (Official Account) or WeCom userid
    to_user: str  # our account (gh_...) or CorpID
    create_time: int
    msg_id: str | None = None
    event: str | None = None  # lower-cased Event for msg_type "event"
    raw: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else str(value)

    @property
    def dedupe_key(self) -> str:
        """MsgId for messages; FromUserName + CreateTime for events (WeChat's advice)."""
        if self.msg_id:
            return self.msg_id
        return f"{self.from_user}:{self.create_time}"


def signature_of(*parts: str) -> str:
    """WeChat's callback signature: sha1 of the sorted, concatenated parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


class CallbackCrypto:
    """Verify, decrypt and parse callbacks for one Official Account or one WeCom app."""

    def __init__(
        self,
        token: str,
        aes_key: str | None,
        app_id: str,
        *,
        enterprise: bool = False,
        window_seconds: int = REPLAY_WINDOW_SECONDS,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise ValueError("a callback token is required")
        self.token = token
        self.app_id = app_id
        self.enterprise = enterprise
        self.window_seconds = window_seconds
        self.wall_clock = wall_clock
        self._crypto: _MpCrypto | _WorkCrypto | None = None
        if aes_key:
            if len(aes_key) != 43:
                raise ValueError("EncodingAESKey must be 43 characters")
            cls = _WorkCrypto if enterprise else _MpCrypto
            self._crypto = cls(token, aes_key, app_id)
        elif enterprise:
            raise ValueError("WeCom callbacks need an EncodingAESKey")

    @property
    def can_decrypt(self) -> bool:
        return self._crypto is not None

    # -- step 1 ------------------------------------------------------------------------
    def check_timestamp(self, timestamp: str) -> None:
        try:
            sent = int(timestamp)
        except (TypeError, ValueError):
            raise StaleTimestamp("missing or non-numeric timestamp") from None
        if abs(self.wall_clock() - sent) > self.window_seconds:
            raise StaleTimestamp(f"timestamp {sent} outside the {self.window_seconds}s window")

    def _check(self, expected: str, given: str) -> None:
        if not given or not hmac.compare_digest(expected, given.lower()):
            raise BadSignature("signature mismatch")

    def verify(self, query: CallbackQuery, encrypt: str | None = None) -> None:
        """Check the signature (over `encrypt` too in encrypted modes) and the timestamp."""
        if self.enterprise or query.encrypted:
            if encrypt is None:
                raise MalformedMessage("no Encrypt element")
            expected = signature_of(self.token, query.timestamp, query.nonce, encrypt)
            self._check(expected, query.msg_signature)
        else:
            expected = signature_of(self.token, query.timestamp, query.nonce)
            self._check(expected, query.signature)
        self.check_timestamp(query.timestamp)

    # -- step 2 ------------------------------------------------------------------------
    def decrypt(self, encrypt: str) -> str:
        """Decrypt an `Encrypt` value (already verified) into the inner XML text."""
        if self._crypto is None:
            raise DecryptError("encrypted callback but no EncodingAESKey configured")
        prp_cls = _WorkPrpCrypto if self.enterprise else _MpPrpCrypto
        try:
            text = prp_cls(self._crypto.key).decrypt(encrypt, self.app_id)
        except (ValueError, TypeError, IndexError, struct.error, WeChatException) as exc:
            # bad base64, padding, length or AppID: all one answer
            raise DecryptError(f"cannot decrypt: {type(exc).__name__}") from None
        return str(text)

    # -- step 3 ------------------------------------------------------------------------
    @staticmethod
    def parse_xml(xml: str | bytes) -> dict[str, Any]:
        if isinstance(xml, bytes) and len(xml) > MAX_BODY_BYTES:
            raise MalformedMessage("body too large")
        try:
            doc = xmltodict.parse(xml, disable_entities=True)
        except (ExpatError, ValueError, TypeError) as exc:
            raise MalformedMessage(f"not XML: {type(exc).__name__}") from None
        inner = doc.get("xml") if isinstance(doc, dict) else None
        if not isinstance(inner, dict):
            raise MalformedMessage("no <xml> root")
        return inner

    @staticmethod
    def parse(xml: str | bytes | Mapping[str, Any]) -> CallbackMessage:
        data = dict(xml) if isinstance(xml, Mapping) else CallbackCrypto.parse_xml(xml)
        msg_type = str(data.get("MsgType") or "").strip().lower()
        from_user = str(data.get("FromUserName") or "")
        if not msg_type or not from_user:
            raise MalformedMessage("MsgType and FromUserName are required")
        try:
            create_time = int(str(data.get("CreateTime") or "0"))
        except ValueError:
            raise MalformedMessage("bad CreateTime") from None
        msg_id = (data.get("MsgId") or data.get("MsgID")) if msg_type != "event" else None
        event = (str(data.get("Event") or "").lower() or None) if msg_type == "event" else None
        return CallbackMessage(
            msg_type=msg_type,
            from_user=from_user,
            to_user=str(data.get("ToUserName") or ""),
            create_time=create_time,
            msg_id=str(msg_id) if msg_id else None,
            event=event,
            raw=data,
        )

    # -- all three ---------------------------------------------------------------------
    def verify_url(self, query: CallbackQuery) -> str:
        """GET URL verification: the text to echo back."""
        if not query.echostr:
            raise MalformedMessage("no echostr")
        if self.enterprise:
            self.verify(query, query.echostr)
            return self.decrypt(query.echostr)
        self.verify(CallbackQuery(query.timestamp, query.nonce, query.signature))
        return query.echostr

    def unwrap(self, query: CallbackQuery, body: bytes) -> CallbackMessage:
        """Verify, decrypt if needed, parse. Nothing is trusted before `verify` passes."""
        if len(body) > MAX_BODY_BYTES:
            raise MalformedMessage("body too large")
        if self.enterprise or query.encrypted:
            outer = self.parse_xml(body)
            encrypt = outer.get("Encrypt")
            if not isinstance(encrypt, str) or not encrypt:
                # check the signature first anyway so a forgery is reported as one
                self.verify(query, "")
                raise MalformedMessage("no Encrypt element")
            self.verify(query, encrypt)
            return self.parse(self.decrypt(encrypt))
        self.verify(query)
        return self.parse(body)

    def wrap(self, reply_xml: str, query: CallbackQuery, *, nonce: str | None = None) -> str:
        """Encrypt a passive reply when the request was encrypted; plain otherwise."""
        if not (self.enterprise or query.encrypted) or not reply_xml:
            return reply_xml
        if self._crypto is None:
            raise DecryptError("no EncodingAESKey configured")
        timestamp = str(int(self.wall_clock()))
        return str(self._crypto.encrypt_message(reply_xml, nonce or query.nonce, timestamp))


def cdata_safe(text: str) -> str:
    """Split any ']]>' so text can sit inside wechatpy's CDATA sections."""
    return text.replace("]]>", "]]]]><![CDATA[>")
