"""One function per state change (Zulip's `actions`): each loads, checks, changes, records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.cases.deadlines import compute_due, extend
from core.cases.model import (
    Case,
    Complainant,
    Event,
    Evidence,
    Kind,
    Outcome,
    Satisfaction,
    Status,
    Tier,
)
from core.cases.numbering import format_number, numbering_scope
from core.cases.ports import UnitOfWork
from core.cases.timeline import Milestone, due_milestones, next_check
from core.cases.workcal import WorkingCalendar
from core.clock import Clock
from core.pack import Duration, Pack, Unit
from core.routing.assign import holder_of_level, level_up, may_act_on, pick_handler

ROOT_CAUSES = ("人", "机", "料", "法", "环")  # people, machines, materials, methods, environment
ALERT_EVENTS = frozenset({"reminder", "escalated", "tier_raised", "major_report",
                          "promise_missed", "reopened"})


class DomainError(Exception):
    """A refused action, with a catalogue key the dialog layer renders for the user."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class TierSignal:
    tier: Tier
    reason: str


@dataclass
class Intake:
    """What the intake dialog collected."""

    channel: str
    user_id: str
    name: str | None
    contact: str | None
    anonymous: bool
    target: str
    grievance: str
    request: str
    language: str = "zh-CN"
    kind: Kind = Kind.COMPLAINT
    category: str | None = None
    department: str | None = None
    target_staff: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    signals: list[TierSignal] = field(default_factory=list)
    classification: dict[str, object] = field(default_factory=dict)


