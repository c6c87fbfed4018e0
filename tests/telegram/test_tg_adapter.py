"""Unit tests of the library-free adapter: updates -> Inbound, Reply -> Bot API calls."""

from __future__ import annotations

import pytest

from bot.dialogs.types import Attachment, Choice, Reply
from bot.handlers.tg_adapter import (
    ApiCall,
    map_language,
    normalise_command,
    parse_update,
    render_pressed,
    render_reply,
    split_text,
)
from tests.telegram.fake_bot_api import FakeBotApi

USER = FakeBotApi.user(42, "Li", "zh-hans")
GROUP = FakeBotApi.group(-1001234)


def message_update(**content: object) -> dict[str, object]:
    chat = content.pop("chat", FakeBotApi.chat_of(USER))
    return {"update_id": 7, "message": {"message_id": 3, "from": USER, "chat": chat,
                                        "date": 0, **content}}


def test_text_message_becomes_inbound() -> None:
    parsed = parse_update(message_update(text="食堂饭菜有问题"))
    assert parsed is not None
    inbound = parsed.inbound
    assert inbound.channel == "telegram"
    assert inbound.user_id == "42"
    assert inbound.text == "食堂饭菜有问题"
    assert inbound.update_id == "7"
    assert inbound.language == "zh-hans"
    assert inbound.display_name == "Li"
    assert inbound.chat_id is None
    assert parsed.chat_id == 42 and parsed.private


def test_deep_link_start_payload_is_kept() -> None:
    parsed = parse_update(message_update(text="/start inv_AB12CD"))
    assert parsed is not None and parsed.inbound.text == "/start inv_AB12CD"


def test_group_command_addressed_to_us_loses_the_mention() -> None:
    update = message_update(text="/link@tousu_test_bot K7Q2", chat=GROUP)
    parsed = parse_update(update, "tousu_test_bot")
    assert parsed is not None
    assert parsed.inbound.text == "/link K7Q2"
    assert parsed.inbound.chat_id == "-1001234"
    assert parsed.chat_id == -1001234 and not parsed.private


def test_command_for_another_bot_is_ignored() -> None:
    update = message_update(text="/start@other_bot", chat=GROUP)
    assert parse_update(update, "tousu_test_bot") is None
    assert normalise_command("/help@Tousu_Test_Bot", "tousu_test_bot") == "/help"
    assert normalise_command("/help", "tousu_test_bot") == "/help"


def test_largest_photo_size_is_the_evidence() -> None:
    update = message_update(
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60},
            {"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 853},
            {"file_id": "mid", "file_unique_id": "m", "width": 320, "height": 213},
        ],
        caption="the broken slide",
    )
    parsed = parse_update(update)
    assert parsed is not None
    assert parsed.inbound.text == "the broken slide"
    assert parsed.inbound.attachments == (Attachment("photo", "big", mime="image/jpeg"),)


def test_document_keeps_name_and_mime() -> None:
    update = message_update(document={"file_id": "D1", "file_unique_id": "d",
                                      "file_name": "receipt.pdf", "mime_type": "application/pdf"})
    parsed = parse_update(update)
    assert parsed is not None
    assert parsed.inbound.attachments == (
        Attachment("document", "D1", name="receipt.pdf", mime="application/pdf"),
    )


def test_own_contact_is_a_phone_someone_elses_is_just_text() -> None:
    own = parse_update(message_update(contact={"phone_number": "+8613800000000",
                                               "first_name": "Li", "user_id": 42}))
    assert own is not None and own.inbound.contact_phone == "+8613800000000"
    other = parse_update(message_update(contact={"phone_number": "13900000000",
                                                 "first_name": "X", "user_id": 99}))
    assert other is not None
    assert other.inbound.contact_phone is None and other.inbound.text == "13900000000"


def test_callback_query_becomes_choice_with_pressed_label() -> None:
    message = {"message_id": 9, "chat": FakeBotApi.chat_of(USER), "date": 0, "text": "Category?",
               "reply_markup": {"inline_keyboard": [[{"text": "Canteen", "callback_data": "c:f"}]]}}
    update = {"update_id": 8, "callback_query": {"id": "Q1", "from": USER, "message": message,
                                                 "chat_instance": "1", "data": "c:f"}}
    parsed = parse_update(update)
    assert parsed is not None
    assert parsed.inbound.choice == "c:f" and parsed.inbound.text is None
    assert parsed.callback_query_id == "Q1" and parsed.pressed_label == "Canteen"
    edit = render_pressed(parsed)
    assert edit == ApiCall("editMessageText",
                           {"chat_id": 42, "message_id": 9, "text": "Category?\n\n› Canteen"})


