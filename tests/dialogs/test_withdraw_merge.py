"""Withdrawing a complaint and merging two cases about the same matter."""

from __future__ import annotations

import pytest

from core.cases.model import Status, Tier
from core.cases.service import DomainError
from tests.conftest import AppFactory
from tests.dialogs.script import Person, RecordingSender, deliver, file_complaint


def test_complainant_withdraws_after_confirming(make_app: AppFactory) -> None:
    app = make_app()
    outbox = RecordingSender("console")
    app.dispatcher.register(outbox)
    parent = Person(app, "parent")
    number = file_complaint(parent)
    parent.send("在吗")
    parent.pick("撤回投诉")
    parent.pick("不撤回")
    assert "继续办理" in parent.text
    parent.send("在吗")
    parent.pick("撤回投诉")
    parent.pick("确定撤回")
    assert "已撤回" in parent.text
    deliver(app)
    assert outbox.to("he")[-1].kind == "withdrawn"
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None and case.status == Status.WITHDRAWN and case.closed_at is not None


def test_manager_merges_cases_and_the_complainants_add_up(make_app: AppFactory) -> None:
    app = make_app()
    numbers = [file_complaint(Person(app, f"p{i}"), grievance=(f"第{i}次反映：滑梯坏了",),
                              category="后勤设施") for i in range(3)]
    with app.uow() as uow, pytest.raises(DomainError):
        app.service.merge(uow, numbers[1], numbers[0], "ma", "same slide")  # not a manager
    for n in numbers[1:]:
        with app.uow() as uow:
            app.service.merge(uow, n, numbers[0], "zhao", "同一滑梯")
            uow.commit()
    with app.uow() as uow:
        main = uow.cases.get(numbers[0])
        merged = uow.cases.get(numbers[1])
    assert main is not None and merged is not None
    assert main.complainants == 3 and main.tier == Tier.HOT  # 3 complainants: 热点
    assert merged.status == Status.MERGED and merged.merged_into == numbers[0]
