"""Scheduled digests: the daily check per department and for managers, weekly and monthly
summaries. Each digest is an outbox row whose dedupe key names its period, so it goes out
once however many processes run the sweep, and a long downtime yields one digest, not many."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.dialogs.render import Renderer
from bot.dialogs.types import Reply
from bot.notify import NoticeWriter
from bot.payloads import reply_to_payload
from bot.reports import month_bounds, render_report
from core.clock import Clock
from core.pack import Pack
from core.stats import period_report
from storage.uow import SqlUnitOfWork


class Digests:
    def __init__(self, pack: Pack, renderer: Renderer, notices: NoticeWriter, clock: Clock
                 ) -> None:
        self.pack = pack
        self.render = renderer
        self.notices = notices
        self.clock = clock
        self.tz = ZoneInfo(pack.timezone)

    def due_periods(self, now: datetime) -> list[tuple[str, str]]:
        """(kind, period key) of the digests whose time has come in the current period."""
        local = now.astimezone(self.tz)
        s = self.pack.digests
        out: list[tuple[str, str]] = []
        if local.time() >= s.daily:
            out.append(("daily", local.date().isoformat()))
        week_start = local.date() - timedelta(days=(local.weekday() - s.weekly_weekday) % 7)
        if local.date() > week_start or local.time() >= s.weekly:
            out.append(("weekly", week_start.isoformat()))
        if local.day > s.monthly_day or (local.day == s.monthly_day and local.time() >= s.monthly):
            out.append(("monthly", f"{local.year:04d}-{local.month:02d}"))
        return out

    def run(self, uow: SqlUnitOfWork) -> int:
        """Write the due digests into the outbox; returns how many rows were new."""
        now = self.clock.now()
        written = 0
        for kind, period in self.due_periods(now):
            mark = f"digest:{kind}:{period}"
            if uow.marks.has(mark):
                continue  # already written: cost nothing on every later sweep
            written += getattr(self, f"_{kind}")(uow, now, period)
            uow.marks.mark(mark, now.isoformat())
        return written

    def _send(self, uow: SqlUnitOfWork, key: str, to: str, kind: str, text: str) -> int:
        n = 0
        addresses = (self.notices.addresses(uow, None, to, kind) if to == "managers"
                     else self.notices.staff_addresses(uow, to[6:]))
        for a in addresses:
            n += uow.add_outbox(dedupe_key=f"digest:{key}:{a.channel}:{a.address}",
                                channel=a.channel, recipient=a.address, kind=kind,
                                payload=reply_to_payload(Reply(text)), now=self.clock.now())
        return n

    def _daily(self, uow: SqlUnitOfWork, now: datetime, period: str) -> int:
        local = now.astimezone(self.tz)
        day_end = datetime.combine(local.date(), time.max, tzinfo=self.tz)
        by_dept = uow.cases.daily_counts(now, day_end)
        lang = self.pack.locale
        r = self.render
        written = 0
        lines = []
        keys = ("new", "due_today", "overdue", "awaiting_revisit", "open")
        total = {k: sum(c.get(k, 0) for c in by_dept.values()) for k in keys}
        for dept in self.pack.departments:
            counts: dict[str, object] = {k: by_dept.get(dept.id, {}).get(k, 0) for k in keys}
            counts["overdue_cases"] = " ".join(uow.cases.overdue_numbers(now, dept.id)) or "-"
            line = r.t(lang, "digest.daily_line", department=r.department_name(dept.id, lang),
                       **counts)
            lines.append(line)
            if dept.head:
                text = r.t(lang, "digest.daily_title", date=period) + "\n" + line
                written += self._send(uow, f"daily:{period}:{dept.id}", f"staff:{dept.head}",
                                      "digest", text)
        text = "\n".join([r.t(lang, "digest.daily_title", date=period),
                          r.t(lang, "digest.daily_total", **total), *lines])
        return written + self._send(uow, f"daily:{period}:managers", "managers", "digest", text)

    def _weekly(self, uow: SqlUnitOfWork, now: datetime, period: str) -> int:
        start = datetime.fromisoformat(period).replace(tzinfo=self.tz) - timedelta(days=7)
        end = start + timedelta(days=7)
        report = period_report(uow.cases.for_period(start, end), start, end,
                               self.pack.households, uow.cases.root_causes(start, end))
        text = render_report(self.render, report, self.pack.locale, "report.weekly_title")
        return self._send(uow, f"weekly:{period}", "managers", "digest", text)

    def _monthly(self, uow: SqlUnitOfWork, now: datetime, period: str) -> int:
        local = now.astimezone(self.tz)
        previous = (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
        start, end = month_bounds(previous, self.pack.timezone)
        report = period_report(uow.cases.for_period(start, end), start, end,
                               self.pack.households, uow.cases.root_causes(start, end))
        text = render_report(self.render, report, self.pack.locale, "report.monthly_title")
        return self._send(uow, f"monthly:{period}", "managers", "digest", text)
