"""One unit of work per inbound message: cases, events, dialog state and outbox commit together."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from core.cases.model import Case
from core.cases.notices import Notice, notices_for
from storage.outbox import add_outbox
from storage.repositories import (
    SqlCaseRepository,
    SqlDialogRepository,
    SqlDirectory,
    SqlMarks,
)

NoticeHandler = Callable[["SqlUnitOfWork", Case, Notice], None]


class SqlUnitOfWork:
    cases: SqlCaseRepository
    dialogs: SqlDialogRepository
    directory: SqlDirectory
    marks: SqlMarks
    session: Session

    def __init__(self, engine: Engine, notice_handler: NoticeHandler | None = None,
                 case_hook: Callable[[Case], None] | None = None) -> None:
        self.engine = engine
        self.notice_handler = notice_handler
        self.case_hook = case_hook  # e.g. recompute when the next sweep should look at it

    def __enter__(self) -> SqlUnitOfWork:
        self.session = Session(self.engine, expire_on_commit=False)
        self.cases = SqlCaseRepository(self.session)
        self.dialogs = SqlDialogRepository(self.session)
        self.directory = SqlDirectory(self.session)
        self.marks = SqlMarks(self.session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.session.rollback()
        self.session.close()

    def add_outbox(self, *, dedupe_key: str, channel: str, recipient: str, kind: str,
                   payload: dict[str, Any], now: datetime, case_number: str | None = None) -> bool:
        return add_outbox(self.session, dedupe_key=dedupe_key, channel=channel,
                          recipient=recipient, kind=kind, payload=payload, now=now,
                          case_number=case_number)

    def commit(self) -> None:
        """Turn new events into outbox rows, store the events, commit once."""
        touched = [c for c in self.cases.touched.values() if c.new_events]
        if self.case_hook is not None:
            for case in touched:
                self.case_hook(case)
        if self.notice_handler is not None:
            for case in touched:
                for event in case.new_events:
                    for notice in notices_for(case, event):
                        self.notice_handler(self, case, notice)
        self.cases.flush_events()
        self.session.commit()
        for case in touched:
            case.events.extend(case.new_events)
            case.new_events.clear()

    def rollback(self) -> None:
        self.session.rollback()
        for case in self.cases.touched.values():
            case.new_events.clear()
        self.cases.touched.clear()
