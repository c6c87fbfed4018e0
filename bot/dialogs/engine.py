"""The dialog engine: dedupe, load state, step the flow, save — one transaction per message.

Channel adapters hand it an Inbound and render the Replies it returns. All conversation
state lives in the `dialog_states` table, so any process can take the next message and a
crash mid-dialog loses nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.dialogs.flows import FLOWS, INTAKE, STAFF_ACTIONS, Flow, Step
from bot.dialogs.render import Renderer
from bot.dialogs.types import Attachment, Choice, Inbound, Reply
from bot.dialogs.validation import InputError, clean_text, parse_phone, parse_when
from bot.i18n import Catalogue, normalise_language
from bot.payloads import payload_to_reply, reply_to_payload
from core.cases.model import Case, Evidence, Outcome, Satisfaction, Status, Tier
from core.cases.service import ROOT_CAUSES, CaseService, DomainError, Intake, TierSignal
from core.clock import Clock
from core.pack import Duration, Pack, Role, Unit
from core.routing.classifier import Classification, Classifier
from storage.repositories import DialogState
from storage.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

TargetResolver = Callable[[str], "tuple[str, str] | None"]  # text -> (kind, id)
DuplicateFinder = Callable[[str, str, Sequence[tuple[str, str, str]]],
                           "list[tuple[str, float]]"]
CorrectionParser = Callable[[str], "str | None"]
LOW_CONFIDENCE = 0.5
COMMAND = re.compile(r"^/[A-Za-z_]+(@\w+)?(\s|$)")  # "/start x", not a path like "/tmp/a.jpg"
TIER_BY_NAME = {t.value: t for t in Tier}


@dataclass
class Turn:
    """Everything one inbound message is handled with."""

    uow: SqlUnitOfWork
    state: DialogState
    inbound: Inbound
    lang: str
    now: datetime
    staff_id: str | None
    replies: list[Reply] = field(default_factory=list)

    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def say(self, text: str, choices: Sequence[Choice] = (), request_contact: bool = False,
            attachments: Sequence[Attachment] = ()) -> None:
        self.replies.append(Reply(text, tuple(choices), request_contact, tuple(attachments)))


class DialogEngine:
    def __init__(self, *, uow_factory: Callable[[], SqlUnitOfWork], service: CaseService,
                 pack: Pack, catalogue: Catalogue, clock: Clock, classifier: Classifier,
                 renderer: Renderer, resolve_target: TargetResolver | None = None,
                 find_duplicates: DuplicateFinder | None = None,
                 parse_correction: CorrectionParser | None = None,
                 default_locale: str = "zh-CN", low_confidence: float = LOW_CONFIDENCE) -> None:
        self.uow_factory = uow_factory
        self.service = service
        self.pack = pack
        self.cat = catalogue
        self.clock = clock
        self.classifier = classifier
        self.render = renderer
        self.resolve_target = resolve_target
        self.find_duplicates = find_duplicates
        self.parse_correction = parse_correction
        self.default_locale = default_locale
        self.low_confidence = low_confidence

    # == entry point ========================================================================

    def handle(self, inbound: Inbound) -> list[Reply]:
        """Handle one message; returns the replies (empty for a redelivered update)."""
        now = self.clock.now()
        with self.uow_factory() as uow:
            if inbound.update_id and uow.dialogs.seen(inbound.channel, inbound.update_id, now):
                # a redelivery never acts twice; it gets the answer again (the first one may
                # have been lost in a crash between committing and sending)
                return [payload_to_reply(p) for p in uow.dialogs.replies_of(
                    inbound.channel, inbound.update_id)]
            state = uow.dialogs.get(inbound.channel, inbound.user_id)
            if state is None:
                state = DialogState(channel=inbound.channel, user_id=inbound.user_id,
                                       language=normalise_language(inbound.language,
                                                                   self.default_locale),
                                       data={})
            state.data = dict(state.data or {})
            turn = Turn(uow, state, inbound, state.language, now,
                        self._staff_of(uow, inbound))
            try:
                self._route(turn)
            except DomainError as err:
                uow.rollback()
                return self._after_refusal(inbound, now, err)
            self._save(turn)
            self._keep(uow, inbound, turn.replies)
            uow.commit()
            return turn.replies

    @staticmethod
    def _keep(uow: SqlUnitOfWork, inbound: Inbound, replies: list[Reply]) -> None:
        if inbound.update_id:
            uow.dialogs.keep_replies(inbound.channel, inbound.update_id,
                                     [reply_to_payload(r) for r in replies])

    def opening(self, channel: str, user_id: str, language: str | None = None) -> list[Reply]:
        """What a person sees when they open a session (console): resume, work list or intake."""
        with self.uow_factory() as uow:
            state = uow.dialogs.get(channel, user_id)
            fresh = state is None
            if state is None:
                state = DialogState(channel=channel, user_id=user_id,
                                       language=normalise_language(language,
                                                                   self.default_locale),
                                       data={})
            state.data = dict(state.data or {})
            inbound = Inbound(channel, user_id, language=language)
            turn = Turn(uow, state, inbound, state.language, self.clock.now(),
                        self._staff_of(uow, inbound))
            flow = FLOWS.get(state.flow or "")
            if flow is not None and state.step:
                turn.say(self.t(turn, "resuming"))
                self._prompt(turn, flow, flow.step(state.step))
            elif turn.staff_id:
                self._staff_idle(turn, greet=True)
            elif fresh or not self._complainant_cases(turn):
                self._start_intake(turn, greet=True)
            else:
                self._complainant_idle(turn)
            self._save(turn)
            uow.commit()
            return turn.replies

    def remember_choices(self, channel: str, user_id: str, choices: Sequence[Choice]) -> None:
        """Record the choices a notification just showed, so typing their number works."""
        if not choices:
            return
        with self.uow_factory() as uow:
            state = uow.dialogs.get(channel, user_id) or DialogState(
                channel=channel, user_id=user_id, language=self.default_locale, data={})
            data = dict(state.data or {})
            data["_choices"] = [[c.key, c.label] for c in choices]
            state.data = data
            uow.dialogs.save(state)
            uow.commit()

    def _after_refusal(self, inbound: Inbound, now: datetime, err: DomainError) -> list[Reply]:
        """A refused action changes nothing but is still remembered as handled."""
        with self.uow_factory() as uow:
            if inbound.update_id:
                uow.dialogs.seen(inbound.channel, inbound.update_id, now)
            state = uow.dialogs.get(inbound.channel, inbound.user_id)
            lang = state.language if state else normalise_language(inbound.language)
            replies = [Reply(self.cat.t(lang, err.code, **err.params))]
            self._keep(uow, inbound, replies)
            uow.commit()
        return replies

    def _save(self, turn: Turn) -> None:
        turn.state.updated_at = turn.now
        last = next((r for r in reversed(turn.replies) if r.choices), None)
        if turn.replies:
            turn.data["_choices"] = ([[c.key, c.label] for c in last.choices]
                                     if last is not None and last is turn.replies[-1] else [])
        turn.state.data = dict(turn.data)  # a new object so the JSON column is written
        turn.uow.dialogs.save(turn.state)

    def _staff_of(self, uow: SqlUnitOfWork, inbound: Inbound) -> str | None:
        linked = uow.directory.staff_for(inbound.channel, inbound.user_id)
        if linked:
            return linked
        if inbound.channel == "console" and self.pack.member(inbound.user_id):
            return inbound.user_id
        return None

    def t(self, turn: Turn, key: str, **params: Any) -> str:
        return self.cat.t(turn.lang, key, **params)

    # == routing ============================================================================

    def _route(self, turn: Turn) -> None:
        inbound = turn.inbound
        choice = inbound.choice or self._typed_choice(turn)
        text = (inbound.text or "").strip()
        if inbound.language and not turn.data.get("_lang_fixed"):
            turn.lang = turn.state.language = normalise_language(inbound.language, turn.lang)
        if not choice and COMMAND.match(text):
            self._command(turn, text)
            return
        if inbound.chat_id and inbound.chat_id != inbound.user_id:
            self._group(turn, choice)
            return
        if choice and self._global_choice(turn, choice):
            return
        flow = FLOWS.get(turn.state.flow or "")
        if flow is not None:
            self._step(turn, flow, choice)
            return
        if turn.staff_id:
            self._staff_idle(turn)
        else:
            self._complainant_idle(turn)

    def _typed_choice(self, turn: Turn) -> str | None:
        """A number or label typed in answer to the last offered choices (text channels)."""
        text = (turn.inbound.text or "").strip()
        offered = turn.data.get("_choices") or []
        if not text or not offered:
            return None
        if text.isdigit() and 1 <= int(text) <= len(offered):
            return str(offered[int(text) - 1][0])
        lowered = text.casefold()
        for key, label in offered:
            if lowered == str(label).casefold():
                return str(key)
        return None

    # -- commands -------------------------------------------------------------------------

    def _command(self, turn: Turn, text: str) -> None:
        command, _, arg = text[1:].partition(" ")
        command = command.split("@")[0].lower()
        arg = arg.strip()
        if command == "start":
            if arg and self._redeem(turn, arg):
                return
            if turn.staff_id:
                self._clear(turn)
                self._staff_idle(turn, greet=True)
                return
            self._start_intake(turn, greet=True)
        elif command == "link":
            if not arg or not self._redeem(turn, arg):
                turn.say(self.t(turn, "link.bad_code"))
        elif command == "cancel":
            if turn.state.flow:
                self._clear(turn)
                turn.say(self.t(turn, "cancelled"))
            else:
                turn.say(self.t(turn, "nothing_to_cancel"))
        elif command == "back":
            self._back(turn)
        elif command == "help":
            turn.say(self.t(turn, "help_staff" if turn.staff_id else "help"))
        elif command in ("status", "mycases"):
            if turn.staff_id:
                self._staff_idle(turn)
            else:
                self._my_cases(turn, latest_only=command == "status")
        elif command in ("lang", "language"):
            turn.lang = turn.state.language = normalise_language(arg or None, turn.lang)
            turn.data["_lang_fixed"] = True
            turn.say(self.t(turn, "language_set"))
        else:
            turn.say(self.t(turn, "unknown_command"))

    def _redeem(self, turn: Turn, code: str) -> bool:
        """A one-time code links a chat account to a staff record, or a group to the managers."""
        inbound = turn.inbound
        address = inbound.chat_id or inbound.user_id
        invite = turn.uow.directory.use_invite(code, f"{inbound.channel}:{address}", turn.now)
        if invite is None:
            return False
        if invite.role == "managers_group":
            turn.uow.directory.link(inbound.channel, address, None, "managers_group", turn.now)
            turn.say(self.t(turn, "link.group_linked"))
        else:
            assert invite.staff_id is not None
            turn.uow.directory.link(inbound.channel, inbound.user_id, invite.staff_id, "staff",
                                    turn.now)
            turn.staff_id = invite.staff_id
            self._clear(turn)
            turn.say(self.t(turn, "link.staff_linked", name=self.render.staff_name(
                invite.staff_id)))
        return True

    # -- choices that work in any state (buttons on notifications) --------------------------

    def _global_choice(self, turn: Turn, choice: str) -> bool:
        kind, _, rest = choice.partition(":")
        if kind == "act" and turn.staff_id:
            verb, _, number = rest.partition(":")
            self._staff_action(turn, verb, number)
            return True
        if kind == "cause" and turn.staff_id:
            number, _, cause = rest.rpartition(":")
            self.service.record_cause(turn.uow, number, turn.staff_id, cause)
            turn.say(self.t(turn, "staff.done_cause", number=number,
                            cause=self.t(turn, f"cause.{cause}")))
            return True
        if kind == "case" and turn.staff_id:
            self._show_case(turn, rest)
            return True
        if kind == "mgr":
            self._manager_choice(turn, rest)
            return True
        if kind == "ack" and turn.staff_id:
            number, _, seq = rest.rpartition(":")
            fresh = self.service.acknowledge(turn.uow, number, turn.staff_id,
                                             int(seq) if seq.isdigit() else -1)
            turn.say(self.t(turn, "staff.done_ack" if fresh else "staff.already_ack",
                            number=number))
            return True
        if kind == "withdraw" and not turn.staff_id:
            self._own_case(turn, rest)
            self._enter(turn, FLOWS["withdraw"], case=rest)
            return True
        if kind == "recomplain" and not turn.staff_id:
            self._own_case(turn, rest)
            self._enter(turn, FLOWS["recomplain"], case=rest)
            return True
        if kind == "survey" and not turn.staff_id:
            number, _, value = rest.rpartition(":")
            self._survey_answer(turn, number, value)
            return True
        if kind == "menu":
            self._menu(turn, rest)
            return True
        if kind == "relay" and not turn.staff_id:
            self._enter(turn, FLOWS["relay"], case=rest)
            return True
        return False

    def _menu(self, turn: Turn, item: str) -> None:
        if item == "new":
            self._start_intake(turn)
        elif item == "mycases":
            if turn.staff_id:
                self._staff_idle(turn)
            else:
                self._my_cases(turn)
        else:
            turn.say(self.t(turn, "help_staff" if turn.staff_id else "help"))

    # == flows ==============================================================================

    def _clear(self, turn: Turn) -> None:
        turn.state.flow = None
        turn.state.step = None
        keep = {k: v for k, v in turn.data.items() if k in ("_lang_fixed",)}
        turn.data.clear()
        turn.data.update(keep)

    def _enter(self, turn: Turn, flow: Flow, **data: Any) -> None:
        self._clear(turn)
        turn.state.flow = flow.id
        turn.data.update(data)
        turn.data["_trail"] = []
        first = flow.next_step(turn.data, None)
        assert first is not None
        turn.state.step = first.id
        self._prompt(turn, flow, first)

    def _start_intake(self, turn: Turn, greet: bool = False) -> None:
        if greet:
            name = self.pack.name_en if turn.lang == "en" and self.pack.name_en else self.pack.name
            turn.say(self.t(turn, "welcome", org=name))
        self._enter(turn, INTAKE, grievance=[], evidence=[])

    def _back(self, turn: Turn) -> None:
        flow = FLOWS.get(turn.state.flow or "")
        trail = list(turn.data.get("_trail") or [])
        if flow is None or not trail:
            turn.say(self.t(turn, "cannot_go_back"))
            if flow is not None and turn.state.step:
                self._prompt(turn, flow, flow.step(turn.state.step))
            return
        previous = trail.pop()
        turn.data["_trail"] = trail
        turn.state.step = previous
        if previous == "grievance":
            turn.data["grievance"] = []
        self._prompt(turn, flow, flow.step(previous))

    def _advance(self, turn: Turn, flow: Flow, step: Step) -> None:
        trail = list(turn.data.get("_trail") or [])
        trail.append(step.id)
        turn.data["_trail"] = trail
        nxt = flow.next_step(turn.data, step.id)
        if nxt is None:
            finisher: Callable[[Turn], None] = getattr(self, flow.finish)
            finisher(turn)
            return
        turn.state.step = nxt.id
        self._prompt(turn, flow, nxt)

    def _prompt(self, turn: Turn, flow: Flow, step: Step) -> None:
        if step.kind == "category":
            self._prompt_category(turn)
            return
        if step.kind == "department":
            current = turn.data.get("current_department")
            choices = [Choice(f"dept:{d.id}", self.render.department_name(d.id, turn.lang))
                       for d in self.pack.departments if d.id != current]
            turn.say(self.t(turn, step.prompt), choices)
            return
        if step.kind == "duplicate":
            self._prompt_duplicate(turn)
            return
        if step.kind == "when":
            cal = self.service.calendar
            today = turn.now.astimezone(self.render.tz).date()
            options = []
            if cal.is_working_day(today) and cal.end_of_day(today) > turn.now:
                options.append(("staff.promise_today", cal.end_of_day(today)))
            nxt = cal.next_working_day(today + timedelta(days=1))
            options.append(("staff.promise_next", cal.end_of_day(nxt)))
            third = cal.add(turn.now, Duration(3, Unit.WORKING_DAYS))
            options.append(("staff.promise_three", third))
            choices = [Choice(f"when:{at.isoformat()}",
                              self.t(turn, key, when=self.render.when(at, turn.lang)))
                       for key, at in options]
            turn.say(self.t(turn, step.prompt, number=turn.data.get("case", "")), choices)
            return
        text = self.t(turn, step.prompt, number=turn.data.get("case", ""))
        if step.kind == "confirm":
            text = self.render.readback(turn.data, turn.lang) + "\n\n" + text
        choices = [Choice(value, self.t(turn, key)) for value, key in step.choices]
        if step.kind == "multi" and not turn.data.get(step.id):
            choices = []
        turn.say(text, choices, request_contact=step.request_contact)

    def _step(self, turn: Turn, flow: Flow, choice: str | None) -> None:
        step = flow.step(turn.state.step or flow.steps[0].id)
        inbound = turn.inbound
        try:
            handler = getattr(self, f"_answer_{step.kind}")
            done: bool = handler(turn, flow, step, choice)
        except InputError as err:
            turn.say(self.t(turn, err.key, **err.params))
            self._prompt(turn, flow, step)
            return
        if done and turn.state.flow == flow.id and turn.state.step == step.id:
            self._advance(turn, flow, step)
        del inbound

    # -- answer kinds (return True when the step is complete) ---------------------------------

    def _answer_text(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        if choice is not None:
            if choice not in {v for v, _ in step.choices}:
                raise InputError("invalid.choose")
            if step.id == "name" and choice == "anonymous":
                turn.data.update(anonymous=True, name=None, contact=None)
                return True
            turn.data[step.id] = choice
            return True
        if turn.inbound.attachments and not turn.inbound.text:
            raise InputError("invalid.text_expected")
        value = clean_text(turn.inbound.text, max_len=step.max_len, min_len=step.min_len)
        turn.data[step.id] = value
        if step.id == "name":
            turn.data["anonymous"] = False
        return True

    def _answer_phone(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        if choice == "chat_only":
            turn.data["contact"] = None
            return True
        if choice is not None:
            raise InputError("invalid.choose")
        raw = turn.inbound.contact_phone or turn.inbound.text
        turn.data["contact"] = parse_phone(raw)
        return True

    def _answer_choice(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        values = {v for v, _ in step.choices}
        if choice not in values:
            raise InputError("invalid.choose")
        turn.data[step.id] = choice
        return True

    def _answer_int(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        raw = choice if choice is not None else (turn.inbound.text or "").strip()
        lo, hi = step.int_range
        if not raw.isdigit() or not lo <= int(raw) <= hi:
            raise InputError("invalid.number", min=lo, max=hi)
        turn.data[step.id] = int(raw)
        return True

    def _answer_confirm(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        if choice == "yes":
            return True
        if choice == "restart":
            turn.say(self.t(turn, "intake.restarting"))
            self._enter(turn, INTAKE, grievance=[], evidence=[])
            return False
        if choice == "cancel":
            self._clear(turn)
            turn.say(self.t(turn, "cancelled"))
            return False
        raise InputError("invalid.choose")

    def _answer_multi(self, turn: Turn, flow: Flow, step: Step, choice: str | None) -> bool:
        """Several messages (and attachments) until the person says they are done."""
        collected: list[str] = list(turn.data.get(step.id) or [])
        if choice == "done":
            if not collected:
                raise InputError("invalid.empty")
            if sum(len(x) for x in collected) < step.min_len:
                raise InputError("invalid.too_short", min=step.min_len)
            return True
        if choice is not None:
            raise InputError("invalid.choose")
        evidence = list(turn.data.get("evidence") or [])
        added = [{"kind": a.kind, "ref": a.ref, "name": a.name} for a in turn.inbound.attachments]
        text = (turn.inbound.text or "").strip()
        path = Path(text).expanduser() if turn.inbound.channel == "console" and text else None
        if path is not None and len(text) < 400 and path.is_file():
            added.append({"kind": "file", "ref": str(path.resolve()), "name": path.name})
            text = ""
        if text:
            value = clean_text(text, max_len=step.max_len)
            if sum(len(x) for x in collected) + len(value) > step.max_len * 2:
                raise InputError("invalid.too_long", max=step.max_len * 2, length=len(value))
            collected.append(value)
        elif not added:
            raise InputError("invalid.empty")
        evidence.extend(added)
        turn.data[step.id] = collected
        turn.data["evidence"] = evidence
        key = "intake.evidence_saved" if added and not text else "intake.more_or_done"
        if step.id == "text":
            key = "relay.more_or_send"
        done_label = self.t(turn, dict(step.choices)["done"])
        turn.say(self.t(turn, key, count=len(added), done=done_label),
                 [Choice("done", done_label)])
        return False

    # -- intake: category suggestion ------------------------------------------------------

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
        other = names[-1]
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
            shown = top + [c for c in names if c not in top and c != other] + [other]
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

    # == finishers ==========================================================================

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

    # == complainant outside a flow ==========================================================

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

    # == staff =============================================================================

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
