"""A complaint's whole life through the dialog engine: handler, manager, complainant, survey."""

from __future__ import annotations

from datetime import timedelta

from core.cases.model import Status, Tier
from core.clock import FixedClock
from tests.conftest import AppFactory
from tests.dialogs.script import Person, RecordingSender, deliver, file_complaint


def test_whole_life_resolve_unsatisfied_reopen_then_close(make_app: AppFactory) -> None:
    app = make_app()
    outbox = RecordingSender("console")
    app.dispatcher.register(outbox)
    parent, handler, manager = Person(app, "parent"), Person(app, "he"), Person(app, "zhao")
    number = file_complaint(parent)
    deliver(app)
    card = outbox.to("he")[-1]
    assert card.kind == "assigned" and number in card.reply.text
    assert "138****5678" in card.reply.text  # 何老师 may not see full phone numbers
    assert [c.label for c in card.reply.choices][:2] == ["受理", "报告进展"]

    handler.send(choice=f"act:accept:{number}")
    assert "已受理" in handler.text
    handler.pick("报告进展")
    handler.send("已与当班老师谈话，正在调取监控")
    handler.pick("请投诉人补充")
    handler.send("请提供事发的具体时间")
    deliver(app)
    kinds = [m.kind for m in outbox.to("parent")]
    assert kinds == ["accepted", "progress", "ask_more"]
    assert "调取监控" in outbox.to("parent")[1].reply.text

    parent.send("大约是中午12点半")  # answering the question, outside any flow
    assert "已转给" in parent.text
    deliver(app)
    assert "12点半" in outbox.to("he")[-1].reply.text

    handler.send(choice=f"act:extend:{number}")
    handler.send("5")  # five working days (not the fifth option)
    handler.send("监控需要厂家导出")
    deliver(app)
    request = outbox.to("zhao")[-1]
    assert request.kind == "extension_requested"
    not_manager = Person(app, "wang")
    not_manager.send(choice=request.reply.choices[0].key)
    assert "只有管理人员" in not_manager.text
    manager.send(choice=request.reply.choices[0].key)
    assert "已批准" in manager.text and "2026年12月9日" in manager.text
    deliver(app)
    assert outbox.to("parent")[-1].kind == "extension_notice"
    assert "2026年12月9日" in outbox.to("parent")[-1].reply.text

    handler.send(choice=f"act:resolve:{number}")
    handler.pick("解释")
    handler.send("经核实，老师当时是让孩子到门口冷静，并非罚站；已向家长说明并道歉。")
    deliver(app)  # the school pack revisits at once
    parent_msgs = outbox.to("parent")
    assert [m.kind for m in parent_msgs[-2:]] == ["resolved", "survey"]
    survey = parent_msgs[-1]
    assert [c.label for c in survey.reply.choices] == ["满意", "基本满意", "不满意"]

    parent.send(choice=survey.reply.choices[2].key)
    parent.send("老师并没有道歉")
    assert "重新办理" in parent.text
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None
    assert case.status == Status.ASSIGNED and case.tier == Tier.IMPORTANT
    assert case.handler == "lin" and case.level == 1  # one level up: the department head

    head = Person(app, "lin")
    head.send(choice=f"act:resolve:{number}")
    head.pick("支持")
    head.send("已约谈当事老师，老师已当面道歉，并将加强师德培训。")
    deliver(app)
    second_survey = outbox.to("parent")[-1]
    assert second_survey.kind == "survey"
    parent.send(choice=second_survey.reply.choices[0].key)
    assert "已办结" in parent.text
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None and case.status == Status.CLOSED
    types = [e.type for e in case.events]
    for expected in ("registered", "assigned", "accepted", "progress", "asked_complainant",
                     "complainant_answered", "extension_requested", "extension_approved",
                     "resolved", "survey_sent", "rated", "reopened", "tier_raised", "closed"):
        assert expected in types
    assert [e.seq for e in case.events] == list(range(1, len(case.events) + 1))


def test_accused_staff_never_handles_nor_sees_the_case(make_app: AppFactory) -> None:
    app = make_app()
    outbox = RecordingSender("console")
    app.dispatcher.register(outbox)
    number = file_complaint(Person(app, "parent"), target="何老师",
                            grievance=("何老师体罚孩子，让孩子罚站一个小时",))
    deliver(app)
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None and case.target_staff == "he"
    assert case.handler == "lin"  # the only other person in the department
    assert outbox.to("he") == []
    accused = Person(app, "he")
    accused.send(choice=f"case:{number}")
    assert "回避" in accused.text and "张妈妈" not in accused.text
    accused.send(choice=f"act:accept:{number}")
    assert "回避" in accused.text


def test_transfer_to_another_department_with_reason(make_app: AppFactory) -> None:
    app = make_app()
    number = file_complaint(Person(app, "parent"), category="师德师风")
    handler = Person(app, "he")
    handler.send(choice=f"act:transfer:{number}")
    handler.pick("财务室")
    handler.send("实为收费问题")
    assert "已转至财务室" in handler.text
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None and case.department == "finance" and case.handler == "qian"
    transferred = [e for e in case.events if e.type == "transferred"][0]
    assert transferred.data == {"from": "moral", "to": "finance", "reason": "实为收费问题"}
    assert transferred.actor == "staff:he"


def test_waiting_on_complainant_pauses_the_resolution_clock(make_app: AppFactory) -> None:
    app = make_app()
    clock = app.clock
    assert isinstance(clock, FixedClock)
    number = file_complaint(Person(app, "parent"))
    with app.uow() as uow:
        due_before = uow.cases.get(number).due_resolution  # type: ignore[union-attr]
    handler = Person(app, "he")
    handler.send(choice=f"act:ask:{number}")
    handler.send("请提供收据照片")
    clock.advance(timedelta(days=1))  # Tuesday: one full working day waiting
    Person(app, "parent").send("收据已找到，明天发")
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None and case.status == Status.IN_PROGRESS
    assert case.due_resolution is not None and due_before is not None
    assert case.due_resolution - due_before == timedelta(days=1)


def test_extension_refused_needs_a_reason_and_tells_the_handler(make_app: AppFactory) -> None:
    app = make_app()
    outbox = RecordingSender("console")
    app.dispatcher.register(outbox)
    number = file_complaint(Person(app, "parent"))
    Person(app, "he").send(choice=f"act:extend:{number}")
    Person(app, "he").send("1")  # one working day, although three options are on screen
    Person(app, "he").send("人手不足")
    deliver(app)
    assert "延期 1 个工作日" in outbox.to("zhao")[-1].reply.text
    refuse = outbox.to("zhao")[-1].reply.choices[1].key
    manager = Person(app, "zhao")
    manager.send(choice=refuse)
    manager.send("")
    assert "不能为空" in manager.text
    manager.send("按时办结")
    assert "已驳回" in manager.text
    deliver(app)
    assert outbox.to("he")[-1].kind == "extension_refused"
    assert "按时办结" in outbox.to("he")[-1].reply.text
