"""Promised reply times, acknowledging alerts, and complaining again about a closed case."""

from __future__ import annotations

from datetime import timedelta

from bot.bootstrap import App
from core.cases.model import Status, Tier
from core.clock import FixedClock
from tests.conftest import AppFactory
from tests.dialogs.script import Person, RecordingSender, deliver, file_complaint


def _promise_flow(make_app: AppFactory) -> tuple[App, RecordingSender, FixedClock, str, Person]:
    """A filed case whose handler has chosen "promise a reply time"."""
    app = make_app()
    outbox = RecordingSender("console")
    app.dispatcher.register(outbox)
    clock = app.clock
    assert isinstance(clock, FixedClock)
    number = file_complaint(Person(app, "parent"))
    handler = Person(app, "he")
    handler.send(choice=f"act:promise:{number}")
    return app, outbox, clock, number, handler


def test_a_promised_reply_time_is_a_deadline(make_app: AppFactory) -> None:
    app, outbox, clock, number, handler = _promise_flow(make_app)
    handler.send("11-25 15:00")
    assert "2026年11月25日 15:00" in handler.text
    deliver(app)
    assert outbox.to("parent")[-1].kind == "promised"
    clock.at = clock.at.replace(day=25, hour=15, minute=1)
    deliver(app)
    missed = outbox.to("he")[-1]
    assert missed.kind == "promise_missed"
    ack = next(c for c in missed.reply.choices if c.key.startswith("ack:"))
    handler.send(choice=ack.key)
    assert "已确认收到" in handler.text
    handler.send(choice=ack.key)
    assert "已确认过" in handler.text
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None
    assert [e.type for e in case.events].count("acknowledged") == 1


def test_promise_kept_by_a_reply_raises_no_alarm(make_app: AppFactory) -> None:
    app, outbox, clock, number, handler = _promise_flow(make_app)
    handler.send("2")  # two working days
    handler.send(choice=f"act:progress:{number}")
    handler.send("已调查完毕，明天给出处理意见")
    clock.advance(timedelta(days=3))
    deliver(app)
    assert "promise_missed" not in [m.kind for m in outbox.to("he")]


def test_bad_promise_times_are_explained(make_app: AppFactory) -> None:
    app = make_app()
    number = file_complaint(Person(app, "parent"))
    handler = Person(app, "he")
    handler.send(choice=f"act:promise:{number}")
    handler.send("下周吧")
    assert "没看懂这个时间" in handler.text
    handler.send("2020-01-01")
    assert "已经过去" in handler.text


def test_complaining_again_about_a_closed_case_reopens_it_one_level_up(
        make_app: AppFactory) -> None:
    app = make_app()
    outbox = RecordingSender("console")
    app.dispatcher.register(outbox)
    parent = Person(app, "parent")
    number = file_complaint(parent)
    handler = Person(app, "he")
    handler.send(choice=f"act:resolve:{number}")
    handler.pick("支持")
    handler.send("已处理")
    deliver(app)
    parent.send(choice=outbox.to("parent")[-1].reply.choices[0].key)  # 满意 -> closed
    parent.send("你好")
    parent.pick("再次投诉")
    parent.send("老师又罚站了")
    assert "重新办理" in parent.text
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None
    assert (case.status, case.tier, case.handler) == (Status.ASSIGNED, Tier.IMPORTANT, "lin")
