"""The `tousu` command line (typer)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Annotated, Any, Optional

import typer

app = typer.Typer(help="tousu: complaints filed by chat, routed, tracked, answered and revisited.",
                  no_args_is_help=True, add_completion=False)
cases_app = typer.Typer(help="Look at cases and their event history.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff records and chat-account links.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(staff_app, name="staff")


def _app(pack: str | None = None) -> Any:
    from bot.bootstrap import build_app
    from bot.packs import PackError

    try:
        return build_app(pack=pack)
    except PackError as exc:
        typer.echo(f"Pack error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _setup_logging() -> None:
    from bot.settings import Settings

    logging.basicConfig(level=Settings().log_level.upper(), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("jieba", "alembic", "httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def _main() -> None:
    _setup_logging()


@app.command()
def init(pack: Annotated[str, typer.Option(help="Pack name (school, property, hospital, "
                                                  "hotline) or a path to a pack directory.")]
         = "school") -> None:
    """Create or upgrade the database, choose the organisation pack and load its staff."""
    from bot.bootstrap import remember_pack

    the_app = _app(pack)
    remember_pack(the_app.db, pack)
    p = the_app.pack
    typer.echo(f"Database ready: {the_app.settings.database_url}")
    typer.echo(f"Pack: {p.id} ({p.name}), {len(p.departments)} departments, "
               f"{len(p.categories)} categories, {len(p.staff)} staff")
    for m in p.staff:
        roles = ",".join(sorted(r.value for r in m.roles))
        typer.echo(f"  {m.id:<10} {m.name:<8} {m.department or '-':<12} {roles}")
    typer.echo("Next: `tousu chat` to file a complaint, `tousu chat --as <staff id>` to handle it.")


@app.command()
def chat(
    as_: Annotated[str, typer.Option("--as", help="Who you are: a staff id from the pack, or "
                                                  "any name for a complainant.")] = "me",
    lang: Annotated[Optional[str], typer.Option(help="zh-CN or en")] = None,
) -> None:
    """Talk to the bot in this terminal (or feed it lines on standard input)."""
    from bot.handlers.console import CHANNEL, ConsoleSender, ConsoleSession

    the_app = _app()
    session = ConsoleSession(the_app.engine, as_, sys.stdout, tick=lambda: None, language=lang)
    the_app.dispatcher.register(ConsoleSender(as_, sys.stdout, the_app.engine, session.lock))

    def tick() -> None:
        the_app.sweeper.run_once()
        asyncio.run(the_app.dispatcher.dispatch_once([CHANNEL], as_))

    session.tick = tick
    interactive = sys.stdin.isatty()
    if interactive:
        typer.echo(f"[tousu chat as {as_!r}; Ctrl-D to leave]\n")
    session.run(sys.stdin, poll_seconds=2.0 if interactive else None)


@app.command()
def sweep() -> None:
    """Run every time-driven step that is due at TOUSU_NOW (or now), once."""
    the_app = _app()
    report = the_app.sweeper.run_once()
    typer.echo(f"swept {report.cases} case(s), {report.steps} step(s) at "
               f"{the_app.clock.now().isoformat()}")


@app.command()
def report(
    period: Annotated[str, typer.Argument(help="monthly or weekly")] = "monthly",
    month: Annotated[Optional[str], typer.Option(help="YYYY-MM (default: this month)")] = None,
    week_of: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD: the week starting then")]
    = None,
    lang: Annotated[str, typer.Option(help="zh-CN or en")] = "zh-CN",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Period statistics as the institutions' report tables have them (DOMAIN.md §6)."""
    from datetime import datetime, timedelta

    from bot.reports import month_bounds, render_report, report_json
    from core.stats import period_report

    the_app = _app()
    now = the_app.clock.now().astimezone(the_app.renderer.tz)
    if period == "monthly":
        start, end = month_bounds(month or now.strftime("%Y-%m"), the_app.pack.timezone)
        title = "report.monthly_title"
    elif period == "weekly":
        first = (datetime.fromisoformat(week_of).replace(tzinfo=the_app.renderer.tz) if week_of
                 else (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                                    microsecond=0))
        start, end, title = first, first + timedelta(days=7), "report.weekly_title"
    else:
        typer.echo("Period must be monthly or weekly.", err=True)
        raise typer.Exit(2)
    with the_app.uow() as uow:
        result = period_report(uow.cases.for_period(start, end), start, end,
                               the_app.pack.households, uow.cases.root_causes(start, end))
    if as_json:
        typer.echo(json.dumps(report_json(result), ensure_ascii=False, indent=2))
    else:
        typer.echo(render_report(the_app.renderer, result, lang, title))


