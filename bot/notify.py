"""Turns a domain Notice into outbox rows: one per recipient address, rendered in their language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.dialogs.render import Renderer
from bot.dialogs.types import Choice, Reply
from bot.payloads import reply_to_payload
from core.cases.model import Case, Satisfaction
from core.cases.notices import Notice
from core.clock import Clock
from core.pack import Pack
from storage.uow import SqlUnitOfWork

# Group channels that can't carry buttons (a WeCom group robot): notices that need a
# manager's decision also go to each manager in person.
BUTTONLESS_GROUPS = frozenset({"wecom_robot"})
ACTIONABLE = frozenset({"extension_requested"})
# Alerts carry an "acknowledge" button; the acknowledgement is recorded on the case.
ALERT_KINDS = frozenset({"reminder", "overdue", "alert_tier", "major_report", "promise_missed",
                         "reopened"})


@dataclass(frozen=True)
class Address:
    channel: str
    address: str
    lang: str
    reader: str | None  # staff id reading it, None for complainants and groups
    group: bool = False


class NoticeWriter:
    def __init__(self, pack: Pack, renderer: Renderer, clock: Clock) -> None:
        self.pack = pack
        self.render = renderer
        self.clock = clock

    def __call__(self, uow: SqlUnitOfWork, case: Case, notice: Notice) -> None:
        now = self.clock.now()
        for to in self.addresses(uow, case, notice.to, notice.kind):
            reply = self.compose(case, notice, to)
            uow.add_outbox(dedupe_key=f"{notice.dedupe}:{to.channel}:{to.address}",
                           channel=to.channel, recipient=to.address, kind=notice.kind,
                           payload=reply_to_payload(reply), now=now, case_number=case.number)

    def addresses(self, uow: SqlUnitOfWork, case: Case | None, to: str,
                  kind: str = "") -> list[Address]:
        """Where a notice goes. `case` is None for digests (no complainant, no accused)."""
        accused = case.target_staff if case is not None else None
        if to == "complainant":
            assert case is not None
            c = case.complainant
            return [Address(c.channel, c.user_id, c.language, None)] if c.reachable else []
        if to.startswith("staff:"):
            return self._staff(uow, to[6:])
        if to == "managers":
            groups = [Address(g.channel, g.address, self.pack.locale, None, True)
                      for g in uow.directory.manager_groups()]
            with_buttons = [g for g in groups if g.channel not in BUTTONLESS_GROUPS]
            if with_buttons or (groups and kind not in ACTIONABLE):
                return groups
            out: list[Address] = list(groups)
            for m in self.pack.managers():
                if m.id != accused:
                    out += self._staff(uow, m.id)
            return out
        raise ValueError(f"unknown notice recipient {to!r}")

    def staff_addresses(self, uow: SqlUnitOfWork, staff_id: str) -> list[Address]:
        return self._staff(uow, staff_id)

    def _staff(self, uow: SqlUnitOfWork, staff_id: str) -> list[Address]:
        linked = [Address(i.channel, i.address, self.pack.locale, staff_id)
                  for i in uow.directory.identities_of(staff_id)]
        return linked or [Address("console", staff_id, self.pack.locale, staff_id)]

    def compose(self, case: Case, notice: Notice, to: Address) -> Reply:
        r = self.render
        lang = to.lang
        p: dict[str, Any] = dict(notice.params)
        p.setdefault("number", case.number)
        p.setdefault("tier", case.tier.value)
        p["due"] = r.when(p.get("due") or case.due_resolution, lang)
        p["department"] = r.department_name(case.department, lang)
        p["handler"] = r.staff_name(case.handler)
        if "deadline" in p:
            p["deadline"] = r.when(p["deadline"], lang)
        if "outcome" in p and p["outcome"]:
            p["outcome"] = r.t(lang, f"outcome.{p['outcome']}")
        if to.reader is not None or to.group:
            p["card"] = r.card(case, to.reader, lang, group=to.group)
        if "by" in p:
            p["by"] = r.staff_name(p["by"])
        if to.group and "text" in p:
            p["text"] = r.mask_free_text(str(p["text"]))
        text = r.t(lang, f"notify.{notice.kind}", **p)
        choices: tuple[Choice, ...] = ()
        if notice.kind == "assigned":
            choices = r.action_choices(case, lang)
        elif notice.kind == "survey":
            choices = tuple(Choice(f"survey:{case.number}:{s.value}",
                                   r.t(lang, f"satisfaction.{s.value}")) for s in Satisfaction)
        elif notice.kind == "extension_requested":
            req = p.get("request")
            key = f"mgr:ext:{case.number}:{req}"
            choices = (Choice(f"{key}:ok", r.t(lang, "notify.choice_approve")),
                       Choice(f"{key}:no", r.t(lang, "notify.choice_refuse")))
        elif notice.kind in ALERT_KINDS:
            choices = (Choice(f"ack:{case.number}:{p['seq']}", r.t(lang, "notify.choice_ack")),)
            if to.reader:
                choices += (Choice(f"case:{case.number}", r.t(lang, "notify.choice_view")),)
        elif notice.kind in ("complainant_answered", "extension_refused", "unreachable") \
                and to.reader:
            choices = (Choice(f"case:{case.number}", r.t(lang, "notify.choice_view")),)
        return Reply(text, choices)
