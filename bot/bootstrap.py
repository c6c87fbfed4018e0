"""The one wiring place: settings -> pack, database, core services, dialog engine, outbox.

Nothing connects or loads at import time; build_app() does it all.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.cn_calendar import ChineseOfficialCalendar
from bot.dialogs.engine import DialogEngine
from bot.dialogs.render import Renderer
from bot.digests import Digests
from bot.dispatcher import OutboxDispatcher
from bot.i18n import Catalogue
from bot.notify import NoticeWriter
from bot.packs import LoadedPack, load_pack
from bot.settings import Settings
from bot.sweeper import Sweeper
from core.cases.service import CaseService
from core.cases.workcal import WorkingCalendar
from core.clock import Clock, FixedClock, SystemClock
from core.pack import Pack, Role, StaffMember
from core.routing.classifier import Classifier
from core.routing.keyword_classifier import KeywordClassifier, match_target
from storage.db import make_engine
from storage.migrate import upgrade
from storage.outbox import ClaimedRow, OutboxStore
from storage.tables import MetaRow, StaffRow
from storage.uow import SqlUnitOfWork

log = logging.getLogger(__name__)
DEFAULT_PACK = "school"


@dataclass
class App:
    settings: Settings
    loaded: LoadedPack
    pack: Pack
    db: Engine
    clock: Clock
    calendar: WorkingCalendar
    catalogue: Catalogue
    renderer: Renderer
    service: CaseService
    classifier: Classifier
    engine: DialogEngine
    outbox: OutboxStore
    dispatcher: OutboxDispatcher
    notices: NoticeWriter
    sweeper: Sweeper

    @property
    def pack_raw(self) -> dict[str, Any]:
        return self.loaded.raw

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.db, self.notices, self.service.refresh_next_check)

    def invite(self, staff_id: str | None, role: str = "staff") -> str:
        """A one-time code that links a chat account to `staff_id` (or a group, role
        "managers_group")."""
        if role == "staff" and (staff_id is None or self.pack.member(staff_id) is None):
            raise ValueError(f"unknown staff id {staff_id!r}")
        code = secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")
        with self.uow() as uow:
            uow.directory.add_invite(code, staff_id, role, self.clock.now())
            uow.commit()
        return code


def make_clock(now: datetime | None) -> Clock:
    return FixedClock(now) if now is not None else SystemClock()


def stored_pack(db: Engine) -> str | None:
    with Session(db) as session:
        row = session.get(MetaRow, "pack")
        return row.value if row else None


def remember_pack(db: Engine, pack: str) -> None:
    with Session(db) as session:
        session.merge(MetaRow(key="pack", value=pack))
        session.commit()


def seed_staff(db: Engine, pack: Pack) -> int:
    """Copy the pack's staff into the staff table (existing records are kept)."""
    added = 0
    with Session(db) as session:
        known = {s.id for s in session.exec(select(StaffRow))}
        for m in pack.staff:
            if m.id not in known:
                session.add(staff_row(m))
                added += 1
        session.commit()
    return added


def link_configured_identities(db: Engine, raw: dict[str, Any], settings: Settings) -> None:
    """Staff WeCom user ids from the pack, and the WeCom group robot as the managers' group."""
    from storage.uow import SqlUnitOfWork

    now = datetime.now().astimezone()
    with SqlUnitOfWork(db) as uow:
        for member in raw.get("staff") or []:
            userid = member.get("wecom_userid")
            if userid and uow.directory.staff_for("wecom", str(userid)) != member["id"]:
                uow.directory.link("wecom", str(userid), member["id"], "staff", now)
        if settings.wecom_robot_key is not None and not uow.directory.is_manager_group(
                "wecom_robot", "default"):
            uow.directory.link("wecom_robot", "default", None, "managers_group", now)
        uow.session.commit()


def staff_row(m: StaffMember) -> StaffRow:
    return StaffRow(id=m.id, name=m.name, department=m.department,
                    roles=",".join(sorted(r.value for r in m.roles)), active=m.active,
                    see_phone=m.see_phone, aliases=",".join(m.aliases))


