"""A case's timeline replayed from the command line with `tousu sweep` and TOUSU_NOW, across
the 2026 National Day holiday and its make-up Saturday (调休)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_console_cli import tousu


def events(tmp_path: Path, number: str) -> list[dict[str, object]]:
    shown = json.loads(tousu(tmp_path, "cases", "show", number, "--json"))
    return [e for e in shown["events"] if e["type"] in ("reminder", "escalated", "tier_raised")]


@pytest.mark.slow
def test_deadline_and_ladder_across_national_day(tmp_path: Path) -> None:
    filed = "2026-09-29T10:00:00+08:00"
    tousu(tmp_path, "init", "--pack", "school", now=filed)
    tousu(tmp_path, "chat", "--as", "parent", now=filed, stdin="\n".join([
        "1", "安全办", "放学时门卫不在岗，孩子差点被陌生人接走", "说完了", "加强管理", "1", "1",
        ""]))
    shown = json.loads(tousu(tmp_path, "cases", "show", "2609-0001", "--json"))
    # 7 working days, the day of receipt not counted: 9-30; 10-1..10-7 is the holiday;
    # 10-8, 10-9, Saturday 10-10 (a make-up working day), 10-12, 10-13, 10-14
    assert shown["due"]["resolution"] == "2026-10-14T17:30:00+08:00"
    assert shown["handler"] == "zheng"

    def sweep_at(now: str) -> list[tuple[object, ...]]:
        tousu(tmp_path, "sweep", now=now)
        return [(e["type"], e.get("data", {}).get("percent"),  # type: ignore[union-attr]
                 e.get("data", {}).get("to")) for e in events(tmp_path, "2609-0001")]  # type: ignore[union-attr]

    # first response due 12:00 (安全管理: 2 hours): 50% at 11:00, 90% at 11:48
    assert sweep_at("2026-09-29T11:50:00+08:00") == [
        ("reminder", 50, "zheng"), ("reminder", 90, "zheng")]
    after_week = sweep_at("2026-10-06T10:01:00+08:00")
    assert after_week[-1] == ("tier_raised", None, "热点")  # unresolved after one week
    # 50% of 9-29 10:00 -> 10-14 17:30 (367.5 h) is 10-7 01:45
    assert sweep_at("2026-10-07T01:46:00+08:00")[-1] == ("reminder", 50, "zheng")
    at_due = sweep_at("2026-10-14T17:31:00+08:00")
    assert at_due[-2:] == [("reminder", 90, "zheng"), ("escalated", 100, "head")]
    assert sweep_at("2026-10-14T17:32:00+08:00") == at_due  # nothing twice
    # a long downtime: each missed step is caught up once, in time order: 150% (10-22
    # 05:15), unresolved a month (10-29 10:00), 200% (10-29 21:00)
    final = sweep_at("2026-10-30T09:00:00+08:00")
    assert final[len(at_due):] == [("escalated", 150, "managers"),
                                   ("tier_raised", None, "重大"),
                                   ("escalated", 200, "director")]
