"""What flows between a channel adapter and the dialog engine, channel-agnostic."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attachment:
    kind: str  # "photo" | "document" | "file" | "voice" | "video"
    ref: str  # platform file id (Telegram file_id, WeChat MediaId) or a local path
    name: str | None = None
    mime: str | None = None
    url: str | None = None  # e.g. WeChat PicUrl


@dataclass(frozen=True)
class Inbound:
    """One message or button press from a person, as a channel adapter saw it."""

    channel: str  # "console" | "telegram" | "wechat" | "wecom"
    user_id: str  # the person's id on that channel
    text: str | None = None
    choice: str | None = None  # key of a pressed button (Telegram callback data, WeCom event key)
    attachments: tuple[Attachment, ...] = ()
    contact_phone: str | None = None  # a shared contact (Telegram's request_contact)
    update_id: str | None = None  # platform id used to drop redeliveries
    language: str | None = None  # "zh-CN", "en" or a platform code ("en-US", "zh-hans")
    display_name: str | None = None
    chat_id: str | None = None  # a group chat the message came from, if not a private one


@dataclass(frozen=True)
class Choice:
    key: str  # short (<= 64 bytes: Telegram callback_data)
    label: str


@dataclass(frozen=True)
class Reply:
    """One message for the person; choices become buttons or numbered lines."""

    text: str
    choices: tuple[Choice, ...] = ()
    request_contact: bool = False  # offer a "share my phone number" button where possible
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
