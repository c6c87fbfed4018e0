"""What time does to a case: reminders, escalations, tiers by age, revisit and closing.

A case's timeline is a list of milestones, each with a unique key and a moment. A sweep
performs the milestones whose moment has come and whose key is not yet recorded in the
case's events, so running it twice, or in two processes, does each step once. The earliest
pending moment is stored on the case (`next_check_at`, indexed) so a sweep only reads the
cases that have something due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.cases.model import Case, Status, Tier
from core.cases.workcal import WorkingCalendar
from core.pack import Pack

WEEK = timedelta(days=7)
MONTH = timedelta(days=30)
SURVEY_REMINDER_AFTER = timedelta(days=3)


@dataclass(frozen=True)
class Milestone:
    key: str
    at: datetime
    action: str  # reminder | escalate | tier | survey | survey_reminder | close | major_report
    params: tuple[tuple[str, object], ...] = ()

    def param(self, name: str) -> object:
        return dict(self.params).get(name)


def done_keys(case: Case) -> set[str]:
    return {str(e.data["key"]) for e in case.history() if "key" in e.data}


def _between(start: datetime, due: datetime, percent: int) -> datetime:
    return start + (due - start) * (percent / 100)


def _clock_start(case: Case) -> datetime:
    """When the current handling round started (registration or the last reopening)."""
    reopened = [e.at for e in case.history() if e.type == "reopened"]
    return reopened[-1] if reopened else case.received_at


def needs_survey(case: Case) -> bool:
    """Anonymous and unreachable complainants get no revisit (DOMAIN.md §5)."""
    return not case.complainant.anonymous and case.complainant.reachable


def milestones(case: Case, pack: Pack, calendar: WorkingCalendar) -> list[Milestone]:
    out: list[Milestone] = []
    if case.status in (Status.CLOSED, Status.NOT_ACCEPTED, Status.WITHDRAWN, Status.MERGED):
        return out
    if case.status == Status.RESOLVED:
        return _after_resolution(case, pack, calendar)
    start = _clock_start(case)
    rnd = case.reopen_count
    if case.first_response_at is None and case.due_first_response is not None:
        for p in pack.reminders:
            out.append(Milestone(f"r{rnd}:first:{p}", _between(start, case.due_first_response, p),
                                 "reminder", (("percent", p), ("deadline", "first_response"))))
    if case.due_resolution is not None and case.status != Status.WAITING:
        due = case.due_resolution
        ext = sum(1 for e in case.history() if e.type == "extension_approved")
        for p in pack.reminders:
            out.append(Milestone(f"r{rnd}.{ext}:res:{p}", _between(start, due, p), "reminder",
                                 (("percent", p), ("deadline", "resolution"))))
        for step in pack.escalation:
            out.append(Milestone(f"r{rnd}.{ext}:esc:{step.percent}",
                                 _between(start, due, step.percent), "escalate",
                                 (("percent", step.percent), ("to", step.to))))
    out.append(Milestone("tier:week", case.received_at + WEEK, "tier",
                         (("tier", Tier.HOT.value), ("reason", "unresolved after one week"))))
    out.append(Milestone("tier:month", case.received_at + MONTH, "tier",
                         (("tier", Tier.MAJOR.value), ("reason", "unresolved after one month"))))
    out.extend(_promises(case))
    became_major = next((e.at for e in case.history() if e.type == "tier_raised"
                         and e.data.get("to") == Tier.MAJOR.value), None)
    if case.tier == Tier.MAJOR and became_major is not None:
        n = 1 + sum(1 for e in case.history() if e.type == "major_report")
        out.append(Milestone(f"major:{n}", became_major + WEEK * n, "major_report",
                             (("week", n),)))
    return out


REPLY_EVENTS = frozenset({"progress", "resolved", "asked_complainant"})


def _promises(case: Case) -> list[Milestone]:
    """The latest promised reply time, unless a reply to the complainant followed it."""
    history = case.history()
    promised = [e for e in history if e.type == "promised"]
    if not promised:
        return []
    last = promised[-1]
    if any(e.seq > last.seq and e.type in REPLY_EVENTS for e in history):
        return []
    due = datetime.fromisoformat(str(last.data["due"]))
    return [Milestone(f"promise:{last.seq}", due, "promise_due", (("promised", last.seq),))]


def _after_resolution(case: Case, pack: Pack, calendar: WorkingCalendar) -> list[Milestone]:
    assert case.resolved_at is not None
    rnd = case.reopen_count
    window = timedelta(days=pack.revisit_window_days)
    if not needs_survey(case):
        return [Milestone(f"r{rnd}:close", case.resolved_at + window, "close",
                          (("reason", "no revisit needed and no new complaint"),))]
    sent = next((e.at for e in reversed(case.history()) if e.type == "survey_sent"
                 and e.data.get("round", 0) == rnd), None)
    if sent is None:
        return [Milestone(f"r{rnd}:survey", calendar.add(case.resolved_at, pack.revisit_delay),
                          "survey")]
    return [
        Milestone(f"r{rnd}:survey_reminder", sent + SURVEY_REMINDER_AFTER, "survey_reminder"),
        Milestone(f"r{rnd}:close", sent + window, "close",
                  (("reason", "no answer to the revisit"),)),
    ]


def due_milestones(case: Case, pack: Pack, calendar: WorkingCalendar,
                   now: datetime) -> list[Milestone]:
    return sorted((m for m in _pending(case, pack, calendar) if m.at <= now),
                  key=lambda m: m.at)


def _pending(case: Case, pack: Pack, calendar: WorkingCalendar) -> list[Milestone]:
    done = done_keys(case)
    rank = case.tier.rank
    return [m for m in milestones(case, pack, calendar) if m.key not in done
            and not (m.action == "tier" and Tier(str(m.param("tier"))).rank <= rank)]


def next_check(case: Case, pack: Pack, calendar: WorkingCalendar,
               now: datetime) -> datetime | None:
    """The earliest pending milestone (never before `now`), or None when nothing is left."""
    pending = [m.at for m in _pending(case, pack, calendar)]
    return max(min(pending), now) if pending else None
