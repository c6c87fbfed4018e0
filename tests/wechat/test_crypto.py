"""verify → decrypt → parse, with the sample vectors of WeChat's message-crypto documentation."""

from __future__ import annotations

import base64
import time

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from bot.handlers.wechat_crypto import (
    BadSignature,
    CallbackCrypto,
    CallbackQuery,
    DecryptError,
    MalformedMessage,
    StaleTimestamp,
    cdata_safe,
    signature_of,
)
from tests.wechat.conftest import MP_AES_KEY, MP_APP_ID, MP_TOKEN, sign_aes, sign_plain, text_xml

# Official Account sample (公众号消息加解密 sample code: Sample.py / WXBizMsgCrypt).
OA_TOKEN = "spamtest"
OA_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OA_APP_ID = "wx2c2769f8efd9abc2"
OA_TIMESTAMP = "1409735669"
OA_NONCE = "1320562132"
OA_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
OA_FROM_XML = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
    "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
    "<CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId>"
    "<Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87w"
    "zQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWy"
    "WNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwM"
    "rCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1D"
    "lD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE"
    "=]]></Encrypt></xml>"
)

# WeCom sample (企业微信 加解密方案说明 / WXBizMsgCrypt samples).
WORK_TOKEN = "QDG6eK"
WORK_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WORK_CORP_ID = "wx5823bf96d3bd56c7"
WORK_VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": (
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    ),
}
WORK_POST = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
}
WORK_POST_XML = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA["
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczcd"
    "CUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd"
    "4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2"
    "r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Nc"
    "x4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uy"
    "PIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)


def at(ts: str) -> CallbackCrypto:
    return CallbackCrypto(OA_TOKEN, OA_AES_KEY, OA_APP_ID, wall_clock=lambda: int(ts) + 1)


def test_official_account_sample_vector_decrypts() -> None:
    query = CallbackQuery(
        timestamp=OA_TIMESTAMP, nonce=OA_NONCE, msg_signature=OA_MSG_SIGNATURE, encrypt_type="aes"
    )
    msg = at(OA_TIMESTAMP).unwrap(query, OA_FROM_XML.encode())
    assert msg.msg_type == "text"
    assert msg.get("Content") == "abcdteT"
    assert msg.from_user == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert msg.msg_id == "6054768590064713728"
    assert msg.dedupe_key == "6054768590064713728"


def test_sample_vector_is_a_replay_today() -> None:
    query = CallbackQuery(
        timestamp=OA_TIMESTAMP, nonce=OA_NONCE, msg_signature=OA_MSG_SIGNATURE, encrypt_type="aes"
    )
    crypto = CallbackCrypto(OA_TOKEN, OA_AES_KEY, OA_APP_ID)  # the real clock: 2014 is stale
    with pytest.raises(StaleTimestamp):
        crypto.unwrap(query, OA_FROM_XML.encode())


def test_wecom_sample_vectors_verify_url_and_decrypt() -> None:
    crypto = CallbackCrypto(
        WORK_TOKEN,
        WORK_AES_KEY,
        WORK_CORP_ID,
        enterprise=True,
        wall_clock=lambda: 1409659813,
    )
    assert crypto.verify_url(CallbackQuery.from_mapping(WORK_VERIFY)) == "1616140317555161061"
    msg = crypto.unwrap(CallbackQuery.from_mapping(WORK_POST), WORK_POST_XML.encode())
    assert (msg.msg_type, msg.get("Content"), msg.from_user) == ("text", "hello", "mycreate")
    assert msg.msg_id == "4561255354251345929"
    assert msg.get("AgentID") == "218"


def test_wecom_sample_with_another_corp_id_does_not_decrypt() -> None:
    crypto = CallbackCrypto(
        WORK_TOKEN, WORK_AES_KEY, "ww_not_the_corp", enterprise=True, wall_clock=lambda: 1409659813
    )
    with pytest.raises(DecryptError):
        crypto.unwrap(CallbackQuery.from_mapping(WORK_POST), WORK_POST_XML.encode())


def test_tampered_sample_signature_is_refused() -> None:
    query = CallbackQuery(
        timestamp=OA_TIMESTAMP,
        nonce="1320562133",
        msg_signature=OA_MSG_SIGNATURE,
        encrypt_type="aes",
    )
    with pytest.raises(BadSignature):
        at(OA_TIMESTAMP).unwrap(query, OA_FROM_XML.encode())


def test_plain_mode_signature_and_window() -> None:
    crypto = CallbackCrypto(MP_TOKEN, None, MP_APP_ID)
    signed = sign_plain(text_xml("你好"))
    msg = crypto.unwrap(CallbackQuery.from_mapping(signed.params), signed.body)
    assert msg.get("Content") == "你好"
    forged = dict(signed.params, signature="0" * 40)
    with pytest.raises(BadSignature):
        crypto.unwrap(CallbackQuery.from_mapping(forged), signed.body)
    old = sign_plain(text_xml("你好"), timestamp=int(time.time()) - 301)
    with pytest.raises(StaleTimestamp):
        crypto.unwrap(CallbackQuery.from_mapping(old.params), old.body)
    future = sign_plain(text_xml("你好"), timestamp=int(time.time()) + 400)
    with pytest.raises(StaleTimestamp):
        crypto.unwrap(CallbackQuery.from_mapping(future.params), future.body)
    fine = sign_plain(text_xml("你好"), timestamp=int(time.time()) - 290)
    assert crypto.unwrap(CallbackQuery.from_mapping(fine.params), fine.body).msg_type == "text"


def test_safe_mode_round_trip_and_reply_is_decryptable_by_wechat() -> None:
    crypto = CallbackCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID)
    signed = sign_aes(text_xml("安全模式"))
    query = CallbackQuery.from_mapping(signed.params)
    assert crypto.unwrap(query, signed.body).get("Content") == "安全模式"
    wrapped = crypto.wrap("<xml><Content><![CDATA[ok]]></Content></xml>", query)
    outer = xmltodict.parse(wrapped)["xml"]
    # what WeChat's server does with our answer
    wechat = WeChatCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID)
    inner = wechat.decrypt_message(
        wrapped, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
    )
    assert "<Content><![CDATA[ok]]></Content>" in inner