class CaseService:
    def __init__(self, pack: Pack, calendar: WorkingCalendar, clock: Clock) -> None:
        self.pack = pack
        self.calendar = calendar
        self.clock = clock

    # -- helpers -------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.clock.now()

    def _load(self, uow: UnitOfWork, number: str) -> Case:
        case = uow.cases.get(number)
        if case is None:
            raise DomainError("error.no_such_case", number=number)
        return case

    def _check_staff(self, case: Case, staff_id: str) -> None:
        if staff_id == case.target_staff:
            raise DomainError("error.recused", number=case.number)
        if not may_act_on(self.pack, staff_id, case.handler, case.target_staff):
            raise DomainError("error.not_your_case", number=case.number)

    def _compute_due(self, case: Case) -> None:
        due = compute_due(self.pack.sla, self.calendar, case.received_at, case.category,
                          case.tier.value)
        case.due_first_response = due.first_response
        case.due_resolution = due.resolution

    def _assign(self, uow: UnitOfWork, case: Case, reason: str, actor: str,
                exclude: tuple[str, ...] = ()) -> None:
        excluded = {*exclude, *([case.target_staff] if case.target_staff else [])}
        handler: str | None = None
        if case.level == 0 and case.department:
            handler = pick_handler(
                self.pack, case.department, exclude=excluded,
                loads=uow.cases.open_loads(case.department),
                last_assigned=uow.cases.last_assigned(case.department),
            )
        if handler is None:
            case.level, handler = level_up(self.pack, case.department, max(case.level - 1, 0)
                                           if case.level else 0, excluded)
        if handler is None:
            raise DomainError("error.no_handler", department=case.department or "")
        case.handler = handler
        case.move(Status.ASSIGNED, self._now(), actor, "assigned", handler=handler,
                  department=case.department, level=case.level, reason=reason)

    # -- intake --------------------------------------------------------------------------

    def register(self, uow: UnitOfWork, intake: Intake) -> Case:
        """Number, time-stamp, classify, route and assign a new case, in one unit of work."""
        now = self._now()
        scope = numbering_scope(self.pack.numbering_reset, now, self.pack.timezone)
        serial = uow.cases.next_serial(scope)
        number = format_number(self.pack.numbering, now, serial, self.pack.timezone)
        complainant = Complainant(
            name=None if intake.anonymous else intake.name,
            contact=None if intake.anonymous else intake.contact,
            anonymous=intake.anonymous, channel=intake.channel, user_id=intake.user_id,
            language=intake.language,
        )
        department = intake.department
        if department is None and intake.category:
            cat = self.pack.category(intake.category)
            department = cat.department if cat else None
        case = Case(
            number=number, kind=intake.kind, complainant=complainant, target=intake.target,
            grievance=intake.grievance, request=intake.request, received_at=now,
            channel=intake.channel, category=intake.category, department=department,
            target_staff=intake.target_staff, evidence=list(intake.evidence),
        )
        case.record("registered", now, "complainant", channel=intake.channel,
                    category=intake.category, department=department,
                    anonymous=intake.anonymous, classification=intake.classification)
        for signal in intake.signals:
            case.raise_tier(signal.tier, now, "system", signal.reason)
        self._compute_due(case)
        self._assign(uow, case, "registered", "system")
        uow.cases.add(case)
        return case

    # -- handler actions -----------------------------------------------------------------

    def accept(self, uow: UnitOfWork, number: str, staff_id: str) -> Case:
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        case.move(Status.ACCEPTED, self._now(), f"staff:{staff_id}", "accepted")
        self._first_response(case)
        uow.cases.save(case)
        return case

    def _first_response(self, case: Case) -> None:
        if case.first_response_at is None:
            case.first_response_at = self._now()

    def _ensure_accepted(self, case: Case, staff_id: str) -> None:
        if case.status in (Status.ASSIGNED,):
            case.move(Status.ACCEPTED, self._now(), f"staff:{staff_id}", "accepted")
            self._first_response(case)

    def progress(self, uow: UnitOfWork, number: str, staff_id: str, text: str) -> Case:
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        self._ensure_accepted(case, staff_id)
        if case.status == Status.WAITING:
            self._resume(case)
        case.move(Status.IN_PROGRESS, self._now(), f"staff:{staff_id}", "progress", text=text)
        uow.cases.save(case)
        return case

    def ask_complainant(self, uow: UnitOfWork, number: str, staff_id: str, text: str) -> Case:
        """Ask the complainant for more; the resolution clock pauses until they answer."""
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        self._ensure_accepted(case, staff_id)
        if case.status == Status.WAITING:
            case.record("asked_complainant", self._now(), f"staff:{staff_id}", text=text)
        else:
            case.move(Status.WAITING, self._now(), f"staff:{staff_id}", "asked_complainant",
                      text=text)
            case.paused_at = self._now()
        uow.cases.save(case)
        return case

    def _resume(self, case: Case) -> timedelta:
        """Restart the resolution clock, moving the deadline by the working time spent waiting."""
        paused = timedelta(0)
        if case.paused_at is not None and case.due_resolution is not None:
            paused = self.calendar.working_time_between(case.paused_at, self._now())
            case.due_resolution = self.calendar.add_working_time(case.due_resolution, paused)
        case.paused_at = None
        return paused

    def complainant_answer(self, uow: UnitOfWork, number: str, text: str,
                           evidence: list[Evidence] | None = None) -> Case:
        case = self._load(uow, number)
        if evidence:
            case.evidence.extend(evidence)
        if case.status == Status.WAITING:
            paused = self._resume(case)
            case.move(Status.IN_PROGRESS, self._now(), "complainant", "complainant_answered",
                      text=text, paused_seconds=int(paused.total_seconds()),
                      evidence=[e.ref for e in evidence or []])
        else:
            case.record("complainant_answered", self._now(), "complainant", text=text,
                        evidence=[e.ref for e in evidence or []])
        uow.cases.save(case)
        return case

    def transfer(self, uow: UnitOfWork, number: str, staff_id: str, department: str,
                 reason: str) -> Case:
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        if self.pack.department(department) is None:
            raise DomainError("error.no_such_department", department=department)
        if department == case.department:
            raise DomainError("error.same_department", department=department)
        if not reason.strip():
            raise DomainError("error.reason_required")
        previous = case.department
        case.department = department
        case.level = 0
        case.paused_at = None
        case.record("transferred", self._now(), f"staff:{staff_id}",
                    **{"from": previous, "to": department}, reason=reason)
        self._assign(uow, case, "transfer", f"staff:{staff_id}")
        uow.cases.save(case)
        return case

    def request_extension(self, uow: UnitOfWork, number: str, staff_id: str, days: int,
                          reason: str) -> Case:
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        if not case.is_open or case.status in (Status.REGISTERED,):
            raise DomainError("error.not_open", number=number)
        if not 1 <= days <= 60:
            raise DomainError("error.extension_days")
        if not reason.strip():
            raise DomainError("error.reason_required")
        if self.pending_extension(case) is not None:
            raise DomainError("error.extension_pending", number=number)
        request = sum(1 for e in case.history() if e.type == "extension_requested") + 1
        case.record("extension_requested", self._now(), f"staff:{staff_id}", request=request,
                    days=days, reason=reason, by=staff_id)
        uow.cases.save(case)
        return case

    @staticmethod
    def pending_extension(case: Case) -> Event | None:
        decided = {e.data.get("request") for e in case.history()
                   if e.type in ("extension_approved", "extension_refused")}
        return next((e for e in case.history() if e.type == "extension_requested"
                     and e.data.get("request") not in decided), None)

    def decide_extension(self, uow: UnitOfWork, number: str, manager_id: str, request: int,
                         approve: bool, reason: str = "") -> Case:
        case = self._load(uow, number)
        member = self.pack.member(manager_id)
        if member is None or not ({"manager", "director"} & {r.value for r in member.roles}):
            raise DomainError("error.managers_only")
        if manager_id == case.target_staff:
            raise DomainError("error.recused", number=number)
        pending = self.pending_extension(case)
        if pending is None or pending.data.get("request") != request:
            raise DomainError("error.no_pending_extension", number=number)
        actor = f"staff:{manager_id}"
        if approve:
            days = int(pending.data.get("days", 0))
            assert case.due_resolution is not None
            case.due_resolution = extend(case.due_resolution, self.calendar,
                                         Duration(days, Unit.WORKING_DAYS))
            case.record("extension_approved", self._now(), actor, request=request,
                        approver=manager_id, days=days, reason=pending.data.get("reason", ""),
                        due=case.due_resolution.isoformat())
        else:
            if not reason.strip():
                raise DomainError("error.reason_required")
            case.record("extension_refused", self._now(), actor, request=request,
                        approver=manager_id, reason=reason)
        uow.cases.save(case)
        return case

    def resolve(self, uow: UnitOfWork, number: str, staff_id: str, outcome: Outcome,
                text: str) -> Case:
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        if not text.strip():
            raise DomainError("error.reply_required")
        self._ensure_accepted(case, staff_id)
        if case.status == Status.WAITING:
            self._resume(case)
        now = self._now()
        case.move(Status.RESOLVED, now, f"staff:{staff_id}", "resolved", outcome=outcome.value,
                  text=text)
        case.outcome = outcome
        case.resolution = text
        case.resolved_at = now
        uow.cases.save(case)
        return case

    def promise(self, uow: UnitOfWork, number: str, staff_id: str, by: datetime) -> Case:
        """A promised reply time ("I'll reply by Friday") is a deadline too (DOMAIN.md §4)."""
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        if not case.is_open:
            raise DomainError("error.not_open", number=number)
        if by <= self._now():
            raise DomainError("error.promise_past")
        self._ensure_accepted(case, staff_id)
        case.record("promised", self._now(), f"staff:{staff_id}", due=by.isoformat())
        uow.cases.save(case)
        return case

    def acknowledge(self, uow: UnitOfWork, number: str, staff_id: str, seq: int) -> bool:
        """Acknowledge an alert (reminder, escalation); False if already acknowledged."""
        case = self._load(uow, number)
        if staff_id == case.target_staff:
            raise DomainError("error.recused", number=number)
        if not any(e.seq == seq and e.type in ALERT_EVENTS for e in case.history()):
            raise DomainError("error.no_such_alert", number=number)
        if any(e.type == "acknowledged" and e.data.get("event") == seq
               and e.actor == f"staff:{staff_id}" for e in case.history()):
            return False
        case.record("acknowledged", self._now(), f"staff:{staff_id}", event=seq)
        uow.cases.save(case)
        return True

    def record_cause(self, uow: UnitOfWork, number: str, staff_id: str, cause: str) -> Case:
        """Root cause of a handled case (人 / 机 / 料 / 法 / 环, DOMAIN.md §6); the latest
        recorded cause counts."""
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        if cause not in ROOT_CAUSES:
            raise DomainError("error.bad_cause")
        if case.status not in (Status.RESOLVED, Status.CLOSED):
            raise DomainError("error.not_resolved", number=number)
        case.record("root_cause", self._now(), f"staff:{staff_id}", cause=cause)
        uow.cases.save(case)
        return case

    def not_accept(self, uow: UnitOfWork, number: str, staff_id: str, reason: str) -> Case:
        case = self._load(uow, number)
        self._check_staff(case, staff_id)
        if not reason.strip():
            raise DomainError("error.reason_required")
        case.move(Status.NOT_ACCEPTED, self._now(), f"staff:{staff_id}", "not_accepted",
                  reason=reason)
        case.closed_at = self._now()
        uow.cases.save(case)
        return case

    def merge(self, uow: UnitOfWork, number: str, into: str, staff_id: str,
              reason: str) -> Case:
        """Fold a case into another about the same matter (DOMAIN.md §2: counted once, with
        the number of complainants); the merged case keeps its history and points at `into`."""
        case, target = self._load(uow, number), self._load(uow, into)
        member = self.pack.member(staff_id)
        if member is None or not ({"manager", "director"} & {r.value for r in member.roles}):
            raise DomainError("error.managers_only")
        if number == into or not target.is_open:
            raise DomainError("error.bad_merge", number=number, into=into)
        now = self._now()
        case.merged_into = into
        case.move(Status.MERGED, now, f"staff:{staff_id}", "merged", into=into, reason=reason)
        case.closed_at = now
        target.complainants += case.complainants
        target.record("case_merged", now, f"staff:{staff_id}", other=number,
                      count=target.complainants, reason=reason)
        if target.complainants >= 10:
            target.raise_tier(Tier.MAJOR, now, "system", f"{target.complainants} complainants")
        elif target.complainants >= 3:
            target.raise_tier(Tier.HOT, now, "system", f"{target.complainants} complainants")
        uow.cases.save(case)
        uow.cases.save(target)
        return target

    # -- complainant actions -------------------------------------------------------------

    def withdraw(self, uow: UnitOfWork, number: str, reason: str = "") -> Case:
        case = self._load(uow, number)
        if not case.is_open:
            raise DomainError("error.not_open", number=number)
        case.move(Status.WITHDRAWN, self._now(), "complainant", "withdrawn", reason=reason)
        case.closed_at = self._now()
        uow.cases.save(case)
        return case

    # -- time-driven steps (sweeps) -------------------------------------------------------

    def apply_milestone(self, case: Case, m: Milestone) -> None:
        """Perform one due timeline step; the recorded key makes it happen once."""
        now = self._now()
        if m.action == "reminder":
            deadline = (case.due_first_response if m.param("deadline") == "first_response"
                        else case.due_resolution)
            case.record("reminder", now, "system", key=m.key, to=case.handler,
                        percent=m.param("percent"), deadline_kind=m.param("deadline"),
                        deadline=deadline.isoformat() if deadline else None)
        elif m.action == "escalate":
            to = str(m.param("to"))
            level = {"handler": 0, "head": 1, "managers": 2, "director": 3}[to]
            exclude = {x for x in (case.target_staff,) if x}
            staff = holder_of_level(self.pack, case.department, level, exclude) if level in (
                1, 3) else (case.handler if level == 0 else None)
            case.record("escalated", now, "system", key=m.key, percent=m.param("percent"),
                        to=to, staff=staff)
        elif m.action == "tier":
            case.raise_tier(Tier(str(m.param("tier"))), now, "system", str(m.param("reason")))
        elif m.action == "survey":
            case.record("survey_sent", now, "system", key=m.key, round=case.reopen_count)
        elif m.action == "survey_reminder":
            case.record("survey_reminder", now, "system", key=m.key)
        elif m.action == "close" and case.status == Status.RESOLVED:
            case.move(Status.CLOSED, now, "system", "closed", key=m.key,
                      reason=str(m.param("reason")))
            case.closed_at = now
        elif m.action == "promise_due":
            case.record("promise_missed", now, "system", key=m.key,
                        promised=m.param("promised"), to=case.handler)
        elif m.action == "major_report":
            case.record("major_report", now, "system", key=m.key, week=m.param("week"))

    def sweep_case(self, uow: UnitOfWork, number: str) -> int:
        """Apply every due milestone of one case and store when to look again."""
        case = self._load(uow, number)
        due = due_milestones(case, self.pack, self.calendar, self._now())
        for m in due:
            self.apply_milestone(case, m)
        self.refresh_next_check(case)
        uow.cases.save(case)
        return len(due)

    def refresh_next_check(self, case: Case) -> None:
        case.next_check_at = next_check(case, self.pack, self.calendar, self._now())

    def rate(self, uow: UnitOfWork, number: str, satisfaction: Satisfaction,
             reason: str = "") -> Case:
        """The revisit answer: satisfied closes; unsatisfied reopens one level up, tier >= 重要."""
        case = self._load(uow, number)
        if case.status != Status.RESOLVED:
            raise DomainError("error.not_awaiting_survey", number=number)
        now = self._now()
        case.satisfaction = satisfaction
        case.record("rated", now, "complainant", satisfaction=satisfaction.value, reason=reason)
        if satisfaction == Satisfaction.UNSATISFIED:
            self._reopen(uow, case, reason or satisfaction.value, "complainant")
        else:
            case.move(Status.CLOSED, now, "system", "closed", reason="satisfied")
            case.closed_at = now
        uow.cases.save(case)
        return case

    def _reopen(self, uow: UnitOfWork, case: Case, reason: str, actor: str) -> None:
        now = self._now()
        previous_handler = case.handler
        case.move(Status.REOPENED, now, actor, "reopened", reason=reason,
                  previous_handler=previous_handler)
        case.reopen_count += 1
        case.raise_tier(Tier.IMPORTANT, now, "system", "reopened")
        case.outcome = None
        case.resolution = None
        case.resolved_at = None
        case.closed_at = None
        excluded = tuple(x for x in (previous_handler,) if x)
        case.level, handler = level_up(self.pack, case.department, case.level,
                                       {*excluded, *([case.target_staff] if case.target_staff
                                                     else [])})
        if handler is None:
            raise DomainError("error.no_handler", department=case.department or "")
        case.handler = handler
        due = compute_due(self.pack.sla, self.calendar, now, case.category, case.tier.value)
        case.due_first_response = due.first_response
        case.due_resolution = due.resolution
        case.first_response_at = None
        case.move(Status.ASSIGNED, now, "system", "assigned", handler=handler,
                  department=case.department, level=case.level, reason="reopened")

    def recomplain(self, uow: UnitOfWork, number: str, text: str) -> Case:
        """A complaint about a closed case (二次投诉): reopen one level up, tier >= 重要."""
        case = self._load(uow, number)
        if case.status not in (Status.CLOSED, Status.RESOLVED):
            raise DomainError("error.not_closed", number=number)
        self._reopen(uow, case, text, "complainant")
        uow.cases.save(case)
        return case

    def close_quietly(self, uow: UnitOfWork, number: str, reason: str) -> Case:
        """Close a resolved case that needs no (or got no) revisit answer (DOMAIN.md §5)."""
        case = self._load(uow, number)
        if case.status == Status.RESOLVED:
            now = self._now()
            case.move(Status.CLOSED, now, "system", "closed", reason=reason)
            case.closed_at = now
            uow.cases.save(case)
        return case

    def mark_unreachable(self, uow: UnitOfWork, number: str, channel: str) -> Case:
        case = self._load(uow, number)
        if case.complainant.reachable:
            case.complainant.reachable = False
            case.record("recipient_unreachable", self._now(), "system", channel=channel)
            uow.cases.save(case)
        return case

    # -- links between complaints ------------------------------------------------------

    def add_complainant(self, uow: UnitOfWork, number: str, other: str) -> Case:
        """Count another complainant of the same matter; 3 → 热点, 10 → 重大 (DOMAIN.md §3)."""
        case = self._load(uow, number)
        case.complainants += 1
        now = self._now()
        case.record("complainant_joined", now, "system", other=other, count=case.complainants)
        if case.complainants >= 10:
            case.raise_tier(Tier.MAJOR, now, "system", f"{case.complainants} complainants")
        elif case.complainants >= 3:
            case.raise_tier(Tier.HOT, now, "system", f"{case.complainants} complainants")
        uow.cases.save(case)
        return case
