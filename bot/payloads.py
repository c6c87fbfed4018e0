"""Replies as JSON (outbox rows, remembered answers to redelivered updates) and back."""

from __future__ import annotations

from typing import Any

from bot.dialogs.types import Attachment, Choice, Reply


def reply_to_payload(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text, "choices": [[c.key, c.label] for c in reply.choices],
            "request_contact": reply.request_contact,
            "attachments": [[a.kind, a.ref, a.name] for a in reply.attachments]}


def payload_to_reply(payload: dict[str, Any]) -> Reply:
    choices = tuple(Choice(str(k), str(label)) for k, label in payload.get("choices") or [])
    attachments = tuple(Attachment(str(a[0]), str(a[1]), a[2] if len(a) > 2 else None)
                        for a in payload.get("attachments") or [])
    return Reply(str(payload.get("text", "")), choices, bool(payload.get("request_contact")),
                 attachments)
