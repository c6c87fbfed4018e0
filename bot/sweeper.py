"""Runs the timeline sweep: every case whose next step is due, each in its own transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.digests import Digests
from core.cases.service import CaseService, DomainError
from core.clock import Clock
from storage.uow import SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    cases: int = 0
    steps: int = 0
    skipped: int = 0
    digests: int = 0


class Sweeper:
    def __init__(self, uow_factory: Callable[[], SqlUnitOfWork], service: CaseService,
                 clock: Clock, digests: Digests | None = None) -> None:
        self.uow_factory = uow_factory
        self.service = service
        self.clock = clock
        self.digests = digests

    def run_digests(self) -> int:
        """Write the digests whose time has come (each once per period)."""
        if self.digests is None:
            return 0
        with self.uow_factory() as uow:
            written = self.digests.run(uow)
            uow.commit()
        return written

    def run_once(self, batch: int = 1000, digests: bool = True) -> SweepReport:
        """Do everything due at the clock's `now` (the case timeline, and the digests unless
        `digests=False`: `tousu serve` runs them as a job of their own). Running it again, or
        in another process at the same time, repeats nothing."""
        report = SweepReport()
        now = self.clock.now()
        if digests:
            report.digests = self.run_digests()
        seen: set[str] = set()
        while True:
            with self.uow_factory() as uow:
                numbers = [n for n in uow.cases.due_for_check(now, batch) if n not in seen]
            seen.update(numbers)
            progressed = 0
            for number in numbers:
                with self.uow_factory() as uow:
                    if not uow.cases.claim_for_sweep(number, now):
                        report.skipped += 1
                        continue
                    try:
                        steps = self.service.sweep_case(uow, number)
                    except DomainError as err:  # e.g. nobody left to escalate to
                        log.warning("sweep of %s: %s", number, err.code)
                        uow.rollback()
                        continue
                    uow.commit()
                    report.cases += 1
                    report.steps += steps
                    progressed += 1
            if not numbers or progressed == 0:
                return report
