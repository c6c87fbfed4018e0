"""Sweep cost vs. table size: one `Sweeper.run_once()` over N cases of which D are due.

For each backend and size the script creates a fresh database with the real schema
(alembic `storage.migrate.upgrade`, through `build_app`), bulk-loads N cases with their two
first events ("registered", "assigned") using raw executemany (SQLite) or COPY (PostgreSQL)
in streamed batches, makes exactly D of them due at a fixed `now`, then times ONE real
`app.sweeper.run_once()` (the same code the job runs) and checks that exactly D cases were
processed and that a second run does nothing. Every SQL statement the sweep issues is
captured and its plan (EXPLAIN QUERY PLAN / EXPLAIN) recorded, so a statement that scans the
table would show.

The loaded rows follow what the application itself would have stored: statuses mostly
closed (next_check_at NULL) or in progress (next_check_at in the future), and the due
cases' next_check_at is what the timeline computes (`core.cases.timeline.next_check`) for
  * resolved cases whose revisit survey is due (half of D), and
  * in-progress cases past 50% of their resolution time (a reminder is due; the other half).

    python bench/bench_sweep.py                               # 10k and 1M, sqlite + postgres
    python bench/bench_sweep.py --sizes 10000 --backends sqlite
    python bench/bench_sweep.py --plans-out /tmp/plans.json   # all plans, machine-readable

One JSON line per run goes to stdout; the plans of the sweep's statements go to stderr.
PostgreSQL: TOUSU_TEST_POSTGRES_URL or --pg-url (default postgresql://postgres@127.0.0.1/test);
a fresh schema is created for each run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, select, text  # noqa: E402
from sqlmodel import col  # noqa: E402

from bot.bootstrap import App, build_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.sweeper import Sweeper  # noqa: E402
from core.cases.deadlines import compute_due  # noqa: E402
from core.cases.model import Case, Complainant, Event, Kind, Status, Tier  # noqa: E402
from core.cases.timeline import due_milestones, next_check  # noqa: E402
from storage.tables import CaseRow  # noqa: E402

NOW = datetime.fromisoformat("2026-11-23T09:00:00+08:00")  # a Monday, as in the tests
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PG_URL = os.environ.get("TOUSU_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

CASE_COLS = (
    "id", "number", "kind", "status", "tier", "category", "department", "handler", "level",
    "target", "target_staff", "grievance", "request", "channel", "complainant_name",
    "complainant_contact", "anonymous", "complainant_channel", "complainant_user",
    "complainant_language", "complainant_reachable", "received_at", "due_first_response",
    "due_resolution", "first_response_at", "resolved_at", "closed_at", "paused_at",
    "next_check_at", "outcome", "resolution", "satisfaction", "complainants", "merged_into",
    "reopen_count", "evidence",
)
EVENT_COLS = ("case_id", "seq", "type", "at", "actor", "data")
TIME_COLS = {i for i, c in enumerate(CASE_COLS) if c in (
    "received_at", "due_first_response", "due_resolution", "first_response_at", "resolved_at",
    "closed_at", "paused_at", "next_check_at")}

# category -> (department, handlers, target, grievance) of the school pack
CATEGORIES = [
    ("师德师风", "moral", ("he", "lin"), "王老师", "孩子在午睡时被老师罚站，还被骂了"),
    ("劳动纪律", "teaching", ("wang", "liu"), "刘老师", "上课时老师一直在玩手机"),
    ("安全管理", "safety", ("zheng",), "门卫", "放学时门卫不在岗，孩子差点被陌生人接走"),
    ("收费管理", "finance", ("qian",), "财务室", "这个学期又多收了三百元资料费"),
    ("餐饮卫生", "logistics", ("ma",), "食堂", "午餐的饭菜有异味，好几个孩子吃完拉肚子"),
    ("后勤设施", "logistics", ("ma",), "教室空调", "教室空调坏了一个星期还没人修"),
    ("教学管理", "teaching", ("wang", "liu"), "教学部", "作业太多，孩子每天写到很晚"),
    ("其它", "office", ("wu",), "园长办公室", "家长会通知太晚"),
]


class Timeline:
    """The application's own timeline/deadline code, memoised for the bulk load."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._due: dict[tuple[datetime, str], tuple[datetime, datetime]] = {}
        self._next: dict[tuple[Any, ...], datetime | None] = {}

    def due(self, received: datetime, category: str) -> tuple[datetime, datetime]:
        key = (received, category)
        if key not in self._due:
            d = compute_due(self.app.pack.sla, self.app.calendar, received, category,
                            Tier.GENERAL.value)
            self._due[key] = (d.first_response.astimezone(UTC), d.resolution.astimezone(UTC))
        return self._due[key]

    def case(self, *, status: Status, received: datetime, category: str, handler: str,
             anonymous: bool, first_response_at: datetime | None = None,
             resolved_at: datetime | None = None, paused_at: datetime | None = None) -> Case:
        cat = next(c for c in CATEGORIES if c[0] == category)
        dfr, dres = self.due(received, category)
        case = Case(number="x", kind=Kind.COMPLAINT,
                    complainant=Complainant(None, None, anonymous, "console", "u"),
                    target=cat[3], grievance=cat[4], request="整改", received_at=received,
                    channel="console", status=status, category=category, department=cat[1],
                    handler=handler, due_first_response=dfr, due_resolution=dres,
                    first_response_at=first_response_at, resolved_at=resolved_at,
                    paused_at=paused_at)
        case.events = [Event("registered", received, "complainant", {}, 1),
                       Event("assigned", received, "system",
                             {"from": "registered", "to": "assigned", "handler": handler}, 2)]
        return case

    def first_pending(self, **kw: Any) -> datetime | None:
        """The earliest pending milestone: what the application stores as next_check_at."""
        key = tuple(sorted(kw.items()))
        if key not in self._next:
            case = self.case(**kw)
            at = next_check(case, self.app.pack, self.app.calendar, EPOCH)
            self._next[key] = at.astimezone(UTC) if at is not None else None
        return self._next[key]

    def due_steps(self, **kw: Any) -> int:
        return len(due_milestones(self.case(**kw), self.app.pack, self.app.calendar, NOW))