def test_group_button_press_carries_the_group() -> None:
    message = {"message_id": 2, "chat": GROUP, "date": 0, "text": "Extension?"}
    update = {"update_id": 9, "callback_query": {"id": "Q2", "from": USER, "message": message,
                                                 "chat_instance": "1", "data": "ext:ok:1"}}
    parsed = parse_update(update)
    assert parsed is not None
    assert parsed.inbound.chat_id == "-1001234" and parsed.inbound.user_id == "42"
    assert parsed.chat_id == -1001234


@pytest.mark.parametrize("update", [
    {"update_id": 1, "edited_message": {"message_id": 1, "chat": {"id": 1, "type": "private"}}},
    {"update_id": 2, "my_chat_member": {}},
    {"update_id": 3, "message": {"message_id": 1, "from": USER, "chat": FakeBotApi.chat_of(USER),
                                 "date": 0, "sticker": {"file_id": "S"}}},
    {"update_id": 4, "message": {"message_id": 1, "from": {"id": 5, "is_bot": True,
                                                           "first_name": "B"},
                                 "chat": GROUP, "date": 0, "text": "hi"}},
])
def test_updates_tousu_ignores(update: dict[str, object]) -> None:
    assert parse_update(update) is None


@pytest.mark.parametrize(("code", "expected"), [
    ("zh-hans", "zh-CN"), ("zh-hant", "zh-CN"), ("zh", "zh-CN"), ("en", "en"),
    ("en-US", "en"), ("de", "zh-CN"), (None, "zh-CN"), ("", "zh-CN"),
])
def test_language_mapping(code: str | None, expected: str) -> None:
    assert map_language(code) == expected


def test_choices_become_inline_keyboard_with_callback_data() -> None:
    reply = Reply("Rate us", choices=(Choice("s:5", "满意"), Choice("s:3", "一般"),
                                      Choice("s:1", "不满意")))
    (call,) = render_reply(42, reply)
    assert call.method == "sendMessage"
    buttons = [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [(b["text"], b["callback_data"]) for b in buttons] == [
        ("满意", "s:5"), ("一般", "s:3"), ("不满意", "s:1")]


def test_long_labels_get_their_own_rows() -> None:
    reply = Reply("Act", choices=(Choice("a", "Accept the case now"), Choice("b", "Transfer it")))
    (call,) = render_reply(42, reply)
    assert len(call.params["reply_markup"]["inline_keyboard"]) == 2


def test_callback_data_over_64_bytes_is_refused() -> None:
    with pytest.raises(ValueError):
        render_reply(42, Reply("x", choices=(Choice("k" * 65, "label"),)))


def test_request_contact_is_a_one_time_reply_keyboard_in_the_users_language() -> None:
    (call,) = render_reply(42, Reply("Your phone?", request_contact=True), language="en")
    keyboard = call.params["reply_markup"]
    assert keyboard["one_time_keyboard"] is True
    assert keyboard["keyboard"] == [[{"text": "📱 Share my phone number", "request_contact": True}]]


def test_request_contact_with_choices_needs_a_second_message() -> None:
    reply = Reply("Phone? Or skip", choices=(Choice("skip", "Skip"),), request_contact=True)
    first, second = render_reply(42, reply)
    assert "inline_keyboard" in first.params["reply_markup"]
    assert second.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True


def test_plain_private_reply_removes_the_contact_keyboard_group_reply_does_not() -> None:
    (private,) = render_reply(42, Reply("Thanks"))
    assert private.params["reply_markup"] == {"remove_keyboard": True}
    (group,) = render_reply(-1001234, Reply("Approved"))
    assert "reply_markup" not in group.params


def test_attachments_are_sent_by_file_id_after_the_text() -> None:
    reply = Reply("Evidence of 2611-0001", attachments=(
        Attachment("photo", "PHOTO_ID"), Attachment("document", "DOC_ID", name="a.pdf")))
    calls = render_reply(42, reply)
    assert [c.method for c in calls] == ["sendMessage", "sendPhoto", "sendDocument"]
    assert calls[1].params == {"chat_id": 42, "photo": "PHOTO_ID"}
    assert calls[2].params == {"chat_id": 42, "document": "DOC_ID", "caption": "a.pdf"}


def test_long_text_is_split_and_keyboard_goes_on_the_last_part() -> None:
    text = "\n".join(f"line {i} " + "x" * 90 for i in range(100))
    parts = split_text(text)
    assert all(len(p) <= 4096 for p in parts) and len(parts) == 3
    calls = render_reply(42, Reply(text, choices=(Choice("k", "OK"),)))
    assert len(calls) == 3
    assert "inline_keyboard" in calls[-1].params["reply_markup"]
    assert "reply_markup" not in calls[0].params