@app.command()
def serve() -> None:
    """Run the server: channels (webhooks/polling), the scheduler and the outbox dispatcher."""
    from bot.server import run

    run()


# -- cases ------------------------------------------------------------------------------


def case_json(the_app: Any, case: Any) -> dict[str, Any]:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(the_app.pack.timezone)

    def iso(value: Any) -> str | None:
        return value.astimezone(tz).isoformat() if value is not None else None

    c = case.complainant
    return {
        "number": case.number, "kind": case.kind.value, "status": case.status.value,
        "tier": case.tier.value, "category": case.category, "department": case.department,
        "handler": case.handler, "level": case.level,
        "complainant": {"name": c.name, "contact": c.contact, "anonymous": c.anonymous,
                        "channel": c.channel, "reachable": c.reachable},
        "complainants": case.complainants,
        "target": case.target, "grievance": case.grievance, "request": case.request,
        "evidence": [{"kind": e.kind, "ref": e.ref, "name": e.name} for e in case.evidence],
        "received_at": iso(case.received_at),
        "due": {"first_response": iso(case.due_first_response),
                "resolution": iso(case.due_resolution)},
        "first_response_at": iso(case.first_response_at), "resolved_at": iso(case.resolved_at),
        "closed_at": iso(case.closed_at),
        "outcome": case.outcome.value if case.outcome else None,
        "resolution": case.resolution,
        "satisfaction": case.satisfaction.value if case.satisfaction else None,
        "events": [{"seq": e.seq, "type": e.type, "at": iso(e.at), "actor": e.actor,
                    "data": e.data} for e in case.history()],
    }


@cases_app.command("list")
def cases_list(
    status: Annotated[Optional[str], typer.Option(help="Only cases in this status.")] = None,
    handler: Annotated[Optional[str], typer.Option(help="Only this handler's cases.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: int = 200,
) -> None:
    """List cases, newest first."""
    the_app = _app()
    with the_app.uow() as uow:
        rows = uow.cases.list_rows(status=status, handler=handler, limit=limit)
        cases = uow.cases.load_many(rows)
    if as_json:
        typer.echo(json.dumps([case_json(the_app, c) for c in cases], ensure_ascii=False,
                              indent=2))
        return
    if not cases:
        typer.echo("No cases.")
    r = the_app.renderer
    for c in cases:
        typer.echo(f"{c.number}  {c.status.value:<22} {c.tier.value}  "
                   f"{c.category or '-':<6} {r.department_name(c.department, 'zh-CN'):<8} "
                   f"{c.handler or '-':<8} due {r.when(c.due_resolution, 'en')}")


@cases_app.command("show")
def cases_show(number: str,
               as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
               ) -> None:
    """Show one case with its full event history."""
    the_app = _app()
    with the_app.uow() as uow:
        case = uow.cases.get(number)
    if case is None:
        typer.echo(f"No case {number}.", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(case_json(the_app, case), ensure_ascii=False, indent=2))
        return
    typer.echo(the_app.renderer.card(case, None, "zh-CN"))
    typer.echo("\nEvents:")
    for e in case.history():
        extra = ", ".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, "", [], {}))
        typer.echo(f"  {e.seq:>3}. {the_app.renderer.when(e.at, 'en')}  {e.type:<22} "
                   f"{e.actor:<14} {extra}")


