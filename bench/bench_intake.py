"""Intake throughput: N simulated complainants through full intake dialogs.

Each message goes through the real dialog engine and storage (SQLite file, WAL), one
transaction per message, exactly as a channel adapter would drive it. For comparison the
same writes are then made with raw sqlite3 statements (the ceiling the ORM stack sits under).

    python bench/bench_intake.py --complainants 300
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.bootstrap import build_app  # noqa: E402
from bot.dialogs.types import Inbound  # noqa: E402
from bot.settings import Settings  # noqa: E402

NOW = datetime.fromisoformat("2026-11-23T09:00:00+08:00")
GRIEVANCES = [
    "孩子在午睡时被老师罚站，还被骂了，回家一直哭",
    "午餐的饭菜有异味，好几个孩子吃完拉肚子",
    "这个学期又多收了三百元资料费，没有任何说明",
    "放学时门卫不在岗，孩子差点被陌生人接走",
    "教室空调坏了一个星期还没人修，孩子热得满头大汗",
]


TARGETS = ["小一班", "小二班", "中一班", "中二班", "大一班", "大二班", "食堂", "门卫",
           "财务室", "后勤部", "园长办公室", "校车"]


def script(i: int) -> list[tuple[str | None, str | None]]:
    """(text, choice) pairs for one complainant's whole intake."""
    grievance = f"{GRIEVANCES[i % len(GRIEVANCES)]}（{i % 28 + 1}日）"
    return [("/start", None), (f"家长{i}", None), (f"1381234{i % 10000:04d}", None),
            (TARGETS[i % len(TARGETS)], None), (grievance, None), (None, "done"),
            ("希望尽快处理并给个说法", None), (None, "CATEGORY"), (None, "yes")]


def run_engine(n: int, db: Path, classifier: str) -> tuple[list[float], float]:
    app = build_app(Settings(_env_file=None,  # type: ignore[call-arg]
                             database_url=f"sqlite:///{db}",
                             pack="school", now=NOW, classifier=classifier))
    # what a server does once at start-up: load the classifier and jieba's dictionary
    app.engine.classifier.classify("预热", title="预热")
    if app.engine.find_duplicates is not None:
        app.engine.find_duplicates("预热", "预热", [("0", "预热", "预热")])
    latencies: list[float] = []
    update = 0
    started = time.perf_counter()
    for i in range(n):
        last_choices: list[str] = []
        for text, choice in script(i):
            if choice == "CATEGORY":
                choice = next(k for k in last_choices if k.startswith("cat:"))
            if choice == "yes" and "new" in last_choices:  # similar open cases were offered
                update += 1
                t0 = time.perf_counter()
                replies = app.engine.handle(Inbound("bench", f"user{i}", choice="new",
                                                    update_id=str(update)))
                latencies.append(time.perf_counter() - t0)
            update += 1
            t0 = time.perf_counter()
            replies = app.engine.handle(Inbound("bench", f"user{i}", text=text, choice=choice,
                                                update_id=str(update)))
            latencies.append(time.perf_counter() - t0)
            last_choices = [c.key for r in replies for c in r.choices]
    elapsed = time.perf_counter() - started
    with app.uow() as uow:
        assert len(uow.cases.list_rows(limit=n + 1)) == n, "every intake must register a case"
    return latencies, elapsed


def run_raw(n: int, db: Path) -> tuple[list[float], float]:
    """The same rows written with hand-written SQL: dedupe row + dialog state per message;
    counter, case, two events and one outbox row at registration."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript("""
        CREATE TABLE seen (channel TEXT, update_id TEXT, seen_at TEXT,
                           PRIMARY KEY (channel, update_id));
        CREATE TABLE states (channel TEXT, user_id TEXT, flow TEXT, step TEXT, data TEXT,
                             updated_at TEXT, PRIMARY KEY (channel, user_id));
        CREATE TABLE counters (scope TEXT PRIMARY KEY, value INTEGER);
        CREATE TABLE cases (id INTEGER PRIMARY KEY, number TEXT UNIQUE, body TEXT);
        CREATE TABLE events (id INTEGER PRIMARY KEY, case_id INTEGER, seq INTEGER, type TEXT,
                             data TEXT);
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, dedupe_key TEXT UNIQUE, payload TEXT);
    """)
    latencies: list[float] = []
    update = 0
    started = time.perf_counter()
    for i in range(n):
        data: dict[str, object] = {"grievance": []}
        steps = script(i)
        for k, (text, _choice) in enumerate(steps):
            update += 1
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO seen VALUES ('bench', ?, '2026-11-23')", (str(update),))
            row = conn.execute("SELECT data FROM states WHERE channel='bench' AND user_id=?",
                               (f"user{i}",)).fetchone()
            if row:
                data = json.loads(row[0])
            data[f"s{k}"] = text
            conn.execute("INSERT OR REPLACE INTO states VALUES ('bench', ?, 'intake', ?, ?, "
                         "'2026-11-23')", (f"user{i}", str(k), json.dumps(data)))
            if k == len(steps) - 1:
                conn.execute("INSERT OR IGNORE INTO counters VALUES ('202611', 0)")
                serial = conn.execute("UPDATE counters SET value = value + 1 WHERE scope = "
                                      "'202611' RETURNING value").fetchone()[0]
                cur = conn.execute("INSERT INTO cases (number, body) VALUES (?, ?)",
                                   (f"2611-{serial:04d}", json.dumps(data)))
                for seq, kind in ((1, "registered"), (2, "assigned")):
                    conn.execute("INSERT INTO events (case_id, seq, type, data) VALUES "
                                 "(?, ?, ?, '{}')", (cur.lastrowid, seq, kind))
                conn.execute("INSERT INTO outbox (dedupe_key, payload) VALUES (?, ?)",
                             (f"{serial}:2", json.dumps(data)))
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - t0)
    return latencies, time.perf_counter() - started


def summary(name: str, latencies: list[float], elapsed: float) -> dict[str, object]:
    qs = statistics.quantiles(latencies, n=100)
    return {"run": name, "messages": len(latencies), "seconds": round(elapsed, 3),
            "messages_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(qs[49] * 1000, 2), "p99_ms": round(qs[98] * 1000, 2),
            "max_ms": round(max(latencies) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--complainants", type=int, default=300)
    parser.add_argument("--classifier", choices=["nlp", "keywords"], default="nlp")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core
    with tempfile.TemporaryDirectory() as tmp:
        engine = summary(f"dialog engine + SQLModel ({args.classifier} classifier)",
                         *run_engine(args.complainants, Path(tmp) / "engine.db",
                                     args.classifier))
        raw = summary("raw sqlite3, same writes", *run_raw(args.complainants,
                                                           Path(tmp) / "raw.db"))
    for row in (engine, raw):
        print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