def generate(n: int, d: int, tl: Timeline, seed: int = 7
             ) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]], str, int]]:
    """(case row, its 2 events, kind of row, expected steps) for ids 1..n, exactly d due now.

    Datetimes are aware UTC. Due cases are spread evenly over the id range."""
    rnd = random.Random(seed)
    now = NOW.astimezone(UTC)
    stride = n // d if d else n + 1
    serials: dict[str, int] = {}
    payloads: dict[tuple[str, str, bool], tuple[str, str]] = {}
    for i in range(1, n + 1):
        ci = rnd.randrange(len(CATEGORIES))
        category, dept, handlers, target, grievance = CATEGORIES[ci]
        handler = handlers[i % len(handlers)]
        anonymous = rnd.random() < 0.1
        first = resolved = closed = paused = nxt = None
        outcome = resolution = satisfaction = None
        due_case = d > 0 and (i - 1) % stride == 0 and (i - 1) // stride < d
        steps = 0
        if due_case and ((i - 1) // stride) % 2 == 0:
            # resolved 1-2 days ago, complainant reachable: the revisit survey is due
            kind = "due_survey"
            anonymous = False
            status = Status.RESOLVED
            resolved = now - timedelta(minutes=10 * rnd.randrange(144, 288))
            received = resolved - timedelta(days=2, minutes=rnd.randrange(600))
            first = received + timedelta(hours=1)
            outcome, resolution = "解释", "已核实并整改"
        elif due_case:
            # in progress, received Tue 17 / Wed 18 Nov in office hours: past 50% of 7 working days
            kind = "due_reminder"
            status = Status.IN_PROGRESS
            received = (datetime(2026, 11, 17, 1, 0, tzinfo=UTC)  # 09:00 local
                        + timedelta(days=rnd.randrange(2), minutes=10 * rnd.randrange(48)))
            first = received + timedelta(hours=1)
        else:
            r = rnd.random()
            if r < 0.90:
                kind, status = "closed", Status.CLOSED
                received = now - timedelta(days=30, minutes=rnd.randrange(3 * 365 * 1440))
                first = received + timedelta(hours=1)
                resolved = received + timedelta(days=2)
                closed = received + timedelta(days=3)
                outcome, resolution, satisfaction = "支持", "已整改", "满意"
            elif r < 0.92:
                kind = "terminal"
                status = Status.WITHDRAWN if r < 0.91 else Status.NOT_ACCEPTED
                received = now - timedelta(days=30, minutes=rnd.randrange(3 * 365 * 1440))
                closed = received + timedelta(days=1)  # the service stamps closed_at
            elif r < 0.98:
                kind = "open"
                k = rnd.randrange(1, 432)  # received in the last 3 days, 10-minute steps
                received = now - timedelta(minutes=10 * k)
                status = rnd.choice((Status.ACCEPTED, Status.IN_PROGRESS, Status.IN_PROGRESS,
                                     Status.WAITING))
                first = received + timedelta(minutes=5)
                if status == Status.WAITING:
                    paused = received + timedelta(minutes=30)
                if first > now:
                    status, first, paused = Status.ASSIGNED, None, None
            else:
                # resolved, anonymous (no survey): closes 7 days after resolution
                kind, status, anonymous = "resolved_quiet", Status.RESOLVED, True
                resolved = now - timedelta(minutes=10 * rnd.randrange(1, 720))
                received = resolved - timedelta(days=2)
                first = received + timedelta(hours=1)
                outcome, resolution = "支持", "已整改"
        if kind in ("closed", "terminal"):
            dfr, dres = received + timedelta(hours=4), received + timedelta(days=9)
        else:
            dfr, dres = tl.due(received, category)
            kw = dict(status=status, received=received, category=category, handler=handler,
                      anonymous=anonymous, first_response_at=first, resolved_at=resolved,
                      paused_at=paused)
            nxt = tl.first_pending(**kw)
            if due_case:
                assert nxt is not None and nxt <= now, (kind, kw, nxt)
                steps = tl.due_steps(**kw)
            else:
                assert nxt is None or nxt > now, (kind, kw, nxt)
        local = received.astimezone(NOW.tzinfo)
        yymm = local.strftime("%y%m")
        serials[yymm] = serials.get(yymm, 0) + 1
        number = f"{yymm}-{serials[yymm]:04d}"
        user = f"wx{rnd.randrange(10**9):09d}"
        row = (
            i, number, Kind.COMPLAINT.value, status.value, Tier.GENERAL.value, category, dept,
            handler, 0, target, None, grievance, "整改", "console",
            None if anonymous else "张三", None if anonymous else "+8613812345678", anonymous,
            "console", user, "zh-CN", True, received, dfr, dres, first, resolved, closed,
            paused, nxt, outcome, resolution, satisfaction, 1, None, 0, "[]",
        )
        key = (category, handler, anonymous)
        if key not in payloads:
            payloads[key] = (
                json.dumps({"channel": "console", "category": category, "department": dept,
                            "anonymous": anonymous, "classification": {}}),
                json.dumps({"from": "registered", "to": "assigned", "handler": handler,
                            "department": dept, "level": 0, "reason": "registered"}))
        reg, asg = payloads[key]
        events = [(i, 1, "registered", received, "complainant", reg),
                  (i, 2, "assigned", received, "system", asg)]
        yield row, events, kind, steps


# -- loading -----------------------------------------------------------------------------

def _sqlite_ts(v: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format; values are UTC (the app stores UTC)
    return v.replace(tzinfo=None).isoformat(" ", "microseconds")


def load_sqlite(path: Path, rows: Iterator[Any], batch: int) -> dict[str, int]:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-262144")  # 256 MB page cache for the load only
    ins_case = (f"INSERT INTO cases ({', '.join(CASE_COLS)}) "
                f"VALUES ({', '.join('?' * len(CASE_COLS))})")
    ins_ev = (f"INSERT INTO case_events ({', '.join(EVENT_COLS)}) "
              f"VALUES ({', '.join('?' * len(EVENT_COLS))})")
    kinds: dict[str, int] = {}
    expected_steps = 0
    cases: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []

    def flush() -> None:
        con.execute("BEGIN")
        con.executemany(ins_case, cases)
        con.executemany(ins_ev, events)
        con.execute("COMMIT")
        cases.clear()
        events.clear()

    for row, evs, kind, steps in rows:
        kinds[kind] = kinds.get(kind, 0) + 1
        expected_steps += steps
        cases.append(tuple(_sqlite_ts(v) if j in TIME_COLS and v is not None else v
                           for j, v in enumerate(row)))
        events.extend((e[0], e[1], e[2], _sqlite_ts(e[3]), e[4], e[5]) for e in evs)
        if len(cases) >= batch:
            flush()
    if cases:
        flush()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return {**kinds, "expected_steps": expected_steps}


def load_postgres(url: str, rows: Iterator[Any], batch: int) -> dict[str, int]:
    import psycopg

    kinds: dict[str, int] = {}
    expected_steps = 0
    with psycopg.connect(url) as con, con.cursor() as cur:
        cases: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []

        def flush() -> None:
            with cur.copy(f"COPY cases ({', '.join(CASE_COLS)}) FROM STDIN") as cp:
                for r in cases:
                    cp.write_row(r)
            with cur.copy(f"COPY case_events ({', '.join(EVENT_COLS)}) FROM STDIN") as cp:
                for e in events:
                    cp.write_row(e)
            cases.clear()
            events.clear()

        for row, evs, kind, steps in rows:
            kinds[kind] = kinds.get(kind, 0) + 1
            expected_steps += steps
            cases.append(row)
            events.extend(evs)
            if len(cases) >= batch:
                flush()
        if cases:
            flush()
        # ids were given explicitly: move the sequence past them, as the app inserts later
        cur.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), "
                    "(SELECT max(id) FROM cases))")
        con.commit()
    return {**kinds, "expected_steps": expected_steps}


