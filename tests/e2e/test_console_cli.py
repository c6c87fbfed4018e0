"""The console contract through the real `tousu` command, in separate processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from storage.db import make_engine
from storage.tables import DialogStateRow

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, now: str = "2026-11-23T09:00:00+08:00") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUSU_")}
    env.update(TOUSU_DATABASE_URL=f"sqlite:///{tmp_path / 'tousu.db'}", TOUSU_NOW=now,
               TOUSU_CACHE_DIR=str(Path.home() / ".cache" / "tousu-tests"),
               PYTHONUNBUFFERED="1")
    return env


def tousu(tmp_path: Path, *args: str, stdin: str = "", now: str = "2026-11-23T09:00:00+08:00"
          ) -> str:
    result = subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin,
                            capture_output=True, text=True, cwd=tmp_path,
                            env=_env(tmp_path, now), timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_file_handle_rate_from_the_terminal(tmp_path: Path) -> None:
    tousu(tmp_path, "init", "--pack", "school")
    out = tousu(tmp_path, "chat", "--as", "parent", stdin="\n".join([
        "张妈妈", "13812345678", "食堂",
        "孩子说午餐的饭菜有异味，吃完拉肚子", "说完了", "希望整改", "1", "确认提交", ""]))
    assert "  1. 匿名投诉" in out  # choices are numbered lines
    assert "编号 2611-0001" in out and "2026年12月2日 17:30" in out

    staff = tousu(tmp_path, "chat", "--as", "ma", now="2026-11-23T10:00:00+08:00",
                  stdin="\n".join(["1", "6", "2", "已更换供应商并对厨房消毒，向家长致歉", ""]))
    # the assignment card arrives last, so "1" presses its first button (受理)
    assert "【新案件】" in staff and "138****5678" in staff
    assert "已办结（解释）" in staff

    parent = tousu(tmp_path, "chat", "--as", "parent", now="2026-11-23T11:00:00+08:00",
                   stdin="1\n")
    assert "已办理完毕" in parent and "请对投诉 2611-0001 的处理进行评价" in parent
    assert "感谢您的评价" in parent

    shown = json.loads(tousu(tmp_path, "cases", "show", "2611-0001", "--json"))
    assert shown["status"] == "closed" and shown["satisfaction"] == "满意"
    assert shown["complainant"] == {"name": "张妈妈", "contact": "+8613812345678",
                                    "anonymous": False, "channel": "console",
                                    "reachable": True}
    assert shown["due"]["resolution"] == "2026-12-02T17:30:00+08:00"
    for key in ("number", "tier", "category", "department", "handler", "target", "grievance"):
        assert key in shown
    assert [e["type"] for e in shown["events"]][:2] == ["registered", "assigned"]
    assert all({"type", "at", "actor"} <= set(e) for e in shown["events"])
    listed = json.loads(tousu(tmp_path, "cases", "list", "--json"))
    assert [c["number"] for c in listed] == ["2611-0001"]


@pytest.mark.slow
def test_killing_the_process_mid_dialog_loses_nothing(tmp_path: Path) -> None:
    tousu(tmp_path, "init", "--pack", "school")
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat", "--as", "dad"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=_env(tmp_path))
    assert proc.stdin is not None
    proc.stdin.write("李爸爸\n13912345678\n")
    proc.stdin.flush()
    engine = make_engine(f"sqlite:///{tmp_path / 'tousu.db'}")
    deadline = time.monotonic() + 60
    step = None
    while time.monotonic() < deadline:
        with Session(engine) as session:
            row = session.get(DialogStateRow, ("console", "dad"))
            step = row.step if row else None
        if step == "target":
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert step == "target"

    out = tousu(tmp_path, "chat", "--as", "dad", stdin="\n".join([
        "门卫", "放学时门卫不在岗", "说完了", "加强管理", "1", "1", ""]))
    assert "从上次中断的地方继续" in out
    shown = json.loads(tousu(tmp_path, "cases", "show", "2611-0001", "--json"))
    assert shown["complainant"]["name"] == "李爸爸"
    assert shown["complainant"]["contact"] == "+8613912345678"
    assert shown["target"] == "门卫"
