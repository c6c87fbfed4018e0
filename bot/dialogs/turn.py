"""One inbound message being handled: the unit of work, the dialog state and the replies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.dialogs.types import Attachment, Choice, Inbound, Reply
from storage.repositories import DialogState
from storage.uow import SqlUnitOfWork


@dataclass
class Turn:
    """Everything one inbound message is handled with."""

    uow: SqlUnitOfWork
    state: DialogState
    inbound: Inbound
    lang: str
    now: datetime
    staff_id: str | None
    replies: list[Reply] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def say(self, text: str, choices: Sequence[Choice] = (), request_contact: bool = False,
            attachments: Sequence[Attachment] = ()) -> None:
        self.replies.append(Reply(text, tuple(choices), request_contact, tuple(attachments)))