# -- plans -------------------------------------------------------------------------------

def explain(app: App, statement: str, params: Any) -> list[str]:
    raw = app.db.raw_connection()
    try:
        cur = raw.cursor()
        if app.db.dialect.name == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, params)
            return [str(r[-1]) for r in cur.fetchall()]
        cur.execute("EXPLAIN " + statement, params)
        return [str(r[0]) for r in cur.fetchall()]
    finally:
        raw.rollback()
        raw.close()


def due_query(app: App) -> tuple[str, Any]:
    """The due-selection query exactly as `due_for_check` builds it, compiled for the dialect."""
    q = (select(CaseRow.number)
         .where(col(CaseRow.next_check_at) <= NOW.astimezone(UTC))
         .order_by(col(CaseRow.next_check_at)).limit(1000))
    compiled = q.compile(dialect=app.db.dialect)
    if app.db.dialect.name == "sqlite":
        params: Any = tuple(
            _sqlite_ts(v) if isinstance(v, datetime) else v
            for v in (compiled.params[k] for k in compiled.positiontup or []))
    else:
        params = compiled.params
    return str(compiled), params


def explain_analyze_pg(app: App) -> list[str]:
    stmt, params = due_query(app)
    raw = app.db.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params)
        return [str(r[0]) for r in cur.fetchall()]
    finally:
        raw.rollback()
        raw.close()


