"""The outbox: notifications written in the same transaction as the change that causes them.

Delivery is at-least-once; each row's unique dedupe key (case, event, recipient) means one
event never yields two rows for the same recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine, or_, select
from sqlmodel import Session, col

from storage.mappers import aware
from storage.repositories import upsert_ignore
from storage.tables import OutboxRow


@dataclass(frozen=True)
class ClaimedRow:
    id: int
    channel: str
    recipient: str
    kind: str
    case_number: str | None
    payload: dict[str, Any]
    attempts: int


def add_outbox(session: Session, *, dedupe_key: str, channel: str, recipient: str, kind: str,
               payload: dict[str, Any], now: datetime, case_number: str | None = None) -> bool:
    return upsert_ignore(session, OutboxRow.__table__, {
        "dedupe_key": dedupe_key, "channel": channel, "recipient": recipient, "kind": kind,
        "case_number": case_number, "payload": payload, "status": "pending", "attempts": 0,
        "next_attempt_at": now.astimezone(timezone.utc), "created_at": now.astimezone(timezone.utc),
    })


class OutboxStore:
    """Claims and settles outbox rows; safe with several dispatchers on one database."""

    def __init__(self, engine: Engine, lease: timedelta = timedelta(seconds=60)) -> None:
        self.engine = engine
        self.lease = lease

    def claim(self, now: datetime, channels: list[str], limit: int = 50,
              recipient: str | None = None) -> list[ClaimedRow]:
        now_utc = now.astimezone(timezone.utc)
        with Session(self.engine) as session:
            q = (select(OutboxRow)
                 .where(col(OutboxRow.status) == "pending",
                        col(OutboxRow.channel).in_(channels),
                        col(OutboxRow.next_attempt_at) <= now_utc,
                        or_(col(OutboxRow.claimed_until).is_(None),
                            col(OutboxRow.claimed_until) <= now_utc))
                 .order_by(col(OutboxRow.id)).limit(limit))
            if recipient is not None:
                q = q.where(col(OutboxRow.recipient) == recipient)
            if self.engine.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)
            rows = list(session.scalars(q))
            claimed = []
            for row in rows:
                row.claimed_until = now_utc + self.lease
                assert row.id is not None
                claimed.append(ClaimedRow(row.id, row.channel, row.recipient, row.kind,
                                          row.case_number, dict(row.payload), row.attempts))
            session.commit()
            return claimed

    def mark_sent(self, row_id: int, now: datetime) -> None:
        with Session(self.engine) as session:
            row = session.get(OutboxRow, row_id)
            if row is not None:
                row.status = "sent"
                row.sent_at = now.astimezone(timezone.utc)
                row.claimed_until = None
                row.attempts += 1
                session.commit()

    def mark_failed(self, row_id: int, now: datetime, error: str,
                    retry_at: datetime | None) -> None:
        """Schedule a retry at `retry_at`, or dead-letter the row when it is None."""
        with Session(self.engine) as session:
            row = session.get(OutboxRow, row_id)
            if row is not None:
                row.attempts += 1
                row.last_error = error[:500]
                row.claimed_until = None
                if retry_at is None:
                    row.status = "dead"
                else:
                    row.next_attempt_at = retry_at.astimezone(timezone.utc)
                session.commit()

    def pending_count(self) -> int:
        with Session(self.engine) as session:
            return len(list(session.scalars(
                select(OutboxRow.id).where(col(OutboxRow.status) == "pending"))))

    def rows(self, channel: str | None = None) -> list[OutboxRow]:
        with Session(self.engine) as session:
            q = select(OutboxRow).order_by(col(OutboxRow.id))
            if channel:
                q = q.where(col(OutboxRow.channel) == channel)
            out = list(session.scalars(q))
            for r in out:
                r.next_attempt_at = aware(r.next_attempt_at)
            return out
