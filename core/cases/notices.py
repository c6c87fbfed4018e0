"""Which recorded event tells whom what. Rendering and delivery happen outside core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.cases.model import Case, Event


@dataclass(frozen=True)
class Notice:
    kind: str  # catalogue key suffix: notify.<kind>
    to: str  # "complainant" | "staff:<id>" | "managers"
    params: dict[str, Any] = field(default_factory=dict)
    dedupe: str = ""  # unique per (case, event, recipient); filled by notices_for


def _staff(staff_id: str | None) -> list[str]:
    return [f"staff:{staff_id}"] if staff_id else []


def notices_for(case: Case, event: Event) -> list[Notice]:
    """The notifications one event causes. The accused is never a recipient."""
    d = event.data
    out: list[tuple[str, list[str], dict[str, Any]]] = []
    t = event.type
    if t == "assigned":
        out.append(("assigned", _staff(d.get("handler")), {}))
        if d.get("reason") in ("transfer", "reopened"):
            out.append(("reassigned", ["complainant"], {}))
    elif t == "accepted":
        out.append(("accepted", ["complainant"], {}))
    elif t == "progress":
        out.append(("progress", ["complainant"], {"text": d.get("text", "")}))
    elif t == "asked_complainant":
        out.append(("ask_more", ["complainant"], {"text": d.get("text", "")}))
    elif t == "complainant_answered":
        out.append(("complainant_answered", _staff(case.handler), {"text": d.get("text", "")}))
    elif t == "extension_requested":
        out.append(("extension_requested", ["managers"], {
            "request": d.get("request"), "days": d.get("days"), "reason": d.get("reason", ""),
            "by": d.get("by", "")}))
    elif t == "extension_approved":
        out.append(("extension_approved", _staff(case.handler), {"due": d.get("due")}))
        out.append(("extension_notice", ["complainant"], {"due": d.get("due"),
                                                          "reason": d.get("reason", "")}))
    elif t == "extension_refused":
        out.append(("extension_refused", _staff(case.handler), {"reason": d.get("reason", "")}))
    elif t == "resolved":
        out.append(("resolved", ["complainant"], {"outcome": d.get("outcome"),
                                                  "text": d.get("text", "")}))
    elif t in ("survey_sent", "survey_reminder"):
        out.append(("survey", ["complainant"], {}))
    elif t == "promised":
        out.append(("promised", ["complainant"], {"due": d.get("due")}))
    elif t == "promise_missed":
        out.append(("promise_missed", _staff(case.handler), {}))
    elif t == "major_report":
        out.append(("major_report", ["managers"], {"week": d.get("week")}))
    elif t == "reopened":
        out.append(("reopened", ["managers"], {"reason": d.get("reason", "")}))
    elif t == "tier_raised" and d.get("to") in ("热点", "重大"):
        out.append(("alert_tier", ["managers"], {"tier": d.get("to"),
                                                 "reason": d.get("reason", "")}))
    elif t == "recipient_unreachable":
        out.append(("unreachable", _staff(case.handler), {"channel": d.get("channel", "")}))
    elif t == "withdrawn":
        out.append(("withdrawn", _staff(case.handler), {"reason": d.get("reason", "")}))
    elif t == "merged":
        out.append(("merged", ["complainant"], {"into": d.get("into")}))
    elif t == "closed":
        out.append(("closed", ["complainant"], {}))
    elif t == "not_accepted":
        out.append(("not_accepted", ["complainant"], {"reason": d.get("reason", "")}))
    elif t == "reminder":
        out.append(("reminder", _staff(d.get("to")), {"deadline": d.get("deadline"),
                                                      "percent": d.get("percent")}))
    elif t == "escalated":
        to = d.get("to")
        targets = ["managers"] if to == "managers" else _staff(d.get("staff"))
        if to != "handler":
            targets += [r for r in _staff(case.handler) if r not in targets]  # 催办
        out.append(("overdue", targets, {"percent": d.get("percent")}))
    notices: list[Notice] = []
    for kind, recipients, params in out:
        for r in recipients:
            if r == f"staff:{case.target_staff}":
                continue
            notices.append(Notice(kind, r, {**params, "seq": event.seq},
                                  dedupe=f"{case.number}:{event.seq}:{kind}:{r}"))
    return notices
