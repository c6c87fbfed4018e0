"""Pack files: the shipped packs load; a bad one names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.packs import PACKS_DIR, PackError, load_pack

DOMAIN_CATEGORIES = {
    "school": ["师德师风", "劳动纪律", "安全管理", "收费管理", "餐饮卫生", "后勤设施", "教学管理",
               "其它"],
    "property": ["房屋管理", "设备管理", "安全管理", "环境管理", "综合服务", "业户纠纷", "地产相关",
                 "其它"],
    "hospital": ["收费价格", "服务态度", "医疗质量", "药品管理", "就医环境", "其它"],
}


@pytest.mark.parametrize("name", sorted(DOMAIN_CATEGORIES))
def test_shipped_packs_use_the_domain_category_names(name: str) -> None:
    pack = load_pack(name).pack
    assert [c.name for c in pack.categories] == DOMAIN_CATEGORIES[name]
    for category in pack.categories:
        assert pack.department(category.department) is not None


def test_hotline_pack_has_the_fifteen_first_level_classes() -> None:
    pack = load_pack("hotline").pack
    assert len(pack.categories) == 15


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = (PACKS_DIR / "school" / "pack.yaml").read_text(encoding="utf-8")
    assert old in text
    directory = tmp_path / "broken"
    directory.mkdir()
    (directory / "pack.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return directory


def _line_of(path: Path, needle: str) -> int:
    lines = (path / "pack.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_unknown_department_reference_names_line_and_field(tmp_path: Path) -> None:
    d = _broken(tmp_path, "department: finance\n", "department: finanse\n")
    with pytest.raises(PackError) as err:
        load_pack(str(d))
    message = str(err.value)
    assert f"pack.yaml:{_line_of(d, 'finanse')}:" in message
    assert "categories.3.department" in message and "finanse" in message


def test_wrong_type_names_line_and_field(tmp_path: Path) -> None:
    d = _broken(tmp_path, "resolution: {amount: 7, unit: working_days}",
                "resolution: {amount: seven, unit: working_days}")
    with pytest.raises(PackError) as err:
        load_pack(str(d))
    assert f"pack.yaml:{_line_of(d, 'amount: seven')}:" in str(err.value)
    assert "sla.resolution.amount" in str(err.value)


def test_unknown_unit_and_invalid_yaml(tmp_path: Path) -> None:
    d = _broken(tmp_path, "unit: working_days}", "unit: fortnights}")
    with pytest.raises(PackError, match="sla.resolution.unit"):
        load_pack(str(d))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "pack.yaml").write_text("id: x\nname: [unclosed\n", encoding="utf-8")
    with pytest.raises(PackError, match="not valid YAML"):
        load_pack(str(bad))


def test_unknown_pack_name_lists_the_known_ones() -> None:
    with pytest.raises(PackError, match="known packs: .*school"):
        load_pack("no-such-pack")
