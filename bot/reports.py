"""Rendering period reports (the seeds' monthly table) and the daily check as text."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.dialogs.render import Renderer
from core.stats import PeriodReport


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """"2026-11" -> [2026-11-01 00:00, 2026-12-01 00:00) in the pack's time zone."""
    year, mon = (int(x) for x in month.split("-"))
    zone = ZoneInfo(tz)
    start = datetime(year, mon, 1, tzinfo=zone)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=zone)
    return start, end


def report_json(report: PeriodReport) -> dict[str, Any]:
    data = asdict(report)
    data["start"], data["end"] = report.start.isoformat(), report.end.isoformat()
    return data


def render_report(r: Renderer, report: PeriodReport, lang: str, title_key: str) -> str:
    t = r.t
    lines = [t(lang, title_key, start=r.when(report.start, lang),
               end=r.when(report.end - timedelta(seconds=1), lang)),
             t(lang, "report.summary", complaints=report.complaints,
               cumulative=report.cumulative, closed_new=report.closed_new,
               closed_cumulative=report.closed_cumulative, rate=report.handling_rate,
               cumulative_rate=report.cumulative_handling_rate,
               complainants=report.complainants)]
    if report.complaint_rate is not None:
        lines.append(t(lang, "report.complaint_rate", rate=report.complaint_rate))
    lines.append(t(lang, "report.by_category"))
    for row in report.by_category:
        lines.append(t(lang, "report.category_line", category=r.category_name(row.category, lang),
                       count=row.count, closed=row.closed))
    lines.append(t(lang, "report.by_department"))
    for d in report.by_department:
        lines.append(t(lang, "report.department_line",
                       department=r.department_name(d.department, lang), count=d.count,
                       closed=d.closed, on_time=d.on_time, resolved=d.resolved,
                       satisfied=d.satisfied, rated=d.rated, repeat=d.repeat))
    if report.by_cause:
        lines.append(t(lang, "report.causes", causes="，".join(
            f"{cause} {n}" for cause, n in sorted(report.by_cause.items(), key=lambda x: -x[1]))))
    if report.serious:
        lines.append(t(lang, "report.serious"))
        lines += [f"  {n} {tier}: {reasons}" for n, tier, reasons in report.serious]
    if report.open_cases:
        lines.append(t(lang, "report.open", count=len(report.open_cases)))
        lines += [f"  {n} {r.status(s, lang)} ({last})" for n, s, last in report.open_cases[:50]]
    return "\n".join(lines)