class StatementLog:
    """Every statement the sweep sends: count, time in the driver, parameters of its first use."""

    def __init__(self) -> None:
        self.first: dict[str, Any] = {}
        self.count: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.total = 0
        self._t0 = 0.0

    def before(self, conn: Any, cursor: Any, statement: str, parameters: Any,
               context: Any, executemany: bool) -> None:
        self.total += 1
        self.count[statement] = self.count.get(statement, 0) + 1
        if statement not in self.first:
            self.first[statement] = (parameters, executemany)
        self._t0 = time.perf_counter()

    def after(self, conn: Any, cursor: Any, statement: str, parameters: Any,
              context: Any, executemany: bool) -> None:
        self.seconds[statement] = (self.seconds.get(statement, 0.0)
                                   + time.perf_counter() - self._t0)

    def attach(self, engine: Any) -> None:
        event.listen(engine, "before_cursor_execute", self.before)
        event.listen(engine, "after_cursor_execute", self.after)

    def detach(self, engine: Any) -> None:
        event.remove(engine, "before_cursor_execute", self.before)
        event.remove(engine, "after_cursor_execute", self.after)


class PhaseTimer:
    """Times the sweeper's digest step (if the sweeper has one) inside run_once."""

    def __init__(self, sweeper: Any) -> None:
        self.seconds = 0.0
        self.error: str | None = None
        digests = getattr(sweeper, "digests", None)
        self.present = digests is not None
        if digests is not None:
            inner = digests.run

            def timed(uow: Any) -> int:
                t0 = time.perf_counter()
                try:
                    return int(inner(uow))
                except Exception as exc:
                    self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    raise
                finally:
                    self.seconds += time.perf_counter() - t0

            digests.run = timed

    def take(self) -> float:
        s, self.seconds = self.seconds, 0.0
        return s


