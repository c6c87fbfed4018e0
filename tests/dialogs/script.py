"""Scripting conversations against the dialog engine, as a channel adapter would."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from bot.bootstrap import App
from bot.dialogs.types import Attachment, Inbound, Reply
from bot.messaging import Outbound

_ids = itertools.count(1)


class RecordingSender:
    """A channel sender that keeps what it was asked to deliver."""

    def __init__(self, channel: str = "console") -> None:
        self.channel = channel
        self.sent: list[Outbound] = []

    async def send(self, message: Outbound) -> None:
        self.sent.append(message)

    def to(self, recipient: str, *, digests: bool = False) -> list[Outbound]:
        """What `recipient` got (daily digests left out unless asked for)."""
        return [m for m in self.sent if m.recipient == recipient
                and (digests or m.kind != "digest")]


def deliver(app: App) -> int:
    """Run due sweeps and deliver the outbox once."""
    app.sweeper.run_once()
    return asyncio.run(app.dispatcher.dispatch_once())


@dataclass
class Person:
    app: App
    user: str
    channel: str = "console"
    language: str | None = None
    last: list[Reply] = field(default_factory=list)

    def send(self, text: str | None = None, *, choice: str | None = None,
             attachments: tuple[Attachment, ...] = (), contact: str | None = None,
             update_id: str | None = None) -> list[Reply]:
        inbound = Inbound(self.channel, self.user, text=text, choice=choice,
                          attachments=attachments, contact_phone=contact,
                          update_id=update_id or f"u{next(_ids)}", language=self.language)
        self.last = self.app.engine.handle(inbound)
        return self.last

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    def choices(self) -> list[tuple[str, str]]:
        return [(c.key, c.label) for r in self.last for c in r.choices]

    def pick(self, label_part: str) -> list[Reply]:
        """Press the button whose label contains `label_part`."""
        for key, label in self.choices():
            if label_part in label:
                return self.send(choice=key)
        raise AssertionError(f"no choice containing {label_part!r} in {self.choices()}")

    def press(self, key_prefix: str, among: list[Reply] | None = None) -> list[Reply]:
        for r in among if among is not None else self.last:
            for c in r.choices:
                if c.key.startswith(key_prefix):
                    return self.send(choice=c.key)
        raise AssertionError(f"no choice key starting {key_prefix!r}")


def file_complaint(p: Person, *, name: str | None = "张妈妈", phone: str | None = "13812345678",
                   target: str = "小一班", grievance: tuple[str, ...] = (
                       "孩子在午睡时被老师罚站，还被骂了",), request: str = "希望园方调查并道歉",
                   category: str | None = None) -> str:
    """File a complaint through the whole intake dialog; returns the case number."""
    p.send("/start")
    if name is None:
        p.pick("匿名")
    else:
        p.send(name)
        if phone is None:
            p.pick("不留电话")
        else:
            p.send(phone)
    p.send(target)
    for line in grievance:
        p.send(line)
    p.pick("说完了")
    p.send(request)
    if category is None:
        p.press("cat:")
    else:
        p.send(choice=f"cat:{category}")
    if any(k.startswith("new") for k, _ in p.choices()):
        p.send(choice="new")
    p.pick("确认提交")
    text = p.text
    assert "已登记" in text, text
    return text.split("编号 ")[1].split("，")[0]
