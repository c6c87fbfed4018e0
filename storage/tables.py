"""SQLModel tables. Schema changes go through alembic (storage/migrations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable,
                                                index=index))


class CaseRow(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_due", "status", "due_resolution"),
        Index("ix_cases_department_handler", "department", "handler"),
        Index("ix_cases_complainant", "complainant_channel", "complainant_user"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=40)
    kind: str = Field(max_length=10)
    status: str = Field(max_length=30)
    tier: str = Field(max_length=10)
    category: str | None = Field(default=None, max_length=60)
    department: str | None = Field(default=None, max_length=60)
    handler: str | None = Field(default=None, max_length=60)
    level: int = 0
    target: str
    target_staff: str | None = Field(default=None, max_length=60)
    grievance: str
    request: str
    channel: str = Field(max_length=20)
    complainant_name: str | None = None
    complainant_contact: str | None = Field(default=None, max_length=40)
    anonymous: bool = False
    complainant_channel: str = Field(max_length=20)
    complainant_user: str = Field(max_length=100)
    complainant_language: str = Field(default="zh-CN", max_length=10)
    complainant_reachable: bool = True
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False,
                                                   index=True))
    due_first_response: datetime | None = _ts()
    due_resolution: datetime | None = _ts()
    first_response_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    closed_at: datetime | None = Field(default=None, sa_column=Column(
        DateTime(timezone=True), nullable=True, index=True, key="closed_at"))
    paused_at: datetime | None = _ts()
    next_check_at: datetime | None = _ts(index=True)
    outcome: str | None = Field(default=None, max_length=10)
    resolution: str | None = None
    satisfaction: str | None = Field(default=None, max_length=10)
    complainants: int = 1
    merged_into: str | None = Field(default=None, max_length=40)
    reopen_count: int = 0
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))


class EventRow(SQLModel, table=True):
    """Append-only: database triggers refuse UPDATE and DELETE (see the first migration)."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_case_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    seq: int
    type: str = Field(max_length=40, index=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=80)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class CounterRow(SQLModel, table=True):
    __tablename__ = "counters"

    scope: str = Field(primary_key=True, max_length=40)
    value: int = 0


class DialogStateRow(SQLModel, table=True):
    __tablename__ = "dialog_states"

    channel: str = Field(primary_key=True, max_length=20)
    user_id: str = Field(primary_key=True, max_length=100)
    flow: str | None = Field(default=None, max_length=40)
    step: str | None = Field(default=None, max_length=40)
    language: str = Field(default="zh-CN", max_length=10)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    updated_at: datetime | None = _ts()


class InboundSeenRow(SQLModel, table=True):
    """Platform update ids already handled: a redelivery is dropped."""

    __tablename__ = "inbound_seen"

    channel: str = Field(primary_key=True, max_length=20)
    update_id: str = Field(primary_key=True, max_length=120)
    seen_at: datetime | None = _ts()
    replies: list[Any] | None = Field(default=None, sa_column=Column(JSON))


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_recipient", "channel", "recipient", "status"))

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=200)
    channel: str = Field(max_length=20)
    recipient: str = Field(max_length=120)
    kind: str = Field(max_length=40)
    case_number: str | None = Field(default=None, max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(default="pending", max_length=12)  # pending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime | None = _ts()
    claimed_until: datetime | None = _ts()
    last_error: str | None = None
    created_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()


class StaffRow(SQLModel, table=True):
    __tablename__ = "staff"

    id: str = Field(primary_key=True, max_length=60)
    name: str = Field(max_length=100)
    department: str | None = Field(default=None, max_length=60)
    roles: str = Field(default="handler", max_length=100)  # comma-separated
    active: bool = True
    see_phone: bool = False
    aliases: str = ""  # comma-separated


class IdentityRow(SQLModel, table=True):
    """A chat identity linked to a staff member, or a group chat linked as the managers' group."""

    __tablename__ = "identities"

    channel: str = Field(primary_key=True, max_length=20)
    address: str = Field(primary_key=True, max_length=120)
    staff_id: str | None = Field(default=None, max_length=60, index=True)
    role: str = Field(default="staff", max_length=20)  # staff | managers_group
    reachable: bool = True
    linked_at: datetime | None = _ts()


class InviteRow(SQLModel, table=True):
    __tablename__ = "invites"

    code: str = Field(primary_key=True, max_length=40)
    staff_id: str | None = Field(default=None, max_length=60)
    role: str = Field(default="staff", max_length=20)
    created_at: datetime | None = _ts()
    used_at: datetime | None = _ts()
    used_by: str | None = Field(default=None, max_length=160)


class MetaRow(SQLModel, table=True):
    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=60)
    value: str