def full_or_timeline(app: App, phases: PhaseTimer) -> tuple[Any, float, str | None]:
    """app.sweeper.run_once() as wired; if it raises, the timeline part alone (no digests)."""
    t1 = time.perf_counter()
    try:
        return app.sweeper.run_once(), time.perf_counter() - t1, None
    except Exception as exc:  # noqa: BLE001 - reported in the result
        err = phases.error or f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    bare = Sweeper(app.sweeper.uow_factory, app.service, app.clock)
    t1 = time.perf_counter()
    return bare.run_once(), time.perf_counter() - t1, err


# -- one run -----------------------------------------------------------------------------

def run(backend: str, n: int, d: int, batch: int, pg_url: str, keep: bool) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="tousu-sweep-"))
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'tousu.db'}"
    else:
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in pg_url else "?"
        url = f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    try:
        app = build_app(Settings(_env_file=None, database_url=url, pack="school", now=NOW,
                                 classifier="keywords"))  # type: ignore[call-arg]
        tl = Timeline(app)
        t0 = time.perf_counter()
        rows = generate(n, d, tl)
        if backend == "sqlite":
            kinds = load_sqlite(tmp / "tousu.db", rows, batch)
        else:
            kinds = load_postgres(url, rows, batch)
        load_s = time.perf_counter() - t0
        analyze_s = 0.0
        plans: dict[str, Any] = {}
        stmt, params = due_query(app)
        if backend == "postgres":
            plans["due_query_before_analyze"] = explain(app, stmt, params)
            t1 = time.perf_counter()
            with app.db.begin() as conn:  # what autovacuum does after a bulk insert
                conn.execute(text("ANALYZE cases"))
                conn.execute(text("ANALYZE case_events"))
            analyze_s = time.perf_counter() - t1
        plans["due_query"] = explain(app, stmt, params)
        with app.db.connect() as conn:
            counted = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
            due_now = conn.execute(text(
                "SELECT count(*) FROM cases WHERE next_check_at <= :now"),
                {"now": _sqlite_ts(NOW.astimezone(UTC)) if backend == "sqlite"
                 else NOW}).scalar_one()
            outbox_before = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        assert counted == n, (counted, n)
        assert due_now == d, (due_now, d)
        # the due-selection query alone (cold-ish: first execution on this connection)
        with app.uow() as uow:
            t1 = time.perf_counter()
            got = uow.cases.due_for_check(NOW, 1000)
            due_query_ms = (time.perf_counter() - t1) * 1000
        assert len(got) == min(d, 1000)

        phases = PhaseTimer(app.sweeper)
        log = StatementLog()
        log.attach(app.db)
        report, sweep_s, error = full_or_timeline(app, phases)
        log.detach(app.db)
        digests_s = phases.take()
        phases.error = None
        again, again_s, again_error = full_or_timeline(app, phases)
        again_digests_s = phases.take()
        # the timeline part alone when nothing is due: one index probe
        bare = Sweeper(app.sweeper.uow_factory, app.service, app.clock)
        t1 = time.perf_counter()
        bare_again = bare.run_once()
        bare_again_s = time.perf_counter() - t1
        with app.db.connect() as conn:
            outbox_after = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
            events_after = conn.execute(text("SELECT count(*) FROM case_events")).scalar_one()
        assert report.cases == d, report
        assert report.steps == kinds["expected_steps"], (report, kinds)
        assert (again.cases, again.steps) == (0, 0), again
        assert (bare_again.cases, bare_again.steps) == (0, 0), bare_again

        statements = []
        for sql, (p, many) in log.first.items():
            entry: dict[str, Any] = {"sql": " ".join(sql.split()), "count": log.count[sql],
                                     "seconds": round(log.seconds.get(sql, 0.0), 4)}
            verb = sql.lstrip().split(None, 1)[0].upper()
            nparams = len(p) if isinstance(p, (tuple, list, dict)) else 0
            if nparams > 1000:
                entry["plan"] = [f"(not explained: {nparams} bind parameters)"]
            elif not many and verb in ("SELECT", "UPDATE", "DELETE", "INSERT"):
                try:
                    entry["plan"] = [ln if len(ln) < 240 else ln[:220] + " ...(truncated)"
                                     for ln in explain(app, sql, p)]
                except Exception as exc:  # noqa: BLE001 - a plan is informative only
                    entry["plan"] = [f"(explain failed: {str(exc).splitlines()[0][:200]})"]
            statements.append(entry)
        plans["sweep_statements"] = statements
        if backend == "postgres":
            plans["due_query_analyze_after_sweep"] = explain_analyze_pg(app)
        app.db.dispose()
        result = {
            "backend": backend, "n": n, "due": d,
            "load_s": round(load_s, 2), "analyze_s": round(analyze_s, 2),
            "sweep_s": round(sweep_s, 3), "cases": report.cases, "steps": report.steps,
            "skipped": report.skipped,
            "per_case_ms": round(sweep_s * 1000 / max(report.cases, 1), 3),
            "digests_present": phases.present,
            "digests_s": round(digests_s, 3),
            "timeline_s": round(sweep_s - digests_s, 3) if error is None else round(sweep_s, 3),
            "timeline_per_case_ms": round((sweep_s - (digests_s if error is None else 0))
                                          * 1000 / max(report.cases, 1), 3),
            "error": error,
            "second_run": {"cases": again.cases, "steps": again.steps,
                           "ms": round(again_s * 1000, 2),
                           "digests_ms": round(again_digests_s * 1000, 2),
                           "error": again_error},
            "second_run_timeline_only_ms": round(bare_again_s * 1000, 2),
            "due_query_ms": round(due_query_ms, 2),
            "statements": log.total,
            "statements_per_case": round(log.total / max(report.cases, 1), 2),
            "events_written": events_after - 2 * n,
            "outbox_written": outbox_after - outbox_before,
            "rows": {k: v for k, v in kinds.items() if k != "expected_steps"},
            "due_plan": plans["due_query"],
        }
        return {"result": result, "plans": plans}
    finally:
        if schema is not None and not keep:
            import psycopg

            with psycopg.connect(pg_url, autocommit=True) as c:
                c.execute(f'DROP SCHEMA "{schema}" CASCADE')
        if not keep:
            for p in sorted(tmp.glob("*")):
                p.unlink()
            tmp.rmdir()


