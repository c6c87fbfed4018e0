"""Corrections by complainants and transfers by staff become learning signals."""

from __future__ import annotations

from bot.feedback import feedback_from_cases
from tests.conftest import AppFactory
from tests.dialogs.script import Person, file_complaint


def test_corrections_and_transfers_are_read_back_from_the_event_log(
        make_app: AppFactory) -> None:
    app = make_app()
    corrected = file_complaint(Person(app, "a"), grievance=("老师收了家长的红包",),
                               category="收费管理")  # the bot suggested 师德师风
    moved = file_complaint(Person(app, "b"), grievance=("孩子被罚站一个小时",),
                           category="师德师风")
    handler = Person(app, "he")
    handler.send(choice=f"act:transfer:{moved}")
    handler.pick("财务室")
    handler.send("其实是收费纠纷")
    with app.uow() as uow:
        cases = uow.cases.load_many(uow.cases.list_rows())
    samples = sorted(feedback_from_cases(app.pack, cases))
    assert ("老师收了家长的红包", "师德师风", "收费管理") in samples
    assert ("孩子被罚站一个小时", "师德师风", "收费管理") in samples
    assert corrected != moved
