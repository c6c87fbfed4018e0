"""Choosing who handles a case: category -> department -> handler, with recusal of the accused."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from core.pack import Pack, Role, StaffMember


def handlers_of(pack: Pack, department: str, exclude: Collection[str] = ()) -> list[StaffMember]:
    """Active handlers of a department, in pack order, minus the excluded (e.g. the accused)."""
    return [
        s
        for s in pack.staff
        if s.active and s.department == department and Role.HANDLER in s.roles
        and s.id not in exclude
    ]


def pick_handler(
    pack: Pack,
    department: str,
    *,
    exclude: Collection[str] = (),
    loads: Mapping[str, int] | None = None,
    last_assigned: str | None = None,
) -> str | None:
    """Pick a handler by the pack's strategy: round-robin (after `last_assigned`) or least-loaded.

    Department heads handle only when no plain handler is left (they are one level up).
    """
    candidates = handlers_of(pack, department, exclude)
    plain = [s for s in candidates if Role.HEAD not in s.roles and Role.MANAGER not in s.roles]
    pool = plain or candidates
    if not pool:
        return None
    if pack.routing_strategy == "least_loaded":
        counts = loads or {}
        return min(pool, key=lambda s: (counts.get(s.id, 0), pool.index(s))).id
    ids = [s.id for s in pool]
    if last_assigned in ids:
        return ids[(ids.index(last_assigned) + 1) % len(ids)]
    return ids[0]


def level_up(pack: Pack, department: str | None, level: int, exclude: Collection[str]) -> tuple[
    int, str | None
]:
    """Who handles a case one level above `level`: department head, then a manager, then a director.

    Skips anyone excluded (the accused, the handler the complainant was unhappy with).
    Returns (new level, staff id or None when nobody is left).
    """
    for next_level in range(level + 1, 4):
        who = holder_of_level(pack, department, next_level, exclude)
        if who is not None:
            return next_level, who
    return level + 1, None


def holder_of_level(
    pack: Pack, department: str | None, level: int, exclude: Collection[str]
) -> str | None:
    if level == 1 and department:
        dept = pack.department(department)
        head = dept.head if dept else None
        member = pack.member(head) if head else None
        if member is not None and member.active and member.id not in exclude:
            return member.id
        return None
    if level == 2:
        return next((m.id for m in pack.managers() if m.id not in exclude), None)
    if level == 3:
        return next((d.id for d in pack.directors() if d.id not in exclude), None)
    return None


def may_act_on(pack: Pack, staff_id: str, handler: str | None, accused: str | None) -> bool:
    """The current handler may act; managers and directors may too; the accused never."""
    if staff_id == accused:
        return False
    if staff_id == handler:
        return True
    member = pack.member(staff_id)
    return member is not None and bool({Role.MANAGER, Role.DIRECTOR} & member.roles)