def with_db_staff(pack: Pack, db: Engine) -> Pack:
    """The staff table is the truth once initialised (tousu staff add edits it)."""
    with Session(db) as session:
        rows = list(session.exec(select(StaffRow)))
    if not rows:
        return pack
    staff = tuple(
        StaffMember(r.id, r.name, r.department,
                    frozenset(Role(x) for x in r.roles.split(",") if x), r.active, r.see_phone,
                    tuple(a for a in r.aliases.split(",") if a))
        for r in rows
    )
    return replace(pack, staff=staff)


def build_classifier(settings: Settings, pack: Pack, pack_dir: Path) -> Classifier:
    if settings.classifier == "keywords":
        return KeywordClassifier(pack)
    try:
        import nlp
    except ImportError:  # nlp is part of this repository; this only guards broken installs
        log.warning("nlp package unavailable; using plain keyword matching")
        return KeywordClassifier(pack)
    classifier: Classifier = nlp.build_classifier(pack, pack_dir)
    return classifier


def build_app(settings: Settings | None = None, *, migrate: bool = True,
              pack: str | None = None) -> App:
    settings = settings or Settings()
    db = make_engine(settings.database_url)
    if migrate:
        upgrade(db)
    pack_name = pack or settings.pack or stored_pack(db) or DEFAULT_PACK
    loaded = load_pack(pack_name)
    seed_staff(db, loaded.pack)
    the_pack = with_db_staff(loaded.pack, db)
    link_configured_identities(db, loaded.raw, settings)
    clock = make_clock(settings.now)
    calendar = WorkingCalendar.from_spec(
        the_pack.calendar, ZoneInfo(the_pack.timezone),
        ChineseOfficialCalendar() if the_pack.calendar.official == "cn" else None,
        warn=lambda msg: log.warning(msg),
    )
    catalogue = Catalogue(the_pack.texts)
    mask = _pii_masker()
    renderer = Renderer(the_pack, catalogue, mask)
    service = CaseService(the_pack, calendar, clock)
    classifier = build_classifier(settings, the_pack, loaded.dir)
    notices = NoticeWriter(the_pack, renderer, clock)

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(db, notices, service.refresh_next_check)

    resolve_target, find_dups, parse_corr = _nlp_helpers(the_pack, loaded.dir)
    engine = DialogEngine(
        uow_factory=uow_factory, service=service, pack=the_pack, catalogue=catalogue,
        clock=clock, classifier=classifier, renderer=renderer,
        resolve_target=resolve_target, find_duplicates=find_dups, parse_correction=parse_corr,
        default_locale=settings.locale,
    )
    store = OutboxStore(db)

    def on_unreachable(row: ClaimedRow) -> None:
        with uow_factory() as uow:
            uow.directory.mark_unreachable(row.channel, row.recipient)
            case = uow.cases.get(row.case_number) if row.case_number else None
            if case is not None and (case.complainant.channel, case.complainant.user_id) == (
                    row.channel, row.recipient):
                service.mark_unreachable(uow, case.number, row.channel)
            uow.commit()

    dispatcher = OutboxDispatcher(store, clock, on_unreachable)
    sweeper = Sweeper(uow_factory, service, clock, Digests(the_pack, renderer, notices, clock))
    return App(settings, loaded, the_pack, db, clock, calendar, catalogue, renderer, service,
               classifier, engine, store, dispatcher, notices, sweeper)


def _pii_masker() -> Any:
    try:
        from nlp.pii import mask_pii
    except ImportError:
        return None
    return mask_pii


def _nlp_helpers(pack: Pack, pack_dir: Path) -> tuple[Any, Any, Any]:
    """Target matching, duplicate finding and correction parsing from nlp/, when present."""
    try:
        import nlp
        from nlp.corrections import parse_correction
    except ImportError:
        return (lambda text: match_target(pack, text)), None, None

    def resolve_target(text: str) -> tuple[str, str] | None:
        found = nlp.find_target(pack, text)
        return (found.kind, found.id) if found is not None else None

    def find_duplicates(text: str, target: str,
                        candidates: list[tuple[str, str, str]]) -> list[tuple[str, float]]:
        return list(nlp.find_duplicates(pack, text, target, candidates))

    return resolve_target, find_duplicates, (lambda text: parse_correction(pack, text))
