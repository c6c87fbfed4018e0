"""Whole intake conversations through the dialog engine, bad input included."""

from __future__ import annotations

from bot.dialogs.types import Attachment
from tests.conftest import AppFactory
from tests.dialogs.script import Person, file_complaint


def test_parent_files_a_complaint_and_gets_number_and_deadline(make_app: AppFactory) -> None:
    app = make_app()
    parent = Person(app, "parent1")
    number = file_complaint(parent, grievance=("11月20日午睡时王老师让孩子罚站", "还骂孩子笨"))
    assert number == "2611-0001"
    # 7 working days after Monday 2026-11-23, day of receipt not counted: Wed 2 Dec, 17:30
    assert "2026年12月2日 17:30" in parent.text
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None
    assert case.complainant.name == "张妈妈"
    assert case.complainant.contact == "+8613812345678"
    assert case.grievance == "11月20日午睡时王老师让孩子罚站\n还骂孩子笨"
    assert case.category == "师德师风" and case.department == "moral"
    assert case.handler == "he"  # the department's plain handler, not its head
    assert [e.type for e in case.events] == ["registered", "assigned"]


def test_readback_before_registering_shows_every_field(make_app: AppFactory) -> None:
    app = make_app()
    p = Person(app, "p")
    p.send("/start")
    p.send("李爸爸")
    p.send("139 1234 5678")
    p.send("食堂")
    p.send("孩子说午餐的饭菜有异味，吃完拉肚子")
    p.pick("说完了")
    p.send("希望整改")
    p.press("cat:")
    text = p.text
    for expected in ("李爸爸", "139 1234 5678", "食堂", "饭菜有异味", "希望整改", "餐饮卫生"):
        assert expected in text
    assert [label for _, label in p.choices()] == ["确认提交", "重新填写", "取消"]
    with app.uow() as uow:
        assert uow.cases.list_rows() == []  # nothing registered before confirmation


def test_anonymous_complaint_skips_contact_and_stores_no_identity(make_app: AppFactory) -> None:
    app = make_app()
    p = Person(app, "anon-user")
    number = file_complaint(p, name=None)
    with app.uow() as uow:
        case = uow.cases.get(number)
    assert case is not None and case.complainant.anonymous
    assert case.complainant.name is None and case.complainant.contact is None


def test_bad_input_gets_a_polite_answer_and_the_same_question(make_app: AppFactory) -> None:
    app = make_app()
    p = Person(app, "p")
    p.send("/start")
    p.send("   ")
    assert "不能为空" in p.text and "怎么称呼" in p.text
    p.send("😀😀😀")
    assert "表情" in p.text
    p.send("张" * 41)
    assert "太长" in p.text and "40" in p.text
    p.send("王女士")
    p.send("12345")
    assert "电话号码好像不对" in p.text
    p.send("+86 138-1234-5678")
    assert "投诉的是" in p.text
    p.send("后勤")
    p.send(choice="done")  # nothing said yet
    assert "不能为空" in p.text
    p.send("滑梯坏了")
    p.send("x" * 2001)
    assert "太长" in p.text


def test_english_user_is_answered_in_english(make_app: AppFactory) -> None:
    app = make_app()
    p = Person(app, "en-user", language="en-GB")
    p.send("/start")
    assert "What is your name" in p.text
    p.send("Ann")
    p.send("not a phone")
    assert "phone number doesn't look right" in p.text


def test_cancel_and_back_and_restart(make_app: AppFactory) -> None:
    app = make_app()
    p = Person(app, "p")
    p.send("/start")
    p.send("王女士")
    p.send("/back")
    assert "怎么称呼" in p.text
    p.send("王女士")
    p.send("13812345678")
    p.send("/cancel")
    assert "已取消" in p.text
    p.send("/cancel")
    assert "没有正在进行" in p.text
    p.send("/start")
    assert "怎么称呼" in p.text
    with app.uow() as uow:
        assert uow.cases.list_rows() == []


def test_typed_number_or_label_picks_a_choice(make_app: AppFactory) -> None:
    app = make_app()
    p = Person(app, "p")
    p.send("/start")
    p.send("1")  # "1. 匿名投诉"
    assert "投诉的是" in p.text
    p.send("门卫")
    p.send("放学时门卫不在岗，孩子差点被陌生人接走")
    p.send("说完了")  # the label of the only choice
    assert "怎样处理" in p.text


def test_words_typed_instead_of_a_button_pick_it(make_app: AppFactory) -> None:
    app = make_app()
    p = Person(app, "p")
    p.send("/start")
    p.send("匿名。")  # the catalogue's typed.anonymous, trailing punctuation ignored
    assert "投诉的是" in p.text
    q = Person(app, "q")
    for said in ("/start", "李爸爸", "跳过"):  # no phone: typed.chat_only, not a bad number
        q.send(said)
    assert "投诉的是" in q.text
    for said in ("门卫", "放学时门卫不在岗，孩子差点被陌生人接走", "没了"):
        q.send(said)
    assert "怎样处理" in q.text
    q.send("希望加强门卫管理")
    q.press("cat:")
    q.send("对")  # typed.yes at the read-back
    with app.uow() as uow:
        rows = uow.cases.list_rows()
    assert len(rows) == 1
    with app.uow() as uow:
        case = uow.cases.get(rows[0].number)
    assert case is not None and case.complainant.name == "李爸爸"
    assert case.complainant.contact is None


def test_unsure_suggestion_lists_the_top_three_first(make_app: AppFactory) -> None:
    # the hotline has no catch-all category: its last class (纪检监察) is not held back
    app = make_app(pack="hotline", classifier="nlp")
    p = Person(app, "p")
    for said in ("/start", "1", "单位领导", "领导作风有问题", "说完了"):
        p.send(said)
    p.send("希望处理")
    assert "最符合" in p.text  # unsure: the three likeliest first, then the rest
    labels = [label for _, label in p.choices()]
    assert len(labels) == 15 and "纪检监察" in labels[:3]


def test_redelivered_update_acts_once(make_app: AppFactory) -> None:
    app = make_app()
    p = Person(app, "p")
    p.send("/start")
    first = p.send("王女士", update_id="tg-100")
    again = p.send("王女士", update_id="tg-100")
    assert first and again == first  # the same answer again, nothing done twice
    with app.uow() as uow:
        state = uow.dialogs.get("console", "p")
    assert state is not None and state.step == "contact"


def test_evidence_photos_and_console_file_paths_are_kept(make_app: AppFactory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app()
    photo = tmp_path / "receipt.jpg"
    photo.write_bytes(b"\xff\xd8fake")
    p = Person(app, "p")
    p.send("/start")
    p.pick("匿名")
    p.send("财务室")
    p.send("多收了300元资料费")
    p.send(str(photo))
    assert "1 份证据" in p.text
    p.send(attachments=(Attachment("photo", "AgADBAADfileid"),))
    p.pick("说完了")
    p.send("退费")
    p.press("cat:")
    p.pick("确认提交")
    with app.uow() as uow:
        rows = uow.cases.list_rows()
        case = uow.cases.get(rows[0].number)
    assert case is not None
    assert [(e.kind, e.name) for e in case.evidence] == [("file", "receipt.jpg"),
                                                         ("photo", None)]