@cases_app.command("merge")
def cases_merge(
    number: str,
    into: Annotated[str, typer.Option("--into", help="The case it joins")],
    by: Annotated[str, typer.Option("--by", help="Manager's staff id")],
    reason: Annotated[str, typer.Option(help="Why they are one matter")] = "same matter",
) -> None:
    """Merge a case into another about the same matter (counted once, complainants added)."""
    from core.cases.service import DomainError

    the_app = _app()
    try:
        with the_app.uow() as uow:
            target = the_app.service.merge(uow, number, into, by, reason)
            uow.commit()
    except DomainError as err:
        typer.echo(the_app.catalogue.t("en", err.code, **err.params), err=True)
        raise typer.Exit(2) from err
    typer.echo(f"{number} merged into {into} ({target.complainants} complainants, "
               f"tier {target.tier.value}).")


# -- staff ------------------------------------------------------------------------------


@staff_app.command("list")
def staff_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List staff and their linked chat accounts."""
    the_app = _app()
    with the_app.uow() as uow:
        links = {m.id: [f"{i.channel}:{i.address}" for i in uow.directory.identities_of(m.id)]
                 for m in the_app.pack.staff}
    out = [{"id": m.id, "name": m.name, "department": m.department,
            "roles": sorted(r.value for r in m.roles), "active": m.active,
            "see_phone": m.see_phone, "linked": links[m.id]} for m in the_app.pack.staff]
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for s in out:
        typer.echo(f"{s['id']:<10} {s['name']:<8} {s['department'] or '-':<12} "
                   f"{','.join(s['roles']):<24} {' '.join(s['linked']) or '-'}")


@staff_app.command("add")
def staff_add(
    staff_id: Annotated[str, typer.Argument(help="Short id, e.g. zhang")],
    name: Annotated[str, typer.Option(help="Display name, e.g. 张老师")],
    department: Annotated[str, typer.Option(help="Department id from the pack")],
    role: Annotated[Optional[list[str]],
                    typer.Option(help="handler, head, manager, director (repeatable)")] = None,
    see_phone: Annotated[bool, typer.Option(help="May see complainants' phone numbers")] = False,
) -> None:
    """Add (or update) a staff member."""
    from bot.bootstrap import staff_row
    from core.pack import Role, StaffMember

    the_app = _app()
    if the_app.pack.department(department) is None:
        known = ", ".join(d.id for d in the_app.pack.departments)
        typer.echo(f"Unknown department {department!r}; known: {known}", err=True)
        raise typer.Exit(2)
    try:
        roles = frozenset(Role(r) for r in role or ["handler"])
    except ValueError as exc:
        typer.echo(f"Unknown role: {exc}; use handler, head, manager or director", err=True)
        raise typer.Exit(2) from exc
    with the_app.uow() as uow:
        uow.directory.add_staff(staff_row(StaffMember(staff_id, name, department, roles,
                                                      True, see_phone)))
        uow.commit()
    typer.echo(f"Staff {staff_id} ({name}) saved in {department}.")


@staff_app.command("invite")
def staff_invite(
    staff_id: Annotated[Optional[str], typer.Argument(help="Staff id; omit with --group")] = None,
    group: Annotated[bool, typer.Option(help="A code that links a group chat as the "
                                             "managers' group")] = False,
) -> None:
    """Print a one-time code (and a Telegram deep link) that links a chat account."""
    the_app = _app()
    if group:
        code = the_app.invite(None, "managers_group")
        typer.echo(f"Code: {code}\nIn the managers' group chat, send: /link {code}")
        return
    if not staff_id:
        typer.echo("Give a staff id, or --group.", err=True)
        raise typer.Exit(2)
    try:
        code = the_app.invite(staff_id)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"Code: {code}")
    bot_name = None
    if the_app.settings.telegram_token is not None or the_app.settings.telegram_bot_username:
        from bot.handlers.telegram import fetch_bot_username

        try:
            bot_name = fetch_bot_username(the_app.settings)
        except Exception as exc:  # noqa: BLE001 - the code still works without the link
            typer.echo(f"(Telegram getMe failed: {exc}; no deep link)", err=True)
    if bot_name:
        typer.echo(f"Telegram: https://t.me/{bot_name}?start={code}")
    typer.echo(f"Or send to the bot: /start {code}")


def _register_optional() -> None:
    try:
        from bot.cli_nlp import register
    except ImportError:
        return
    register(app)


_register_optional()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
