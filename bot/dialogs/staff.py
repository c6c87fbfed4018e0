"""Staff and managers: case lists, actions on a case, extension decisions, groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.dialogs.flows import FLOWS, STAFF_ACTIONS, Flow, Step
from bot.dialogs.mixin import EngineMixin
from bot.dialogs.turn import Turn
from bot.dialogs.types import Attachment, Choice
from bot.dialogs.validation import InputError, parse_when
from core.cases.model import Case, Outcome
from core.cases.service import ROOT_CAUSES, DomainError
from core.pack import Role


class StaffActions(EngineMixin):
    def finish_progress(self, turn: Turn) -> None:
        number, text = str(turn.data["case"]), str(turn.data["text"])
        self._clear(turn)
        case = self.service.progress(turn.uow, number, self._sid(turn), text)
        self._done(turn, case, "staff.done_progress")

    def finish_ask(self, turn: Turn) -> None:
        number, text = str(turn.data["case"]), str(turn.data["text"])
        self._clear(turn)
        case = self.service.ask_complainant(turn.uow, number, self._sid(turn), text)
        self._done(turn, case, "staff.done_ask")

    def finish_transfer(self, turn: Turn) -> None:
        number = str(turn.data["case"])
        dept, reason = str(turn.data["department"]), str(turn.data["reason"])
        self._clear(turn)
        case = self.service.transfer(turn.uow, number, self._sid(turn), dept, reason)
        turn.say(self.t(turn, "staff.done_transfer", number=number,
                        department=self.render.department_name(dept, turn.lang),
                        handler=self.render.staff_name(case.handler)))

    def finish_extend(self, turn: Turn) -> None:
        number = str(turn.data["case"])
        days, reason = int(turn.data["days"]), str(turn.data["reason"])
        self._clear(turn)
        case = self.service.request_extension(turn.uow, number, self._sid(turn), days, reason)
        self._done(turn, case, "staff.done_extend", days=days)

    def finish_resolve(self, turn: Turn) -> None:
        number = str(turn.data["case"])
        outcome, text = Outcome(turn.data["outcome"]), str(turn.data["text"])
        self._clear(turn)
        self.service.resolve(turn.uow, number, self._sid(turn), outcome, text)
        turn.say(self.t(turn, "staff.done_resolve", number=number, outcome=outcome.value))
        turn.say(self.t(turn, "staff.ask_cause", number=number),
                 [Choice(f"cause:{number}:{c}", self.t(turn, f"cause.{c}"))
                  for c in ROOT_CAUSES])

    def finish_promise(self, turn: Turn) -> None:
        number = str(turn.data["case"])
        by = datetime.fromisoformat(str(turn.data["when"]))
        self._clear(turn)
        case = self.service.promise(turn.uow, number, self._sid(turn), by)
        self._done(turn, case, "staff.done_promise", when=self.render.when(by, turn.lang))

    def finish_not_accept(self, turn: Turn) -> None:
        number, reason = str(turn.data["case"]), str(turn.data["reason"])
        self._clear(turn)
        self.service.not_accept(turn.uow, number, self._sid(turn), reason)
        turn.say(self.t(turn, "staff.done_not_accept", number=number))

    def finish_refuse_extension(self, turn: Turn) -> None:
        number, request = str(turn.data["case"]), int(turn.data["request"])
        reason = str(turn.data["reason"])
        self._clear(turn)
        self.service.decide_extension(turn.uow, number, self._sid(turn), request, False,
                                      reason)
        turn.say(self.t(turn, "manager.refused", number=number))

    def _done(self, turn: Turn, case: Case, key: str, **params: Any) -> None:
        """Confirm a staff action and offer the next actions on the same case."""
        choices: tuple[Choice, ...] = ()
        if case.is_open and case.handler == turn.staff_id:
            choices = tuple(c for c in self.render.action_choices(case, turn.lang)
                            if not c.key.startswith("act:accept:"))
        turn.say(self.t(turn, key, number=case.number, **params), choices)

    @staticmethod
    def _sid(turn: Turn) -> str:
        if turn.staff_id is None:
            raise DomainError("error.staff_only")
        return turn.staff_id

    def _staff_idle(self, turn: Turn, greet: bool = False) -> None:
        sid = self._sid(turn)
        rows = turn.uow.cases.list_rows(handler=sid, open_only=True, limit=30)
        cases = turn.uow.cases.load_many(rows)
        if greet:
            turn.say(self.t(turn, "staff.welcome", name=self.render.staff_name(sid)))
        if not cases:
            turn.say(self.t(turn, "staff.no_cases"))
            return
        choices = [Choice(f"case:{c.number}", f"{c.number} {c.tier.value} "
                          f"{self.render.status(c.status.value, turn.lang)}") for c in cases]
        turn.say(self.t(turn, "staff.your_cases", count=len(cases)), choices)

    def _show_case(self, turn: Turn, number: str) -> None:
        sid = self._sid(turn)
        case = turn.uow.cases.get(number)
        if case is None:
            raise DomainError("error.no_such_case", number=number)
        if sid == case.target_staff:
            raise DomainError("error.recused", number=number)
        turn.say(self.render.card(case, sid, turn.lang), self.render.action_choices(case,
                                                                                     turn.lang))

    def _staff_action(self, turn: Turn, verb: str, number: str) -> None:
        sid = self._sid(turn)
        case = turn.uow.cases.get(number)
        if case is None:
            raise DomainError("error.no_such_case", number=number)
        flow_id = next((f for v, _k, f in STAFF_ACTIONS if v == verb), "missing")
        if flow_id == "missing":
            turn.say(self.t(turn, "invalid.choose"))
            return
        self.service._check_staff(case, sid)
        if verb == "accept":
            self.service.accept(turn.uow, number, sid)
            self._done(turn, case, "staff.done_accept",
                       due=self.render.when(case.due_resolution, turn.lang))
        elif verb == "evidence":
            if not case.evidence:
                turn.say(self.t(turn, "staff.no_evidence", number=number))
            for e in case.evidence:
                turn.say(self.t(turn, "staff.evidence_item", kind=e.kind, name=e.name or e.ref,
                                ref=e.ref), attachments=[Attachment(e.kind, e.ref, e.name)])
        else:
            assert flow_id is not None
            self._enter(turn, FLOWS[flow_id], case=number, current_department=case.department)

    def _is_manager(self, turn: Turn) -> bool:
        member = self.pack.member(turn.staff_id) if turn.staff_id else None
        return member is not None and bool({Role.MANAGER, Role.DIRECTOR} & member.roles)

    def _manager_choice(self, turn: Turn, rest: str) -> None:
        """mgr:ext:<number>:<request>:ok|no — an extension decision from a manager."""
        sid = turn.staff_id
        member = self.pack.member(sid) if sid else None
        if member is None or not ({Role.MANAGER, Role.DIRECTOR} & member.roles):
            turn.say(self.t(turn, "error.managers_only"))
            return
        parts = rest.split(":")
        if len(parts) != 4 or parts[0] != "ext" or not parts[2].isdigit():
            turn.say(self.t(turn, "invalid.choose"))
            return
        _, number, request, decision = parts
        if decision == "ok":
            case = self.service.decide_extension(turn.uow, number, member.id, int(request), True)
            turn.say(self.t(turn, "manager.approved", number=number,
                            due=self.render.when(case.due_resolution, turn.lang)))
        else:
            pending = turn.uow.cases.get(number)
            if pending is None or self.service.pending_extension(pending) is None:
                raise DomainError("error.no_pending_extension", number=number)
            self._enter(turn, FLOWS["refuse_extension"], case=number, request=int(request))

    def _group(self, turn: Turn, choice: str | None) -> None:
        """In a group chat only manager buttons act; other messages are ignored politely."""
        flow = FLOWS.get(turn.state.flow or "")
        if choice and choice.startswith("mgr:"):
            self._manager_choice(turn, choice[4:])
        elif choice and choice.startswith("ack:") and self._is_manager(turn):
            self._global_choice(turn, choice)
        elif flow is not None and flow.staff_only and turn.staff_id:
            self._step(turn, flow, choice)
        elif choice:
            turn.say(self.t(turn, "error.managers_only"))

    def _answer_when(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        if choice and choice.startswith("when:"):
            turn.data[step.id] = choice[5:]
            return True
        if choice is not None:
            raise InputError("invalid.choose")
        at = parse_when(turn.inbound.text, turn.now, self.service.calendar)
        if at <= turn.now:
            raise InputError("invalid.when_past")
        turn.data[step.id] = at.isoformat()
        return True

    def _answer_department(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        ids = {d.id for d in self.pack.departments}
        dept = choice[5:] if choice and choice.startswith("dept:") else None
        if dept is None and turn.inbound.text:
            text = turn.inbound.text.strip()
            dept = next((d.id for d in self.pack.departments
                         if text in (d.id, d.name, d.name_en, *d.aliases)), None)
        if dept not in ids:
            raise InputError("invalid.choose")
        turn.data[step.id] = dept
        return True
