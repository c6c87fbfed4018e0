"""Intake: the category suggestion, similar open cases, registering the case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.dialogs.flows import Flow, Step
from bot.dialogs.mixin import EngineMixin
from bot.dialogs.turn import Turn
from bot.dialogs.types import Choice
from bot.dialogs.validation import InputError
from core.cases.model import Evidence, Tier
from core.cases.service import Intake, TierSignal
from core.routing.classifier import Classification

TIER_BY_NAME = {t.value: t for t in Tier}


class IntakeSteps(EngineMixin):
    def _classify(self, turn: Turn) -> Classification:
        grievance = "\n".join(turn.data.get("grievance") or [])
        text = f"{grievance}\n{turn.data.get('request', '')}"
        first = (turn.data.get("grievance") or [""])[0]
        return self.classifier.classify(text, title=first, target=turn.data.get("target"))

    def _prompt_category(self, turn: Turn) -> None:
        result = self._classify(turn)
        turn.data["suggest"] = {
            "category": result.category, "department": result.department,
            "confidence": round(result.confidence, 3), "keywords": list(result.keywords),
            "ranking": [[r.category, round(r.score, 3)] for r in result.ranking[:5]],
            "department_from_target": result.department_from_target,
            "signals": [[s.kind, s.tier, s.keyword, s.response_minutes] for s in result.signals],
        }
        names = [c.name for c in self.pack.categories]
        ranked = [r.category for r in result.ranking if r.category in names]
        # the catch-all ("其它 / Other") goes last; a pack without one has none to hold back
        last = self.pack.categories[-1] if self.pack.categories else None
        other = last.name if last is not None and last.name_en.casefold() == "other" else None
        choices: list[Choice] = []
        if result.category and result.confidence >= self.low_confidence:
            text = self.t(turn, "intake.suggest_one",
                          category=self.render.category_name(result.category, turn.lang),
                          department=self.render.department_name(result.department, turn.lang))
            choices.append(Choice(f"cat:{result.category}", self.t(turn, "intake.choice_yes")))
            rest = [c for c in names if c != result.category]
            choices += [Choice(f"cat:{c}", self.render.category_name(c, turn.lang))
                        for c in rest]
        else:
            top = [c for c in ranked if c != other][:3]
            text = self.t(turn, "intake.suggest_few" if top else "intake.suggest_none")
            shown = top + [c for c in names if c not in top and c != other]
            shown += [other] if other else []
            choices = [Choice(f"cat:{c}", self.render.category_name(c, turn.lang))
                       for c in shown]
        turn.say(text, choices)

    def _answer_category(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        names = [c.name for c in self.pack.categories]
        chosen: str | None = None
        if choice and choice.startswith("cat:") and choice[4:] in names:
            chosen = choice[4:]
        elif choice is None and turn.inbound.text:
            text = turn.inbound.text.strip()
            chosen = next((c.name for c in self.pack.categories
                           if text in (c.name, c.name_en)), None)
            if chosen is None and self.parse_correction is not None:
                chosen = self.parse_correction(text)
        if chosen is None:
            raise InputError("invalid.choose")
        suggest = turn.data.get("suggest") or {}
        turn.data["category"] = chosen
        department = (suggest.get("department") if suggest.get("department_from_target")
                      else None)
        if department is None or chosen != suggest.get("category"):
            cat = self.pack.category(chosen)
            department = cat.department if cat else None
            if suggest.get("department_from_target") and suggest.get("department"):
                department = suggest["department"]
        turn.data["department"] = department
        turn.data["duplicates"] = self._duplicates(turn)
        return True

    def _duplicates(self, turn: Turn) -> list[list[Any]]:
        if self.find_duplicates is None:
            return []
        candidates = turn.uow.cases.duplicate_candidates(
            turn.now - timedelta(days=30), turn.data.get("department"),
            turn.data.get("category"), (turn.inbound.channel, turn.inbound.user_id))
        if not candidates:
            return []
        grievance = "\n".join(turn.data.get("grievance") or [])
        found = self.find_duplicates(grievance, str(turn.data.get("target", "")), candidates)
        return [[number, round(score, 3)] for number, score in found[:3]]

    def _prompt_duplicate(self, turn: Turn) -> None:
        dups = turn.data.get("duplicates") or []
        lines = []
        choices = []
        for case in turn.uow.cases.briefs([number for number, _score in dups]):
            number = case.number
            lines.append(self.render.case_line(case, turn.lang))
            choices.append(Choice(f"follow:{number}", self.t(turn, "intake.choice_follow",
                                                             number=number)))
        choices.append(Choice("new", self.t(turn, "intake.choice_new_case")))
        turn.say(self.t(turn, "intake.ask_duplicate", cases="\n".join(lines)), choices)

    def _answer_duplicate(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        if choice == "new":
            turn.data["follow"] = None
            return True
        if choice and choice.startswith("follow:"):
            turn.data["follow"] = choice.split(":", 1)[1]
            return True
        raise InputError("invalid.choose")

    def finish_intake(self, turn: Turn) -> None:
        data = turn.data
        inbound = turn.inbound
        evidence = [Evidence(e["kind"], e["ref"], e.get("name")) for e in data.get("evidence")
                    or []]
        grievance = "\n".join(data.get("grievance") or [])
        follow = data.get("follow")
        if follow:
            case = self.service.add_complainant(turn.uow, follow, f"{inbound.channel}:"
                                                f"{inbound.user_id}")
            self._clear(turn)
            turn.say(self.t(turn, "intake.following", number=case.number,
                            due=self.render.when(case.due_resolution, turn.lang)))
            return
        suggest = data.get("suggest") or {}
        signals = [TierSignal(TIER_BY_NAME[tier], f"{kind}: {word}")
                   for kind, tier, word, _minutes in suggest.get("signals", [])
                   if tier in TIER_BY_NAME]
        target_staff = None
        if self.resolve_target is not None:
            found = self.resolve_target(str(data.get("target", "")))
            if found and found[0] == "staff":
                target_staff = found[1]
        intake = Intake(
            channel=inbound.channel, user_id=inbound.user_id, name=data.get("name"),
            contact=data.get("contact"), anonymous=bool(data.get("anonymous")),
            target=str(data.get("target", "")), grievance=grievance,
            request=str(data.get("request", "")), language=turn.lang,
            category=data.get("category"), department=data.get("department"),
            target_staff=target_staff, evidence=evidence, signals=signals,
            classification={"predicted": suggest.get("category"),
                            "confidence": suggest.get("confidence"),
                            "keywords": suggest.get("keywords", []),
                            "chosen": data.get("category"),
                            "urgent": [s for s in suggest.get("signals", []) if s[3]]},
        )
        case = self.service.register(turn.uow, intake)
        self._clear(turn)
        turn.say(self.t(turn, "intake.registered", number=case.number,
                        department=self.render.department_name(case.department, turn.lang),
                        first=self.render.when(case.due_first_response, turn.lang),
                        due=self.render.when(case.due_resolution, turn.lang)))