def print_plans(result: dict[str, Any], plans: dict[str, Any]) -> None:
    out = sys.stderr
    print(f"\n== {result['backend']} N={result['n']} D={result['due']}: plans", file=out)
    for key in ("due_query_before_analyze", "due_query", "due_query_analyze_after_sweep"):
        if key in plans:
            print(f"-- {key}", file=out)
            for line in plans[key]:
                print(f"   {line}", file=out)
    print("-- statements issued by the sweep (count, plan)", file=out)
    for s in plans["sweep_statements"]:
        print(f" [{s['count']:>5} x, {s['seconds']:8.3f} s] {s['sql'][:150]}", file=out)
        for line in s.get("plan", []):
            print(f"         {line}", file=out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,1000000",
                    help="comma-separated numbers of cases (default 10000,1000000)")
    ap.add_argument("--due", type=int, default=1000, help="cases due now (default 1000)")
    ap.add_argument("--backends", default="sqlite,postgres", help="sqlite,postgres")
    ap.add_argument("--batch", type=int, default=20000, help="rows per load batch")
    ap.add_argument("--pg-url", default=PG_URL)
    ap.add_argument("--plans-out", help="write every run's plans as JSON to this file")
    ap.add_argument("--keep", action="store_true", help="keep the databases (debugging)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("sqlite", "postgres"):
            ap.error(f"unknown backend {b!r}")
    all_plans = []
    for backend in backends:
        for n in sizes:
            if args.due > n:
                ap.error(f"--due {args.due} > size {n}")
            out = run(backend, n, args.due, args.batch, args.pg_url, args.keep)
            print(json.dumps(out["result"], ensure_ascii=False), flush=True)
            print_plans(out["result"], out["plans"])
            all_plans.append({"backend": backend, "n": n, "due": args.due, **out["plans"]})
    if args.plans_out:
        Path(args.plans_out).write_text(json.dumps(all_plans, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