def test_compatible_mode_trusts_only_the_ciphertext() -> None:
    crypto = CallbackCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID)
    signed = sign_aes(
        text_xml("真实内容"), compatible=True, plaintext_override=text_xml("伪造的明文")
    )
    msg = crypto.unwrap(CallbackQuery.from_mapping(signed.params), signed.body)
    assert msg.get("Content") == "真实内容"


def test_garbage_and_wrong_key() -> None:
    crypto = CallbackCrypto(MP_TOKEN, MP_AES_KEY, MP_APP_ID)
    with pytest.raises(MalformedMessage):
        CallbackCrypto.parse(b"not xml at all")
    with pytest.raises(MalformedMessage):
        CallbackCrypto.parse("<xml><Content>no type</Content></xml>")
    other_key = base64.b64encode(b"k" * 32).decode().rstrip("=")
    signed = sign_aes(text_xml("x"), aes_key=other_key)
    with pytest.raises(DecryptError):
        crypto.unwrap(CallbackQuery.from_mapping(signed.params), signed.body)
    bogus = "<xml><Encrypt><![CDATA[!!notbase64!!]]></Encrypt></xml>"
    ts, nonce = str(int(time.time())), "1"
    query = CallbackQuery(
        timestamp=ts,
        nonce=nonce,
        msg_signature=signature_of(MP_TOKEN, ts, nonce, "!!notbase64!!"),
        encrypt_type="aes",
    )
    with pytest.raises(DecryptError):
        crypto.unwrap(query, bogus.encode())


def test_entities_are_not_expanded() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
        "<xml><MsgType>text</MsgType><FromUserName>u</FromUserName><Content>&a;</Content></xml>"
    )
    with pytest.raises(MalformedMessage):
        CallbackCrypto.parse(bomb)


def test_cdata_safe() -> None:
    text = "a]]>b"
    parsed = xmltodict.parse(f"<xml><C><![CDATA[{cdata_safe(text)}]]></C></xml>")
    assert parsed["xml"]["C"] == text


def test_config_errors() -> None:
    with pytest.raises(ValueError):
        CallbackCrypto("", None, MP_APP_ID)
    with pytest.raises(ValueError):
        CallbackCrypto(MP_TOKEN, "short", MP_APP_ID)
    with pytest.raises(ValueError):
        CallbackCrypto(MP_TOKEN, None, "corp", enterprise=True)
