"""Storage on SQLite and on PostgreSQL: round trips, append-only events, concurrency, outbox."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.bootstrap import App
from core.cases.model import Status
from core.cases.service import Intake
from core.clock import FixedClock
from storage.migrate import current_revision, upgrade
from tests.conftest import AppFactory
from tests.dialogs.script import RecordingSender


@pytest.fixture(params=["sqlite", "postgres"])
def db_app(request: pytest.FixtureRequest, make_app: AppFactory) -> App:
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        return make_app(database_url=url)
    return make_app()


def _intake(user: str = "u1", **kw: object) -> Intake:
    values: dict[str, object] = dict(channel="console", user_id=user, name="张三",
                                     contact="+8613812345678", anonymous=False, target="食堂",
                                     grievance="饭菜有异味", request="整改", category="餐饮卫生")
    values.update(kw)
    return Intake(**values)  # type: ignore[arg-type]


def _register(app: App, **kw: object) -> str:
    with app.uow() as uow:
        case = app.service.register(uow, _intake(**kw))
        uow.commit()
        return case.number


def test_case_round_trip_with_events_and_outbox(db_app: App) -> None:
    number = _register(db_app)
    with db_app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None
    assert (case.category, case.department, case.handler) == ("餐饮卫生", "logistics", "ma")
    assert case.complainant.contact == "+8613812345678"
    assert case.received_at == db_app.clock.now()
    assert case.due_resolution is not None and case.due_resolution.tzinfo is not None
    assert [e.type for e in case.events] == ["registered", "assigned"]
    rows = db_app.outbox.rows()
    assert [(r.channel, r.recipient, r.kind) for r in rows] == [("console", "ma", "assigned")]


def test_events_are_append_only_in_the_database(db_app: App) -> None:
    _register(db_app)
    for statement in ("UPDATE case_events SET type = 'edited'", "DELETE FROM case_events"):
        with pytest.raises(DBAPIError, match="append-only"), db_app.db.begin() as conn:
            conn.execute(text(statement))
    with db_app.db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_events")).scalar_one() == 2


def test_numbers_stay_unique_under_concurrent_registration(db_app: App) -> None:
    numbers: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            for j in range(6):
                n = _register(db_app, user=f"u{i}-{j}")
                with lock:
                    numbers.append(n)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(numbers) == [f"2611-{n:04d}" for n in range(1, 37)]


def test_outbox_dedupe_claims_and_retries(db_app: App) -> None:
    number = _register(db_app)
    with db_app.uow() as uow:
        again = uow.add_outbox(dedupe_key=f"{number}:2:assigned:staff:ma:console:ma",
                               channel="console", recipient="ma", kind="assigned",
                               payload={"text": "dup"}, now=db_app.clock.now())
        uow.commit()
    assert again is False and len(db_app.outbox.rows()) == 1
    now = db_app.clock.now()
    first = db_app.outbox.claim(now, ["console"])
    second = db_app.outbox.claim(now, ["console"])  # leased to the first dispatcher
    assert len(first) == 1 and second == []
    db_app.outbox.mark_failed(first[0].id, now, "boom", now + timedelta(seconds=30))
    assert db_app.outbox.claim(now, ["console"]) == []
    later = db_app.outbox.claim(now + timedelta(seconds=31), ["console"])
    assert [r.id for r in later] == [first[0].id] and later[0].attempts == 1


def test_dispatcher_delivers_once_and_marks_unreachable(db_app: App) -> None:
    from bot.messaging import RecipientUnreachable

    class Blocked(RecordingSender):
        async def send(self, message):  # type: ignore[no-untyped-def]
            if message.recipient == "u1":
                raise RecipientUnreachable("bot blocked")
            await super().send(message)

    sender = Blocked("console")
    db_app.dispatcher.register(sender)
    number = _register(db_app)
    with db_app.uow() as uow:
        db_app.service.accept(uow, number, "ma")
        uow.commit()
    assert asyncio.run(db_app.dispatcher.dispatch_once()) == 1  # the assignment card
    assert asyncio.run(db_app.dispatcher.dispatch_once()) == 1  # "unreachable" to the handler
    assert asyncio.run(db_app.dispatcher.dispatch_once()) == 0
    kinds = [m.kind for m in sender.sent]
    assert kinds == ["assigned", "unreachable"]
    with db_app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None and not case.complainant.reachable


def test_two_concurrent_sweepers_take_each_step_once(db_app: App) -> None:
    numbers = [_register(db_app, user=f"u{i}") for i in range(12)]
    clock = db_app.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(days=20))  # every reminder and escalation is now due
    barrier = threading.Barrier(2)

    def sweep() -> None:
        barrier.wait()
        db_app.sweeper.run_once(batch=5)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db_app.sweeper.run_once()
    with db_app.uow() as uow:
        for number in numbers:
            case = uow.cases.get(number)
            assert case is not None
            keys = [e.data["key"] for e in case.events if "key" in e.data]
            assert len(keys) == len(set(keys)) == 7  # 2 first-response + 2 resolution
            #                                           reminders + 3 escalation steps
            assert case.status == Status.ASSIGNED


def test_migrations_are_idempotent(db_app: App) -> None:
    assert current_revision(db_app.db) == "0004"
    upgrade(db_app.db)
    assert current_revision(db_app.db) == "0004"


def test_a_sweep_killed_midway_is_finished_by_the_next_one_without_repeats(
        db_app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = [_register(db_app, user=f"u{i}") for i in range(6)]
    clock = db_app.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(days=20))
    real = db_app.service.sweep_case
    done: list[str] = []

    def dies_after_three(uow, number):  # type: ignore[no-untyped-def]
        if len(done) == 3:
            raise KeyboardInterrupt("process killed")  # not caught by the sweeper
        done.append(number)
        return real(uow, number)

    monkeypatch.setattr(db_app.service, "sweep_case", dies_after_three)
    with pytest.raises(KeyboardInterrupt):
        db_app.sweeper.run_once()
    monkeypatch.setattr(db_app.service, "sweep_case", real)
    report = db_app.sweeper.run_once()
    assert report.cases == 3
    with db_app.uow() as uow:
        for number in numbers:
            case = uow.cases.get(number)
            assert case is not None
            keys = [e.data["key"] for e in case.events if "key" in e.data]
            assert len(keys) == len(set(keys)) == 7


def test_whole_intake_dialog_and_redelivery_on_each_database(db_app: App) -> None:
    from tests.dialogs.script import Person, file_complaint

    parent = Person(db_app, "parent")
    number = file_complaint(parent)
    again = parent.send("/status", update_id="same-update")
    assert again == parent.send("/status", update_id="same-update")  # answered again, once
    with db_app.uow() as uow:
        case = uow.cases.get(number)
        state = uow.dialogs.get("console", "parent")
    assert case is not None and case.complainant.name == "张妈妈"
    assert state is not None and state.flow is None
