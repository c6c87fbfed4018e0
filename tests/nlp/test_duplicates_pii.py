from __future__ import annotations

import nlp
from nlp.pii import find_pii, mask_pii


def test_similarity_ranks_paraphrase_above_unrelated(school) -> None:
    pack, _ = school
    a = "食堂的饭菜里有虫子，孩子吃了拉肚子"
    same = "孩子在食堂吃的饭菜里发现虫子，回家就拉肚子了"
    other = "校车司机开车打电话，孩子没系安全带"
    s_same, s_other = nlp.similarity(pack, a, same), nlp.similarity(pack, a, other)
    assert 0.0 <= s_other < s_same <= 1.0
    assert nlp.similarity(pack, a, a) > 0.99


def test_find_duplicates_needs_same_target(school) -> None:
    pack, _ = school
    text = "王老师上课时间一直玩手机，不管孩子"
    cands = [
        ("2601-0001", "王老师上课老是玩手机，孩子没人管", "王老师"),
        ("2601-0002", "王老师上课老是玩手机，孩子没人管", "刘老师"),
        ("2601-0003", "食堂饭菜太咸了", "汪老师"),
        ("2601-0004", "上课时王老师一直在玩手机", "汪老师"),  # typo of the same person
    ]
    found = dict(nlp.find_duplicates(pack, text, "王老师", cands))
    assert set(found) == {"2601-0001", "2601-0004"}
    assert nlp.tier_for_complainants(2) is None
    assert nlp.tier_for_complainants(3) == "热点" and nlp.tier_for_complainants(10) == "重大"


def test_pii_kinds_and_masks() -> None:
    text = ("我叫张三，电话13812345678，身份证11010519491231002X，"
            "住浙江省杭州市西湖区文三路100号3幢2单元501室，邮箱zs@example.com，座机0571-87654321")
    kinds = [s.kind for s in find_pii(text)]
    assert kinds == ["phone", "id_card", "address", "email", "phone"]
    masked = mask_pii(text)
    assert "138****5678" in masked and "1101**********002X" in masked
    assert "杭州市西湖区***" in masked and "文三路" not in masked
    assert "13812345678" not in masked and "87654321" not in masked


def test_pii_rejects_bad_checksum_and_plain_numbers() -> None:
    assert not [s for s in find_pii("编号110105194912310021") if s.kind == "id_card"]
    assert find_pii("我交了300块，等了2个小时") == []
