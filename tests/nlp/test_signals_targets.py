from __future__ import annotations

import nlp
from nlp.signals import find_signals, highest_tier


def _kinds(text: str) -> dict[str, tuple[str | None, int | None]]:
    return {s.kind: (s.tier, s.response_minutes) for s in find_signals(text)}


def test_media_and_legal_are_hot_and_done_deeds_major() -> None:
    assert _kinds("再不解决我就找记者曝光")["media"][0] == "热点"
    assert _kinds("我已经请了律师准备起诉")["legal"][0] == "热点"
    assert _kinds("我们已经向法院起诉了")["legal"][0] == "重大"
    assert highest_tier(find_signals("这事已经上了新闻")) == "重大"


def test_collective_by_size() -> None:
    assert _kinds("我们多名家长联名投诉")["collective"][0] == "热点"
    assert _kinds("二十多户业主一起反映")["collective"][0] == "重大"
    assert "collective" not in _kinds("老师一个人看三十个孩子")


def test_urgent_onsite_response_times() -> None:
    assert _kinds("我们楼停水一整天了")["urgent_onsite"] == (None, 60)
    assert _kinds("楼道里有燃气泄漏的味道")["emergency"] == (None, 30)
    assert _kinds("有人被困电梯里出不来")["emergency"] == (None, 30)
    assert not find_signals("电梯按钮有点脏")


def test_injury_and_negation() -> None:
    assert _kinds("孩子摔伤了膝盖流血")["injury"][0] == "重要"
    assert _kinds("孩子手臂骨折")["injury"][0] == "热点"
    assert "media" not in _kinds("我不想找媒体，只想解决问题")


def test_find_target_exact_typo_and_homophone(school) -> None:
    pack, _ = school
    exact = nlp.find_target(pack, "就是那个王老师")
    assert exact is not None and (exact.kind, exact.id, exact.score) == ("staff", "wang", 1.0)
    homophone = nlp.find_target(pack, "汪老师")
    assert homophone is not None and homophone.id == "wang" and homophone.score < 1.0
    dept = nlp.find_target(pack, "财物室")
    assert dept is not None and (dept.kind, dept.id) == ("department", "finance")
    assert nlp.find_target(pack, "李老师") is None
    assert nlp.find_target(pack, "") is None
