"""The dialog engine: dedupe, load state, step the flow, save — one transaction per message.

Channel adapters hand it an Inbound and render the Replies it returns. All conversation
state lives in the `dialog_states` table, so any process can take the next message and a
crash mid-dialog loses nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.dialogs.complainant import ComplainantActions
from bot.dialogs.flows import FLOWS, INTAKE, Flow, Step
from bot.dialogs.intake import IntakeSteps
from bot.dialogs.render import Renderer
from bot.dialogs.staff import StaffActions
from bot.dialogs.turn import Turn
from bot.dialogs.types import Choice, Inbound, Reply
from bot.dialogs.validation import InputError, clean_text, parse_phone
from bot.i18n import DEFAULT_LOCALE, Catalogue, normalise_language
from bot.payloads import payload_to_reply, reply_to_payload
from core.cases.service import CaseService, DomainError
from core.clock import Clock
from core.pack import Duration, Pack, Unit
from core.routing.classifier import Classifier
from storage.repositories import DialogState
from storage.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

TargetResolver = Callable[[str], "tuple[str, str] | None"]  # text -> (kind, id)
DuplicateFinder = Callable[[str, str, Sequence[tuple[str, str, str]]],
                           "list[tuple[str, float]]"]
CorrectionParser = Callable[[str], "str | None"]
LOW_CONFIDENCE = 0.5
_TRAILING = " \t。．.!！~～、，,"  # stripped from a typed answer before alias matching
COMMAND = re.compile(r"^/[A-Za-z_]+(@\w+)?(\s|$)")  # "/start x", not a path like "/tmp/a.jpg"


class DialogEngine(IntakeSteps, StaffActions, ComplainantActions):
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
        flow = FLOWS.get(turn.state.flow or "")
        if flow is not None and turn.state.step and text.isdigit() \
                and flow.step(turn.state.step).kind == "int":
            return None  # a number typed where a number is asked is that number, not option N
        if text.isdigit() and 1 <= int(text) <= len(offered):
            return str(offered[int(text) - 1][0])
        lowered = text.casefold()
        for key, label in offered:
            if lowered == str(label).casefold():
                return str(key)
        # words people type instead of pressing (匿名, 跳过, 没了, 对): `typed.<choice>` in the
        # catalogue, of the user's language and of zh-CN
        plain = lowered.strip(_TRAILING)
        for key, _ in offered:
            alias_key = f"typed.{key}"
            if not self.cat.has(alias_key, turn.lang):
                continue
            words = {*self.t(turn, alias_key).split("|"),
                     *self.cat.t(DEFAULT_LOCALE, alias_key).split("|")}
            if plain in {w.strip().casefold() for w in words if w.strip()}:
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
        try:
            handler = getattr(self, f"_answer_{step.kind}")
            done: bool = handler(turn, flow, step, choice)
        except InputError as err:
            turn.say(self.t(turn, err.key, **err.params))
            self._prompt(turn, flow, step)
            return
        if done and turn.state.flow == flow.id and turn.state.step == step.id:
            self._advance(turn, flow, step)

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






