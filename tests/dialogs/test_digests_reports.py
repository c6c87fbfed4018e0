"""Digests (日盘点, weekly, monthly) and the monthly statistics table."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.cases.model import Satisfaction
from core.clock import FixedClock
from core.stats import period_report
from tests.conftest import AppFactory
from tests.dialogs.script import Person, RecordingSender, deliver, file_complaint


def test_daily_check_goes_once_to_heads_and_managers_even_after_downtime(
        make_app: AppFactory) -> None:
    app = make_app(now=datetime.fromisoformat("2026-11-23T08:00:00+08:00"))
    outbox = RecordingSender("console")
    app.dispatcher.register(outbox)
    clock = app.clock
    assert isinstance(clock, FixedClock)
    file_complaint(Person(app, "parent"))
    deliver(app)
    def sent(word: str) -> list:  # type: ignore[type-arg]
        return [m for m in outbox.sent if m.kind == "digest" and word in m.reply.text]

    managers = sorted(m.id for m in app.pack.managers())
    # 08:00 on Monday 23 Nov: October's monthly table is due (catch-up, once); the daily
    # check (08:30) and the weekly summary (09:00) are not yet
    assert sorted(m.recipient for m in sent("月度")) == managers
    assert sent("日盘点") == [] and sent("周报") == []
    clock.at = clock.at.replace(hour=9, minute=1)
    deliver(app)
    deliver(app)
    heads = sorted(d.head for d in app.pack.departments if d.head)
    daily = sent("日盘点")
    # one per department head, plus one to each manager (zhao is also a head)
    assert sorted(m.recipient for m in daily) == sorted(heads + managers)
    assert "德育办公室：新登记 1" in next(m for m in daily if m.recipient == "lin").reply.text
    assert sorted(m.recipient for m in sent("周报")) == managers
    assert len(sent("月度")) == len(managers)
    before = len(outbox.sent)
    clock.advance(timedelta(days=3))  # three days down: one daily check, not three
    deliver(app)
    new_daily = [m for m in outbox.sent[before:] if "日盘点" in m.reply.text]
    assert len(new_daily) == len(daily)
    assert all("2026-11-26" in m.reply.text for m in new_daily)


def test_monthly_table_counts_this_period_and_earlier_open_cases(make_app: AppFactory) -> None:
    app = make_app(now=datetime.fromisoformat("2026-10-20T10:00:00+08:00"))
    clock = app.clock
    assert isinstance(clock, FixedClock)
    old = file_complaint(Person(app, "a"))  # October, still open in November
    clock.at = datetime.fromisoformat("2026-11-03T10:00:00+08:00")
    n1 = file_complaint(Person(app, "b"), category="收费管理")
    file_complaint(Person(app, "c"), category="收费管理")
    handler = Person(app, "qian")
    handler.send(choice=f"act:resolve:{n1}")
    handler.pick("支持")
    handler.send("已退费")
    handler.pick("法（")  # the optional root cause offered after resolving
    assert "根本原因：法" in handler.text
    with app.uow() as uow:
        app.service.rate(uow, n1, Satisfaction.SATISFIED)
        uow.commit()
    start = datetime.fromisoformat("2026-11-01T00:00:00+08:00")
    end = datetime.fromisoformat("2026-12-01T00:00:00+08:00")
    with app.uow() as uow:
        report = period_report(uow.cases.for_period(start, end), start, end, None,
                               uow.cases.root_causes(start, end))
    assert report.by_cause == {"法": 1}
    assert (report.complaints, report.cumulative) == (2, 3)
    assert (report.closed_new, report.handling_rate) == (1, 50.0)
    assert report.cumulative_handling_rate == round(100 / 3, 1)
    assert [(r.category, r.count, r.closed) for r in report.by_category] == [("收费管理", 2, 1)]
    assert {n for n, _s, _e in report.open_cases} == {old, "2611-0002"}
    finance = next(d for d in report.by_department if d.department == "finance")
    assert (finance.count, finance.on_time, finance.resolved, finance.satisfied) == (2, 1, 1, 1)
