"""Complainants outside the intake: their cases, messages to the handler, the survey,
withdrawing and complaining again."""

from __future__ import annotations

from datetime import timedelta

from bot.dialogs.flows import FLOWS
from bot.dialogs.mixin import EngineMixin
from bot.dialogs.turn import Turn
from bot.dialogs.types import Choice
from bot.dialogs.validation import InputError, clean_text
from core.cases.model import Case, Evidence, Satisfaction, Status
from core.cases.service import DomainError


class ComplainantActions(EngineMixin):
    def finish_survey_reason(self, turn: Turn) -> None:
        number = str(turn.data.get("case"))
        reason = str(turn.data.get("reason", ""))
        self._clear(turn)
        case = self.service.rate(turn.uow, number, Satisfaction.UNSATISFIED, reason)
        turn.say(self.t(turn, "survey.reopened", number=number,
                        due=self.render.when(case.due_resolution, turn.lang)))

    def finish_relay(self, turn: Turn) -> None:
        number = str(turn.data.get("case"))
        text = "\n".join(turn.data.get("text") or [])
        evidence = [Evidence(e["kind"], e["ref"], e.get("name"))
                    for e in turn.data.get("evidence") or []]
        self._clear(turn)
        self._own_case(turn, number)
        self.service.complainant_answer(turn.uow, number, text, evidence)
        turn.say(self.t(turn, "relay.sent", number=number))

    def finish_withdraw(self, turn: Turn) -> None:
        number, yes = str(turn.data["case"]), turn.data.get("confirm") == "yes"
        self._clear(turn)
        if not yes:
            turn.say(self.t(turn, "withdraw.kept", number=number))
            return
        self._own_case(turn, number)
        self.service.withdraw(turn.uow, number, "withdrawn by the complainant")
        turn.say(self.t(turn, "withdraw.done", number=number))

    def finish_recomplain(self, turn: Turn) -> None:
        number, text = str(turn.data["case"]), str(turn.data["text"])
        self._clear(turn)
        case = self.service.recomplain(turn.uow, number, text)
        turn.say(self.t(turn, "recomplain.done", number=number,
                        due=self.render.when(case.due_resolution, turn.lang)))

    def _own_case(self, turn: Turn, number: str) -> Case:
        case = turn.uow.cases.get(number)
        inbound = turn.inbound
        if case is None or (case.complainant.channel, case.complainant.user_id) != (
                inbound.channel, inbound.user_id):
            raise DomainError("error.no_such_case", number=number)
        return case

    def _complainant_cases(self, turn: Turn) -> list[Case]:
        rows = turn.uow.cases.list_rows(
            complainant=(turn.inbound.channel, turn.inbound.user_id), limit=20)
        return turn.uow.cases.load_many(rows)

    def _complainant_idle(self, turn: Turn) -> None:
        cases = self._complainant_cases(turn)
        waiting = next((c for c in cases if c.status == Status.WAITING), None)
        if waiting is not None and (turn.inbound.text or turn.inbound.attachments):
            text = (turn.inbound.text or "").strip()
            evidence = [Evidence(a.kind, a.ref, a.name) for a in turn.inbound.attachments]
            if text:
                try:
                    text = clean_text(text, max_len=2000)
                except InputError as err:
                    turn.say(self.t(turn, err.key, **err.params))
                    return
            self.service.complainant_answer(turn.uow, waiting.number, text, evidence)
            turn.say(self.t(turn, "relay.sent", number=waiting.number))
            return
        choices = [Choice("menu:new", self.t(turn, "menu.new"))]
        open_cases = [c for c in cases if c.is_open]
        for c in open_cases[:3]:
            choices.append(Choice(f"relay:{c.number}", self.t(turn, "menu.message_handler",
                                                              number=c.number)))
            choices.append(Choice(f"withdraw:{c.number}", self.t(turn, "menu.withdraw",
                                                                 number=c.number)))
        recent = turn.now - timedelta(days=30)
        for c in cases:
            if c.status == Status.CLOSED and c.closed_at and c.closed_at >= recent:
                choices.append(Choice(f"recomplain:{c.number}",
                                      self.t(turn, "menu.recomplain", number=c.number)))
        if cases:
            choices.append(Choice("menu:mycases", self.t(turn, "menu.mycases")))
        choices.append(Choice("menu:help", self.t(turn, "menu.help")))
        turn.say(self.t(turn, "menu.prompt"), choices)

    def _my_cases(self, turn: Turn, latest_only: bool = False) -> None:
        cases = self._complainant_cases(turn)
        if not cases:
            turn.say(self.t(turn, "no_cases"), [Choice("menu:new", self.t(turn, "menu.new"))])
            return
        if latest_only:
            turn.say(self.render.case_status(cases[0], turn.lang))
            return
        lines = [self.render.case_line(c, turn.lang) for c in cases]
        turn.say(self.t(turn, "my_cases", cases="\n".join(lines)))

    def _survey_answer(self, turn: Turn, number: str, value: str) -> None:
        self._own_case(turn, number)
        try:
            satisfaction = Satisfaction(value)
        except ValueError:
            turn.say(self.t(turn, "invalid.choose"))
            return
        if satisfaction == Satisfaction.UNSATISFIED:
            self._enter(turn, FLOWS["survey_reason"], case=number)
            return
        self.service.rate(turn.uow, number, satisfaction)
        turn.say(self.t(turn, "survey.thanks", number=number))
