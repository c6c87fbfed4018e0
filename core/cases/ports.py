"""What core needs from storage. storage/ implements these; tests use in-memory fakes."""

from __future__ import annotations

from typing import Protocol

from core.cases.model import Case


class CaseRepository(Protocol):
    def add(self, case: Case) -> None:
        """Store a new case (its events included)."""
        ...

    def get(self, number: str) -> Case | None: ...

    def save(self, case: Case) -> None:
        """Persist changed fields and append the case's new events."""
        ...

    def next_serial(self, scope: str) -> int:
        """The next serial of a numbering scope (e.g. "2611"), unique under concurrency."""
        ...

    def open_loads(self, department: str) -> dict[str, int]:
        """Open cases per handler in a department."""
        ...

    def last_assigned(self, department: str) -> str | None:
        """The handler most recently given a case of this department."""
        ...



class UnitOfWork(Protocol):
    cases: CaseRepository

    def commit(self) -> None: ...
