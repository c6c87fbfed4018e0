"""Turning cases and intake data into text for a given reader, with privacy applied."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.dialogs.flows import STAFF_ACTIONS
from bot.dialogs.types import Choice
from bot.dialogs.validation import display_phone, mask_phone
from bot.i18n import Catalogue
from core.cases.model import Case
from core.pack import Pack


class Renderer:
    def __init__(self, pack: Pack, catalogue: Catalogue,
                 mask_text: None | object = None) -> None:
        self.pack = pack
        self.cat = catalogue
        self.tz = ZoneInfo(pack.timezone)
        self._mask_text = mask_text

    def t(self, lang: str, key: str, **params: object) -> str:
        return self.cat.t(lang, key, **params)

    def when(self, at: datetime | str | None, lang: str) -> str:
        if at is None:
            return "-"
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        local = at.astimezone(self.tz)
        if lang == "en":
            return local.strftime("%Y-%m-%d %H:%M")
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"

    def department_name(self, dept_id: str | None, lang: str) -> str:
        dept = self.pack.department(dept_id) if dept_id else None
        if dept is None:
            return "-"
        return dept.name_en or dept.name if lang == "en" else dept.name

    def category_name(self, name: str | None, lang: str) -> str:
        cat = self.pack.category(name) if name else None
        if cat is None:
            return name or "-"
        return cat.name_en or cat.name if lang == "en" else cat.name

    def staff_name(self, staff_id: str | None) -> str:
        member = self.pack.member(staff_id) if staff_id else None
        return member.name if member else (staff_id or "-")

    def status(self, value: str, lang: str) -> str:
        return self.t(lang, f"status.{value}")

    def mask_free_text(self, text: str) -> str:
        """Hide phone numbers, ID numbers and addresses typed inside free text."""
        masker = self._mask_text
        return masker(text) if callable(masker) else text

    # -- complainant-facing ---------------------------------------------------------------

    def case_line(self, case: Case, lang: str) -> str:
        return self.t(lang, "case.line", number=case.number,
                      status=self.status(case.status.value, lang),
                      category=self.category_name(case.category, lang),
                      due=self.when(case.due_resolution, lang))

    def case_status(self, case: Case, lang: str) -> str:
        return self.t(lang, "case.status", number=case.number,
                      status=self.status(case.status.value, lang),
                      category=self.category_name(case.category, lang),
                      department=self.department_name(case.department, lang),
                      received=self.when(case.received_at, lang),
                      due=self.when(case.due_resolution, lang))

    def readback(self, data: dict[str, object], lang: str) -> str:
        anonymous = bool(data.get("anonymous"))
        name = self.t(lang, "intake.anonymous") if anonymous else str(data.get("name", ""))
        contact = data.get("contact")
        contact_text = (self.t(lang, "intake.no_contact") if anonymous or not contact
                        else display_phone(str(contact)))
        grievance = "\n".join(str(x) for x in data.get("grievance", []) or [])  # type: ignore[union-attr]
        evidence = data.get("evidence") or []
        return self.t(
            lang, "intake.readback", name=name, contact=contact_text,
            target=data.get("target", ""), grievance=grievance, request=data.get("request", ""),
            category=self.category_name(str(data.get("category") or ""), lang),
            department=self.department_name(str(data.get("department") or ""), lang),
            evidence=len(evidence),  # type: ignore[arg-type]
        )

    # -- staff-facing ---------------------------------------------------------------------

    def complainant_for(self, case: Case, reader: str | None, lang: str,
                        group: bool = False) -> str:
        """Who complained, as this reader may see it. The accused never sees it."""
        c = case.complainant
        if c.anonymous:
            return self.t(lang, "intake.anonymous")
        if reader is not None and reader == case.target_staff:
            return self.t(lang, "case.hidden")
        member = self.pack.member(reader) if reader else None
        if c.contact and member is not None and member.see_phone and not group:
            phone = display_phone(c.contact)
        elif c.contact:
            phone = mask_phone(c.contact)
        else:
            phone = self.t(lang, "intake.no_contact")
        return f"{c.name or '-'} ({phone})"

    def card(self, case: Case, reader: str | None, lang: str, group: bool = False) -> str:
        grievance = case.grievance
        if group or case.complainant.anonymous:
            grievance = self.mask_free_text(grievance)
        return self.t(
            lang, "case.card", number=case.number, tier=case.tier.value,
            status=self.status(case.status.value, lang),
            category=self.category_name(case.category, lang),
            department=self.department_name(case.department, lang),
            handler=self.staff_name(case.handler),
            complainant=self.complainant_for(case, reader, lang, group),
            target=case.target, grievance=grievance, request=case.request,
            received=self.when(case.received_at, lang),
            due_first=self.when(case.due_first_response, lang),
            due=self.when(case.due_resolution, lang), evidence=len(case.evidence),
            complainants=case.complainants,
        )

    def action_choices(self, case: Case, lang: str) -> tuple[Choice, ...]:
        return tuple(Choice(f"act:{verb}:{case.number}", self.t(lang, key))
                     for verb, key, _flow in STAFF_ACTIONS)
